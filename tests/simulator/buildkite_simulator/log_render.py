"""A log's JSON and HTML renderings, produced chunk by chunk so that large logs stream.

Both renderings decode the stored bytes as UTF-8 and replace invalid bytes with U+FFFD. The
HTML rendering is a small subset of Buildkite's terminal-to-html. It escapes the text and turns
SGR colour codes into ``<span class="term-fgNN">`` elements. It drops timestamp markers and
other escape sequences, keeps only what a ``\\r`` progress bar shows last, and wraps the log in
``<div class="term-container">``.
"""

import codecs
import html
import json
import re

# CSI sequences (SGR colours end in "m"), APC sequences such as timestamp markers, OSC
# sequences, and any other ESC with the character after it.
_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[([0-9;?]*)([@-~])|_[^\x07]*\x07|\][^\x07\x1b]*(?:\x07|\x1b\\)|.)?")


def _utf8_decoder():
    return codecs.getincrementaldecoder("utf-8")(errors="replace")


def _json_escape(text):
    return json.dumps(text, ensure_ascii=False)[1:-1].encode()


def json_chunks(url, content, size, header_times):
    """Yield ``{"url", "content", "size", "header_times"}`` of the first ``size`` bytes of ``content``."""
    yield ('{"url":' + json.dumps(url, ensure_ascii=False) + ',"content":"').encode()
    decoder = _utf8_decoder()
    for chunk in content.chunks(0, size):
        text = decoder.decode(chunk)
        if text:
            yield _json_escape(text)
    text = decoder.decode(b"", final=True)
    if text:
        yield _json_escape(text)
    yield f'","size":{size},"header_times":{json.dumps(header_times, separators=(",", ":"))}}}'.encode()


class _Style:
    """The SGR attributes in effect: bold and the foreground and background colours, as CSS classes."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.bold = False
        self.foreground = None
        self.background = None

    def css_classes(self):
        classes = []
        if self.bold:
            classes.append("term-fg1")
        if self.foreground:
            classes.append(f"term-fg{self.foreground}")
        if self.background:
            classes.append(f"term-bg{self.background}")
        return " ".join(classes)

    def apply(self, parameters):
        """Apply the parameters of one SGR sequence, for example ``"1;31"``. An empty parameter means 0, a reset."""
        codes = [int(code) if code else 0 for code in parameters.split(";")]
        index = 0
        while index < len(codes):
            code = codes[index]
            if code == 0:
                self.reset()
            elif code == 1:
                self.bold = True
            elif code == 22:
                self.bold = False
            elif 30 <= code <= 37 or 90 <= code <= 97:
                self.foreground = str(code)
            elif code == 39:
                self.foreground = None
            elif 40 <= code <= 47 or 100 <= code <= 107:
                self.background = str(code)
            elif code == 49:
                self.background = None
            elif code in (38, 48) and index + 2 < len(codes) and codes[index + 1] == 5:
                # A 256-colour code: 38;5;N or 48;5;N.
                colour = f"x{codes[index + 2]}"
                if code == 38:
                    self.foreground = colour
                else:
                    self.background = colour
                index += 2
            index += 1


def _apply_escapes(text, style):
    """Apply the SGR sequences of text that is not shown (a part of a line that ``\\r`` overwrote)."""
    for match in _ESCAPE_SEQUENCE.finditer(text):
        if match.group(2) == "m" and "?" not in match.group(1):
            style.apply(match.group(1))


def render_line(line, style):
    """Return one line (without its ``\\n``) as HTML, updating ``style`` with its colour codes.

    After a ``\\r`` a terminal writes from the start of the line again. The line shows only the
    last non-empty part, which is what a finished progress bar leaves.
    """
    parts = line.split("\r")
    shown_index = max((index for index, part in enumerate(parts) if part), default=0)
    for hidden in parts[:shown_index]:
        _apply_escapes(hidden, style)
    shown = parts[shown_index]

    output = []
    open_classes = style.css_classes()
    if open_classes:
        output.append(f'<span class="{open_classes}">')
    position = 0
    for match in _ESCAPE_SEQUENCE.finditer(shown):
        text_end = match.start()
        output.append(html.escape(shown[position:text_end]))
        position = match.end()
        if match.group(2) != "m" or "?" in match.group(1):
            continue
        style.apply(match.group(1))
        new_classes = style.css_classes()
        if new_classes != open_classes:
            if open_classes:
                output.append("</span>")
            if new_classes:
                output.append(f'<span class="{new_classes}">')
            open_classes = new_classes
    output.append(html.escape(shown[position:]))
    if open_classes:
        output.append("</span>")
    return "".join(output)


def html_chunks(content, size):
    """Yield the HTML rendering of the first ``size`` bytes of ``content``, one line per output line."""
    yield b'<div class="term-container">'
    decoder = _utf8_decoder()
    style = _Style()
    partial_line = ""
    for chunk in content.chunks(0, size):
        lines = (partial_line + decoder.decode(chunk)).split("\n")
        partial_line = lines.pop()
        if lines:
            yield "".join(render_line(line, style) + "\n" for line in lines).encode()
    partial_line += decoder.decode(b"", final=True)
    if partial_line:
        yield render_line(partial_line, style).encode()
    yield b"</div>"
