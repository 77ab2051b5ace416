# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Job logs: reading with bounded memory, tails through suffix ranges, and text clean-up.

Job logs run up to 1 GiB (the Buildkite agent's default limit), so nothing here keeps a whole
log in memory: content is cut to a window, tails are fetched with ``Range: bytes=-N``, and
files are written chunk by chunk.
"""

from __future__ import annotations

import hashlib
import json
import re

from ansible_collections.opskite.buildkite.plugins.module_utils._client import (
    ACCEPT_HTML,
    ACCEPT_JSON,
    ACCEPT_TEXT,
    BuildkiteBodyError,
    BuildkiteConnectionError,
    BuildkiteError,
    BuildkiteHTTPError,
)

CHUNK_SIZE = 1024 * 1024
# A JSON log response up to this many times max_bytes is read whole, which also gives
# header_times. A larger one is dropped, and a suffix range of max_bytes is read instead.
JSON_READ_FACTOR = 4
# First guess of the bytes per line when fetching a tail; the range grows fourfold until the
# requested lines are found.
TAIL_BYTES_PER_LINE = 256
# An escape sequence longer than this is not a sequence but stray bytes, so it is not carried
# over to the next chunk.
MAX_SEQUENCE = 512

# Terminal escape sequences in a log (ECMA-48): CSI (colours, cursor moves), string sequences
# ending in BEL or ST (OSC, and APC such as Buildkite's timestamp markers ESC _ bk;t=<ms> BEL),
# and the other escapes, whose final byte is not one that opens a CSI or string sequence.
# Buildkite's own CLI also strips the timestamp marker without its ESC _ prefix.
ESCAPE_SEQUENCE = re.compile(
    rb'\x1b\[[0-?]*[ -/]*[@-~]'
    rb'|\x1b[\]_P^X][^\x07\x1b]*(?:\x07|\x1b\\)'
    rb'|\x1b[ -/]*[0-OQ-WYZ\\`-~]'
    rb'|bk;t=[0-9]+\x07'
)
# The start of a bare timestamp marker that may continue in the next chunk.
PARTIAL_MARKER = re.compile(rb'b(?:k(?:;(?:t(?:=[0-9]*)?)?)?)?\Z')


class LogStripper(object):
    """Removes colour codes and timestamp markers from a log fed in chunks, and turns CRLF into LF.

    A sequence split between two chunks is kept back until the next chunk completes it, so the
    output is the same however the log is cut. No ESC byte is left in the output.
    """

    def __init__(self):
        self._carry = b''

    def feed(self, chunk):
        data = self._carry + chunk
        self._carry = b''
        cut = len(data)
        escape = data.rfind(b'\x1b')
        if escape != -1 and len(data) - escape <= MAX_SEQUENCE and not ESCAPE_SEQUENCE.match(data, escape):
            cut = escape
        marker = PARTIAL_MARKER.search(data)
        if marker:
            cut = min(cut, marker.start())
        if cut == len(data) and data.endswith(b'\r'):
            cut -= 1
        self._carry = data[cut:]
        return clean(data[:cut])

    def finish(self):
        data, self._carry = self._carry, b''
        return clean(data)


def clean(data):
    return ESCAPE_SEQUENCE.sub(b'', data).replace(b'\x1b', b'').replace(b'\r\n', b'\n')


def strip_log(data):
    """Return the log bytes without colour codes and timestamp markers, with LF line ends."""
    stripper = LogStripper()
    return stripper.feed(data) + stripper.finish()


def cut_to_window(data, max_bytes, more_before):
    """Return the last ``max_bytes`` of ``data`` starting at a line, and whether anything was cut.

    ``more_before`` means that ``data`` is already the end of a longer log. A cut never splits a
    UTF-8 sequence: when the window contains no line break, it starts at the next character.
    """
    truncated = more_before or len(data) > max_bytes
    if not truncated:
        return data, False
    window = data[-max_bytes:] if max_bytes else b''
    newline = window.find(b'\n')
    if newline != -1 and newline + 1 < len(window):
        return window[newline + 1 :], True
    start = 0
    while start < len(window) and 0x80 <= window[start] <= 0xBF:
        start += 1
    return window[start:], True


def decode(data):
    """Decode log bytes as UTF-8, with U+FFFD for invalid bytes."""
    return data.decode('utf-8', errors='replace')


def last_lines(data, count, complete):
    """Return the last ``count`` lines of ``data``, or None when it contains fewer.

    ``complete`` means that ``data`` is the whole log; otherwise its first line may be partial
    and does not count.
    """
    ends_with_newline = data.endswith(b'\n')
    lines = (data[:-1] if ends_with_newline else data).split(b'\n')
    if not complete:
        lines = lines[1:]
    if len(lines) < count:
        return None
    return b'\n'.join(lines[-count:]) + (b'\n' if ends_with_newline else b'')


def parse_content_range(value):
    """Return the total size from a ``Content-Range: bytes START-END/SIZE`` header, or None."""
    match = re.match(r'^bytes (?:\d+-\d+|\*)/(\d+)$', (value or '').strip())
    return int(match.group(1)) if match else None


def log_path(target, job_id, form):
    return target.job_path(job_id, {'json': '/log', 'text': '/log.txt', 'html': '/log.html'}[form])


def read_tail_bytes(client, target, job_id, window):
    """Fetch the last ``window`` bytes of the raw log; return (bytes, total size).

    An empty log gets 416 (Range Not Satisfiable), which is returned as (b'', 0).
    """
    try:
        response = client.request(
            'GET',
            target.job_path(job_id, '/log'),
            accept=ACCEPT_TEXT,
            headers={'Range': 'bytes=-%d' % window},
            ok_statuses=(200, 206),
        )
    except BuildkiteHTTPError as exc:
        if exc.status == 416:
            return b'', 0
        raise
    data = response.content
    size = parse_content_range(response.headers.get('Content-Range'))
    if size is None:
        size = len(data)
    if len(data) > window:
        data = data[-window:]
    return data, size


def read_content(client, target, job_id, form, max_bytes):
    """Read a log for the ``content`` result, keeping at most about ``max_bytes`` in memory.

    Returns a dict with content, truncated and size, and header_times when the API sent them.
    """
    if form == 'html':
        response = client.request('GET', log_path(target, job_id, 'html'), accept=ACCEPT_HTML, stream=True)
        data, more_before = read_last(client, response, max_bytes)
        window, truncated = cut_to_window(data, max_bytes, more_before)
        return {'content': decode(window), 'truncated': truncated}

    try:
        response = client.request('GET', log_path(target, job_id, 'json'), accept=ACCEPT_JSON, stream=True)
        result = read_small_json(client, response, max(max_bytes, 64 * 1024) * JSON_READ_FACTOR)
    except BuildkiteHTTPError as exc:
        # 413: the API will not render a log this large as JSON; its text form still serves the end.
        if exc.status != 413:
            raise
        result = None

    if isinstance(result, dict) and isinstance(result.get('content'), str):
        data = result['content'].encode('utf-8', errors='surrogateescape')
        if form == 'text':
            data = strip_log(data)
        window, truncated = cut_to_window(data, max_bytes, False)
        shaped = {'content': decode(window), 'truncated': truncated, 'size': result.get('size')}
        if result.get('header_times') is not None:
            shaped['header_times'] = result['header_times']
        return shaped

    data, size = read_tail_bytes(client, target, job_id, max_bytes)
    if form == 'text':
        data = strip_log(data)
    window, truncated = cut_to_window(data, max_bytes, size > max_bytes)
    return {'content': decode(window), 'truncated': truncated, 'size': size}


def read_small_json(client, response, limit):
    """Return the decoded JSON body when it is at most ``limit`` bytes, else None; the response is closed."""
    length = response.headers.get('Content-Length')
    if length is not None and length.isdigit() and int(length) > limit:
        response.close()
        return None
    body = bytearray()
    try:
        for chunk in client.iter_body(response, CHUNK_SIZE):
            body += chunk
            if len(body) > limit:
                return None
    except BuildkiteConnectionError:
        # The caller falls back to a Range request, which the client resends on its own.
        return None
    finally:
        response.close()
    try:
        return json.loads(body.decode('utf-8'))
    except ValueError:
        return None


def read_last(client, response, max_bytes):
    """Read a streamed response, keeping its last ``max_bytes``; return (bytes, whether more came before)."""
    kept = bytearray()
    dropped = False
    try:
        for chunk in client.iter_body(response, CHUNK_SIZE):
            kept += chunk
            if len(kept) > max_bytes:
                del kept[: len(kept) - max_bytes]
                dropped = True
    finally:
        response.close()
    return bytes(kept), dropped


def read_tail_lines(client, target, job_id, form, count, max_bytes):
    """Return the last ``count`` lines through growing suffix ranges, never reading more than ``max_bytes``."""
    window = min(max(count * TAIL_BYTES_PER_LINE, 4096), max_bytes)
    while True:
        data, size = read_tail_bytes(client, target, job_id, window)
        complete = size <= window
        if form == 'text':
            data = strip_log(data)

        lines = last_lines(data, count, complete)
        if lines is not None:
            return {'content': decode(lines), 'truncated': not complete or len(lines) < len(data), 'size': size}
        if complete:
            return {'content': decode(data), 'truncated': False, 'size': size}
        if window >= max_bytes:
            kept, _cut = cut_to_window(data, max_bytes, True)
            return {'content': decode(kept), 'truncated': True, 'size': size}
        window = min(window * 4, max_bytes)


def stream_to(client, target, job_id, form, handle, check_only=False):
    """Stream the log into ``handle`` (a binary file, or None to only hash); return (sha1 hex, bytes).

    A download cut off mid-body starts again from the beginning, up to ``api_retries`` times,
    as the client resends any other GET after a connection failure.
    """
    restarts = 0
    while True:
        try:
            return stream_once(client, target, job_id, form, handle, check_only)
        except BuildkiteBodyError as exc:
            if restarts >= client.api_retries:
                raise
            failure = exc
        delay = client.backoff_delay(restarts)
        client.warn('the log download failed (%s); downloading it again in %.1f s' % (failure, delay))
        client.pause(delay)
        restarts += 1
        if handle is not None and not check_only:
            handle.seek(0)
            handle.truncate()


def stream_once(client, target, job_id, form, handle, check_only):
    path = log_path(target, job_id, 'html' if form == 'html' else 'text')
    accept = ACCEPT_HTML if form == 'html' else ACCEPT_TEXT
    response = client.request('GET', path, accept=accept, stream=True)
    digest = hashlib.sha1()
    written = 0
    stripper = LogStripper() if form == 'text' else None
    try:
        for chunk in client.iter_body(response, CHUNK_SIZE):
            data = stripper.feed(chunk) if stripper else chunk
            digest.update(data)
            written += len(data)
            if handle is not None and not check_only:
                handle.write(data)
        if stripper:
            data = stripper.finish()
            digest.update(data)
            written += len(data)
            if handle is not None and not check_only:
                handle.write(data)
    finally:
        response.close()
    return digest.hexdigest(), written


def log_size(client, target, job_id):
    """Return the stored size of the log from HEAD, or None when the API has no log for the job."""
    try:
        response = client.request('HEAD', target.job_path(job_id, '/log'), accept=ACCEPT_TEXT)
    except BuildkiteHTTPError as exc:
        if exc.status == 404:
            return None
        if exc.status == 403:
            # A HEAD response has no body, so the API's message naming the scope is lost.
            raise BuildkiteHTTPError(
                403,
                exc.method,
                exc.path,
                'Forbidden (a HEAD response carries no message)',
                'The token needs the read_build_logs scope to read the log\'s size, and write_build_logs to delete '
                'the log; check also the pipeline\'s team permissions',
            )
        raise
    length = response.headers.get('Content-Length')
    return int(length) if length and length.isdigit() else 0


def explain_missing_log(client, target, job_id, error):
    """Return a clearer error for a 404 on a log, naming the job type when the job cannot have a log."""
    try:
        job = client.get_json(target.job_path(job_id))
    except BuildkiteError:
        return error
    if job.get('type') in ('manual', 'waiter', 'trigger'):
        kind = {'manual': 'a block step', 'waiter': 'a wait step', 'trigger': 'a trigger step'}[job['type']]
        return BuildkiteError(
            'the job is %s (type %s), and only command jobs have a log' % (kind, job['type']), status=404
        )
    return BuildkiteError('%s. The log may have been deleted' % error, status=404)


def tail_text(client, target, job_id, count):
    """Return the last ``count`` lines of the job's log as text, or None when they cannot be read."""
    try:
        return read_tail_lines(client, target, job_id, 'text', count, 256 * 1024)['content']
    except BuildkiteError:
        return None
