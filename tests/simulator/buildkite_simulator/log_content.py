"""Job log contents: scenario text, timed lines and generated logs, read by byte range.

A log content object never changes after a scenario loads, so a response can stream from it
outside the simulator's lock. Three kinds exist:

- ``TextLog`` keeps its bytes in memory, with the second after the job's start at which each
  line appears, so the log of a running job grows with the clock;
- ``GeneratedLog`` computes any byte range of a log of realistic lines from its size and seed,
  without holding the log in memory;
- ``default_log`` builds the short log of a command job whose scenario gives none.
"""

import base64
import bisect
import math
import random
import re
from pathlib import Path

# Bytes that one chunk of a streamed log holds.
CHUNK_BYTES = 256 * 1024

# A section header line: "--- ", "+++ " or "~~~ ", after an optional timestamp marker
# (Buildkite's ESC _ bk;t=<Unix milliseconds> BEL).
_SECTION_HEADER = re.compile(rb"(?:\x1b_bk;t=(\d+)\x07)?(?:---|\+\+\+|~~~) ")

_LOG_SPEC_KEYS = ("file", "generate")
_GENERATE_KEYS = ("bytes", "seed")


def _seconds_to_nanoseconds(seconds):
    # A float of Unix seconds is precise to about a microsecond, so the last three digits are zeros.
    return round(seconds * 1_000_000) * 1000


class TextLog:
    """A log held in memory: its bytes, and the second after the job's start at which each line appears."""

    def __init__(self, timed_lines):
        """Take ``timed_lines``, a list of ``(line_bytes, second)`` with seconds in non-decreasing order."""
        self.data = b"".join(line for line, _second in timed_lines)
        self._line_ends = []
        self._line_seconds = []
        # Section header lines as (start offset, marker milliseconds or None, second).
        self._headers = []
        offset = 0
        for line, second in timed_lines:
            header = _SECTION_HEADER.match(line)
            if header:
                marker = header.group(1)
                self._headers.append((offset, int(marker) if marker else None, second))
            offset += len(line)
            self._line_ends.append(offset)
            self._line_seconds.append(second)

    @classmethod
    def from_bytes(cls, data, second=0.0):
        """Return the log of ``data``, every line of which appears at ``second``."""
        return cls([(line, second) for line in split_lines(data)])

    def size_at(self, elapsed):
        """Return the bytes visible ``elapsed`` seconds after the job's start, and 0 for None (not started)."""
        if elapsed is None:
            return 0
        visible_lines = bisect.bisect_right(self._line_seconds, elapsed)
        return self._line_ends[visible_lines - 1] if visible_lines else 0

    def chunks(self, start, end):
        """Yield the bytes from offset ``start`` up to ``end`` in chunks of at most CHUNK_BYTES."""
        view = memoryview(self.data)
        for offset in range(start, end, CHUNK_BYTES):
            stop = min(end, offset + CHUNK_BYTES)
            yield bytes(view[offset:stop])

    def header_times(self, size, started_at):
        """Return the Unix nanoseconds of each section header in the first ``size`` bytes.

        A header's time is its timestamp marker's, or the job's start plus the second its line appears.
        """
        times = []
        for offset, marker_milliseconds, second in self._headers:
            if offset >= size:
                break
            if marker_milliseconds is not None:
                times.append(marker_milliseconds * 1_000_000)
            else:
                times.append(_seconds_to_nanoseconds(started_at + second))
        return times


def split_lines(data):
    """Split bytes after each ``\\n``, keeping the line ends. A ``\\r`` alone does not end a line."""
    lines = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end == -1 else end + 1
        lines.append(data[start:end])
        start = end
    return lines


class GeneratedLog:
    """A log of ``size`` bytes of pytest-like output, computed from ``seed`` for any byte range.

    Every line is LINE_BYTES long, so the line that contains any offset is found by division and a
    suffix of N bytes costs O(N). Each line starts with a timestamp marker, every
    HEADER_EVERY-th line is a ``--- `` section header, and test results are coloured with ANSI
    codes; ``seed`` decides which results appear where. The last line is padded with spaces
    before its ``\\n`` to end exactly at ``size``, and a log shorter than one line is the first
    line cut short, ending with ``\\n``. Because 65536 is not a multiple of LINE_BYTES, the 64 KiB
    boundaries fall inside lines, and the first one (offset 65536, 16 bytes into line 546) falls
    inside a timestamp marker.
    """

    LINE_BYTES = 120
    HEADER_EVERY = 512
    # The results repeat every PATTERN_LINES lines, a multiple of HEADER_EVERY.
    PATTERN_LINES = 4096
    # The markers count from 2026-01-01T00:00:00Z, 3 ms per line, whatever the job's start, so
    # the bytes depend only on size and seed.
    BASE_MILLISECONDS = 1_767_225_600_000
    MILLISECONDS_PER_LINE = 3
    # Each line format takes (milliseconds, module number, line number, percent done).
    _MARKER = "\x1b_bk;t=%013d\x07"
    _HEADER = "--- :pytest: tests/unit/test_module_%04d.py (line %09d, %3d%%)"
    _TEST = "tests/unit/test_module_%04d.py::test_case_%09d "
    # Results and how many in 1000 test lines get them.
    _RESULTS = (
        ("\x1b[32mPASSED\x1b[0m", 900),
        ("\x1b[33mSKIPPED\x1b[0m", 60),
        ("\x1b[33mXFAIL\x1b[0m", 30),
        ("\x1b[31mFAILED\x1b[0m", 10),
    )

    def __init__(self, size, seed=0):
        self.size = size
        self.seed = seed
        self.line_count = 0 if size == 0 else max(1, size // self.LINE_BYTES)
        self._line_formats = self._make_line_formats(seed)

    @classmethod
    def _make_line_formats(cls, seed):
        """Return the format of each line of one pattern, every one LINE_BYTES long once formatted."""
        body_bytes = cls.LINE_BYTES - len(cls._MARKER % 0) - 1
        header = cls._MARKER + cls._HEADER + " " * (body_bytes - len(cls._HEADER % (0, 0, 0))) + "\n"
        tests = []
        for result, count in cls._RESULTS:
            # pytest pads with spaces before the percentage; the padding makes every line equally long.
            padding = body_bytes - len(cls._TEST % (0, 0)) - len(result) - len("[100%]")
            tests.extend([cls._MARKER + cls._TEST + result + " " * padding + "[%3d%%]\n"] * count)
        draw = random.Random(seed)
        formats = []
        for index in range(cls.PATTERN_LINES):
            formats.append(header if index % cls.HEADER_EVERY == 0 else draw.choice(tests))
        return formats

    def size_at(self, elapsed):
        """Return the visible bytes: the whole log once the job has started, else 0."""
        return 0 if elapsed is None else self.size

    def _text(self, first, last):
        """Return lines ``first`` up to ``last`` (exclusive) at their full LINE_BYTES, as text."""
        formats = self._line_formats
        pattern = self.PATTERN_LINES
        base = self.BASE_MILLISECONDS
        step = self.MILLISECONDS_PER_LINE
        line_count = self.line_count
        return "".join(
            [
                formats[index % pattern]
                % (base + index * step, (index >> 6) % 10000, index % 1_000_000_000, index * 100 // line_count)
                for index in range(first, last)
            ]
        )

    def _last_line(self):
        """Return the last line, padded or cut so that the log ends exactly at ``size``."""
        index = self.line_count - 1
        text = self._text(index, index + 1)
        length = self.size - index * self.LINE_BYTES
        if length >= self.LINE_BYTES:
            return text[:-1] + " " * (length - self.LINE_BYTES) + "\n"
        return text[: length - 1] + "\n"

    def _lines(self, first, last):
        """Return lines ``first`` up to ``last`` (exclusive) as bytes."""
        if last < self.line_count:
            return self._text(first, last).encode("ascii")
        return (self._text(first, last - 1) + self._last_line()).encode("ascii")

    def chunks(self, start, end):
        """Yield the bytes from offset ``start`` up to ``end``, computing only the lines they cover."""
        if start >= end:
            return
        lines_per_chunk = max(1, CHUNK_BYTES // self.LINE_BYTES)
        first_line = min(start // self.LINE_BYTES, self.line_count - 1)
        last_line = min((end - 1) // self.LINE_BYTES, self.line_count - 1)
        for batch_first in range(first_line, last_line + 1, lines_per_chunk):
            batch_last = min(batch_first + lines_per_chunk, last_line + 1)
            data = self._lines(batch_first, batch_last)
            batch_start = batch_first * self.LINE_BYTES
            first_byte = max(0, start - batch_start)
            stop_byte = end - batch_start
            yield data[first_byte:stop_byte]

    def header_times(self, size, started_at):
        """Return the nanoseconds of each section header's timestamp marker in the first ``size`` bytes."""
        visible_lines = min(self.line_count, math.ceil(size / self.LINE_BYTES))
        return [
            (self.BASE_MILLISECONDS + index * self.MILLISECONDS_PER_LINE) * 1_000_000
            for index in range(0, visible_lines, self.HEADER_EVERY)
        ]


def default_log(job):
    """Return the log of a command job whose scenario gives none: the agent's usual lines and the outcome.

    The outcome line appears when the job finishes, so it is visible only then.
    """
    definition = job.definition
    build = job.build
    duration = definition.running_seconds
    if job.started_at is not None and job.finished_at is not None:
        duration = job.finished_at - job.started_at
    checkout = f"/buildkite/builds/sim-agent-1/{build.organization}/{build.pipeline.slug}"
    lines = [
        ("~~~ Preparing working directory\n", 0.0),
        (f"$ cd {checkout}\n", 0.0),
        (f"$ git checkout -f {build.commit[:7]}\n", 0.0),
        ("--- Running commands\n", 0.0),
        (f"$ {definition.command or 'true'}\n", 0.0),
    ]
    exit_status, signal, _signal_reason = job.outcome_exit_details()
    if job.outcome == "failed":
        lines.append(("^^^ +++\n", duration))
        lines.append((f"\x1b[31m🚨 Error: The command exited with status {exit_status}\x1b[0m\n", duration))
    elif job.outcome in ("timed_out", "canceled"):
        reason = "Timed out" if job.outcome == "timed_out" else "Canceled"
        lines.append(("^^^ +++\n", duration))
        lines.append((f"\x1b[31m🚨 {reason}: the agent sent {signal} to the command\x1b[0m\n", duration))
    return TextLog([(text.encode(), second) for text, second in lines])


class LogSpecError(ValueError):
    """A scenario's log value that cannot be loaded; the message names the value by its place in the scenario."""


def parse_log_spec(value, logs_directory, where="log"):
    """Return the log content that a scenario log value describes, or raise LogSpecError naming ``where``.

    ``value`` is a string (the whole log, visible when the job starts), a list of lines (strings,
    or ``{"text", "at"}`` objects that appear ``at`` seconds after the start), ``{"file": name}``
    (a file under ``logs_directory``) or ``{"generate": {"bytes": N, "seed": S}}``.
    """
    if isinstance(value, str):
        return TextLog.from_bytes(value.encode())
    if isinstance(value, list):
        return _parse_timed_lines(value, where)
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _LOG_SPEC_KEYS:
        if "file" in value:
            return _read_log_file(value["file"], logs_directory, f"{where}.file")
        return _parse_generate(value["generate"], f"{where}.generate")
    raise LogSpecError(
        f'{where} must be a string, a list of lines, {{"file": "<name>"}} '
        f'or {{"generate": {{"bytes": N, "seed": S}}}}, got {value!r}'
    )


def _parse_timed_lines(items, where):
    timed_lines = []
    second = 0.0
    for index, item in enumerate(items):
        if isinstance(item, str):
            text = item
        elif isinstance(item, dict) and set(item) <= {"text", "at"} and isinstance(item.get("text"), str):
            text = item["text"]
            at = item.get("at", second)
            if isinstance(at, bool) or not isinstance(at, (int, float)) or at < second:
                raise LogSpecError(
                    f"{where}[{index}].at must be a number of seconds, no earlier than the line before ({second}), "
                    f"got {at!r}"
                )
            second = float(at)
        else:
            raise LogSpecError(f'{where}[{index}] must be a string or {{"text": "...", "at": seconds}}, got {item!r}')
        if not text.endswith("\n"):
            text += "\n"
        timed_lines.append((text.encode(), second))
    return TextLog(timed_lines)


def _read_log_file(name, logs_directory, where):
    if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts:
        raise LogSpecError(f"{where} must be the name of a file under {logs_directory}, got {name!r}")
    path = Path(logs_directory) / name
    try:
        data = path.read_bytes()
        # Logs with bytes that text files must not hold (CR, invalid UTF-8) are kept base64-encoded,
        # because ansible-test sanity rejects such bytes in any file of the collection.
        if name.endswith(".b64"):
            data = base64.b64decode(data)
        return TextLog.from_bytes(data)
    except (OSError, ValueError) as error:
        raise LogSpecError(f"{where}: cannot read log file {path}: {error}") from error


def _parse_generate(spec, where):
    if not isinstance(spec, dict) or not set(spec) <= set(_GENERATE_KEYS):
        raise LogSpecError(f'{where} must be {{"bytes": N, "seed": S}}, got {spec!r}')
    size = spec.get("bytes")
    seed = spec.get("seed", 0)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise LogSpecError(f"{where}.bytes must be an integer, 0 or more, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise LogSpecError(f"{where}.seed must be an integer, got {seed!r}")
    return GeneratedLog(size, seed)
