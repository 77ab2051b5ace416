# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Log text clean-up, windows, tails and the requests behind them."""

from __future__ import annotations

import io

import pytest
import requests
import responses
from urllib3.exceptions import ProtocolError

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteBodyError
from ansible_collections.opskite.buildkite.plugins.module_utils._jobs import JobTarget
from ansible_collections.opskite.buildkite.plugins.module_utils._logs import (
    LogStripper,
    cut_to_window,
    decode,
    last_lines,
    parse_content_range,
    read_content,
    read_tail_lines,
    stream_to,
    strip_log,
)

JOB = '0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b11'
TARGET = JobTarget('acme', 'web', 1234, JOB)
LOG_URL = 'https://api.buildkite.com/v2/organizations/acme/pipelines/web/builds/1234/jobs/%s/log' % JOB

MESSY = (
    b'\x1b_bk;t=1733306400000\x07--- :pytest: Running tests\r\n'
    b'\x1b_bk;t=1733306400100\x07\x1b[32mPASSED\x1b[0m test_cart\r\n'
    b'\x1b_bk;t=1733306400200\x07\x1b[1;31mFAILED\x1b[0m test_checkout \xff\xfe\r\n'
    b'bk;t=1733306400300\x07\x1b]1339;url=https://example.com\x07done \xe2\x82\n'
)
MESSY_TEXT = b'--- :pytest: Running tests\nPASSED test_cart\nFAILED test_checkout \xff\xfe\ndone \xe2\x82\n'


def test_strip_removes_colours_and_markers():
    assert strip_log(MESSY) == MESSY_TEXT


def test_strip_leaves_no_escape_byte():
    assert b'\x1b' not in strip_log(b'a\x1b[31mb\x1bc\x1b')


def test_strip_turns_crlf_into_lf():
    assert strip_log(b'one\r\ntwo\r\n') == b'one\ntwo\n'


def test_strip_keeps_lone_carriage_return():
    assert strip_log(b'10%\r100%\n') == b'10%\r100%\n'


@pytest.mark.parametrize('cut', range(1, len(MESSY)))
def test_split_at_any_byte_gives_same_text(cut):
    stripper = LogStripper()

    output = stripper.feed(MESSY[:cut]) + stripper.feed(MESSY[cut:]) + stripper.finish()

    assert output == MESSY_TEXT


def test_byte_by_byte_feed_gives_same_text():
    stripper = LogStripper()

    output = b''.join(stripper.feed(MESSY[index : index + 1]) for index in range(len(MESSY))) + stripper.finish()

    assert output == MESSY_TEXT


def test_unterminated_sequence_at_end_drops_escape():
    stripper = LogStripper()

    output = stripper.feed(b'tail \x1b[3') + stripper.finish()

    assert b'\x1b' not in output
    assert output.startswith(b'tail ')


def test_window_keeps_short_log_whole():
    assert cut_to_window(b'a\nb\n', 10, False) == (b'a\nb\n', False)


def test_window_starts_at_a_line():
    assert cut_to_window(b'first line\nsecond\nthird\n', 13, False) == (b'third\n', True)


def test_window_of_longer_log_drops_partial_first_line():
    assert cut_to_window(b'tial\nwhole line\n', 100, True) == (b'whole line\n', True)


def test_window_without_newline_does_not_split_utf8():
    data = 'é'.encode() * 10

    window, truncated = cut_to_window(data, 5, False)

    assert truncated is True
    assert window == 'é'.encode() * 2
    assert decode(window) == 'éé'


def test_decode_replaces_invalid_bytes():
    assert decode(b'ok \xff\xfe end') == 'ok \ufffd\ufffd end'


def test_last_lines_of_whole_log():
    assert last_lines(b'a\nb\nc\n', 2, True) == b'b\nc\n'


def test_last_lines_skips_partial_first_line():
    assert last_lines(b'artial\nb\nc\n', 3, False) is None
    assert last_lines(b'artial\nb\nc\n', 2, False) == b'b\nc\n'


def test_last_lines_without_final_newline():
    assert last_lines(b'a\nb\nc', 2, True) == b'b\nc'


@pytest.mark.parametrize(
    'header, size',
    [('bytes 10-19/20', 20), ('bytes */0', 0), ('bytes 0-0/1', 1), ('', None), ('items 1-2/3', None)],
)
def test_parse_content_range(header, size):
    assert parse_content_range(header) == size


@pytest.fixture
def client(make_client):
    return make_client()


def test_small_log_read_from_json_with_header_times(api, client):
    api.add(responses.GET, LOG_URL, json={'url': LOG_URL, 'content': 'a\r\nb\n', 'size': 5, 'header_times': [1, 2]})

    result = read_content(client, TARGET, JOB, 'text', 1024)

    assert result == {'content': 'a\nb\n', 'truncated': False, 'size': 5, 'header_times': [1, 2]}
    assert api.calls[0].request.headers['Accept'] == 'application/json'


def test_large_log_read_through_suffix_range(api, client):
    body = b'x' * 300000
    api.add(responses.GET, LOG_URL, body=b'{"content": "' + body + b'"}', content_type='application/json')
    api.add(
        responses.GET,
        LOG_URL,
        body=b'line one\nline two\n',
        status=206,
        headers={'Content-Range': 'bytes 999982-999999/1000000'},
        content_type='text/plain',
    )

    result = read_content(client, TARGET, JOB, 'raw', 18)

    assert result == {'content': 'line two\n', 'truncated': True, 'size': 1000000}
    assert api.calls[1].request.headers['Range'] == 'bytes=-18'
    assert api.calls[1].request.headers['Accept'] == 'text/plain'


def test_empty_log_range_gives_empty_content(api, client):
    api.add(responses.GET, LOG_URL, body=b'{"content": "' + b'y' * 600000 + b'"}', content_type='application/json')
    api.add(responses.GET, LOG_URL, status=416, headers={'Content-Range': 'bytes */0'}, json={'message': 'empty'})

    result = read_content(client, TARGET, JOB, 'text', 100)

    assert result == {'content': '', 'truncated': False, 'size': 0}


def test_tail_grows_the_range_until_enough_lines(api, client):
    first = b'ial\n' + b'line\n' * 3
    second = b'x\n' + b'line\n' * 10
    api.add(responses.GET, LOG_URL, body=first, status=206, headers={'Content-Range': 'bytes 0-18/100000'})
    api.add(responses.GET, LOG_URL, body=second, status=206, headers={'Content-Range': 'bytes 0-51/100000'})

    result = read_tail_lines(client, TARGET, JOB, 'raw', 5, 1024 * 1024)

    assert result == {'content': 'line\n' * 5, 'truncated': True, 'size': 100000}
    assert [call.request.headers['Range'] for call in api.calls] == ['bytes=-4096', 'bytes=-16384']


def test_tail_of_short_log_is_whole_log(api, client):
    api.add(responses.GET, LOG_URL, body=b'one\ntwo\n', status=206, headers={'Content-Range': 'bytes 0-7/8'})

    result = read_tail_lines(client, TARGET, JOB, 'text', 100, 1024 * 1024)

    assert result == {'content': 'one\ntwo\n', 'truncated': False, 'size': 8}
    assert len(api.calls) == 1


class CutOffBody(object):
    """A streamed log response whose connection closes after its first chunk."""

    status_code = 200

    def __init__(self):
        self.request = requests.Request('GET', LOG_URL + '.txt').prepare()

    def iter_content(self, chunk_size):
        yield b'line 1\n'
        raise requests.exceptions.ChunkedEncodingError(ProtocolError('Response ended prematurely'))

    def close(self):
        pass


def test_cut_off_download_starts_again(api, client, fake_time, warnings_sent):
    api.add(responses.GET, LOG_URL + '.txt', body=b'line 1\nline 2\n', content_type='text/plain')
    real_request = client.request
    calls = []

    def first_cut_off(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            return CutOffBody()
        return real_request(*args, **kwargs)

    client.request = first_cut_off
    handle = io.BytesIO()

    _checksum, size = stream_to(client, TARGET, JOB, 'raw', handle)

    assert handle.getvalue() == b'line 1\nline 2\n'
    assert size == 14
    assert len(calls) == 2
    assert fake_time.sleeps == [0.5]
    assert 'the log download failed (connection to api.buildkite.com closed before the response' in warnings_sent[0]


def test_cut_off_download_fails_after_resends(client, fake_time):
    client.api_retries = 1
    client.request = lambda *args, **kwargs: CutOffBody()

    with pytest.raises(BuildkiteBodyError) as raised:
        stream_to(client, TARGET, JOB, 'raw', io.BytesIO())

    assert str(raised.value) == 'connection to api.buildkite.com closed before the response was complete'
    assert fake_time.sleeps == [0.5]
