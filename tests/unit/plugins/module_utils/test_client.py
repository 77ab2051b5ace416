# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of BuildkiteClient: headers, auth, rate limits, resends, unknown outcomes and error messages.

The exceptions below have the shapes that requests 2.34 and urllib3 2.8 raise for a refused
connection, a timeout or a reset, so the client classifies them as it would in production.
"""

from __future__ import annotations

import ssl
from http.client import RemoteDisconnected
from pathlib import Path

import pytest
import requests
import responses
import yaml
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError

from ansible_collections.opskite.buildkite.plugins.module_utils import _version
from ansible_collections.opskite.buildkite.plugins.module_utils._client import (
    ACCEPT_HTML,
    ACCEPT_JSON,
    ACCEPT_TEXT,
    BearerAuth,
    BuildkiteConnectionError,
    BuildkiteError,
    BuildkiteHTTPError,
    BuildkiteOutcomeUnknownError,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._jobs import JobTarget, failing_as, send_change

COLLECTION_ROOT = Path(__file__).resolve().parents[4]

API_URL = 'https://api.buildkite.com/v2'
JOB_ID = '0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b11'
JOB_PATH = '/organizations/acme/pipelines/web/builds/1234/jobs/' + JOB_ID
JOB_URL = API_URL + JOB_PATH
RETRY_PATH = JOB_PATH + '/retry'
RETRY_URL = API_URL + RETRY_PATH
LOG_PATH = JOB_PATH + '/log'
LOG_URL = API_URL + LOG_PATH

SERVER_ERROR_HINT = 'Buildkite or a proxy failed; try again later'
INVALID_JSON_ADVICE = 'check that api_url points at the Buildkite REST API'
SIGN_IN_PAGE = '<!DOCTYPE html><html><head><title>Sign In - Buildkite</title></head><body>Sign in</body></html>'
TRUNCATED_JOB = '{"id": "0198c2a9-8d02-7c44-a1b6-5e7f9a0b1c22", "type": "script", "state": "sched'


# Exceptions as requests raises them. Each call returns a fresh one because responses attaches
# the prepared request to the instance it raises.


def api_pool():
    return HTTPSConnectionPool('api.buildkite.com', 443)


def refused_connection():
    reason = NewConnectionError(
        HTTPSConnection('api.buildkite.com', 443),
        'Failed to establish a new connection: [Errno 111] Connection refused',
    )
    return requests.exceptions.ConnectionError(MaxRetryError(api_pool(), JOB_PATH, reason=reason))


def connect_timeout():
    reason = ConnectTimeoutError(
        HTTPSConnection('api.buildkite.com', 443), 'Connection to api.buildkite.com timed out. (connect timeout=30.0)'
    )
    return requests.exceptions.ConnectTimeout(MaxRetryError(api_pool(), JOB_PATH, reason=reason))


def read_timeout():
    return requests.exceptions.ReadTimeout(ReadTimeoutError(api_pool(), None, 'Read timed out. (read timeout=30.0)'))


def connection_reset():
    return requests.exceptions.ConnectionError(
        ProtocolError('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))
    )


def remote_disconnected():
    return requests.exceptions.ConnectionError(
        ProtocolError('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))
    )


def truncated_chunked_body():
    return requests.exceptions.ChunkedEncodingError(ProtocolError('Response ended prematurely'))


def certificate_failure():
    cause = ssl.SSLCertVerificationError(
        1,
        '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain '
        '(_ssl.c:1006)',
    )
    return requests.exceptions.SSLError(MaxRetryError(api_pool(), JOB_PATH, reason=Urllib3SSLError(cause)))


def sent(api):
    """Return the (method, URL) of every request the mocked API received, in order."""
    return [(call.request.method, call.request.url) for call in api.calls]


def galaxy_version():
    return yaml.safe_load((COLLECTION_ROOT / 'galaxy.yml').read_text(encoding='utf-8'))['version']


# Headers and authentication


def test_authorization_is_bearer_token(api, make_client, token, load_fixture):
    api.add(responses.GET, JOB_URL, json=load_fixture('job_tests_failed.json'))

    make_client().get_json(JOB_PATH)

    assert api.calls[0].request.headers['Authorization'] == 'Bearer ' + token


def test_netrc_does_not_replace_bearer_token(api, make_client, token, load_fixture, tmp_path, monkeypatch):
    netrc_file = tmp_path / '.netrc'
    netrc_file.write_text(
        'machine api.buildkite.com\n  login netrc-user\n  password netrc-password\n', encoding='utf-8'
    )
    netrc_file.chmod(0o600)
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setenv('NETRC', str(netrc_file))
    api.add(responses.GET, JOB_URL, json=load_fixture('job_tests_failed.json'))

    make_client().get_json(JOB_PATH)

    # requests would send these credentials on a session without its own auth.
    assert requests.utils.get_netrc_auth(JOB_URL) == ('netrc-user', 'netrc-password')
    assert api.calls[0].request.headers['Authorization'] == 'Bearer ' + token


def test_bearer_auth_repr_hides_token(token):
    auth = BearerAuth(token)

    assert token not in repr(auth)


def test_user_agent_names_collection_version(api, make_client, load_fixture):
    api.add(responses.GET, JOB_URL, json=load_fixture('job_tests_failed.json'))

    make_client().get_json(JOB_PATH)

    assert api.calls[0].request.headers['User-Agent'] == 'opskite.buildkite/' + galaxy_version()


def test_collection_version_matches_galaxy_yml():
    assert _version.COLLECTION_VERSION == galaxy_version()


@pytest.mark.parametrize('accept', [ACCEPT_JSON, ACCEPT_TEXT, ACCEPT_HTML])
def test_accept_header_is_set_per_request(api, make_client, accept):
    api.add(responses.GET, LOG_URL, body='log', content_type=accept)

    make_client().request('GET', LOG_PATH, accept=accept)

    assert api.calls[0].request.headers['Accept'] == accept


def test_accept_defaults_to_json(api, make_client, load_fixture):
    api.add(responses.GET, JOB_URL, json=load_fixture('job_tests_failed.json'))

    make_client().get_json(JOB_PATH)

    assert api.calls[0].request.headers['Accept'] == 'application/json'


def test_extra_request_headers_are_sent(api, make_client):
    api.add(responses.GET, LOG_URL, status=206, body='last line\n', content_type='text/plain')

    response = make_client().request(
        'GET', LOG_PATH, accept=ACCEPT_TEXT, headers={'Range': 'bytes=-10'}, ok_statuses=(200, 206)
    )

    assert response.text == 'last line\n'
    assert api.calls[0].request.headers['Range'] == 'bytes=-10'


def test_put_sends_json_body(api, make_client, load_fixture):
    unblock_url = API_URL + JOB_PATH + '/unblock'
    api.add(responses.PUT, unblock_url, json=load_fixture('job_tests_failed.json'))

    make_client().put_json(JOB_PATH + '/unblock', {'fields': {'release-name': 'Flying Dolphin'}})

    assert api.calls[0].request.headers['Content-Type'] == 'application/json'
    assert api.calls[0].request.body == b'{"fields": {"release-name": "Flying Dolphin"}}'


def test_api_url_trailing_slash_is_harmless(api, make_client, load_fixture):
    api.add(responses.GET, JOB_URL, json=load_fixture('job_tests_failed.json'))

    make_client(api_url=API_URL + '/').get_json(JOB_PATH)

    assert sent(api) == [('GET', JOB_URL)]


def test_get_json_returns_decoded_body(api, make_client, load_fixture):
    job = load_fixture('job_tests_failed.json')
    api.add(responses.GET, JOB_URL, json=job)

    assert make_client().get_json(JOB_PATH) == job


# Redirects


def test_redirect_is_not_followed(api, make_client):
    api.add(responses.GET, JOB_URL, status=301, headers={'Location': 'https://buildkite.example.net/v2' + JOB_PATH})

    with pytest.raises(BuildkiteHTTPError) as raised:
        make_client().get_json(JOB_PATH)

    assert raised.value.status == 301
    assert sent(api) == [('GET', JOB_URL)]


def test_redirect_error_names_api_url(api, make_client):
    api.add(responses.GET, JOB_URL, status=301, headers={'Location': 'https://buildkite.example.net/v2' + JOB_PATH})

    with pytest.raises(BuildkiteHTTPError) as raised:
        make_client().get_json(JOB_PATH)

    assert str(raised.value) == (
        'HTTP 301: unexpected redirect to https://buildkite.example.net/v2%s. The client does not follow redirects, '
        'so the token never leaves api_url\'s host; set api_url to the final address (the default is '
        'https://api.buildkite.com/v2)' % JOB_PATH
    )


# Rate limits (429): the wait comes from the exhausted limit's reset, then the body, then Retry-After.


def wait_after_one_429(api, make_client, fake_time, headers=None, body=None, jitter=0.0, **body_options):
    """Serve one 429 and then the job, and return the delays the client slept."""
    if body is None:
        api.add(responses.GET, JOB_URL, status=429, headers=headers or {}, **body_options)
    else:
        api.add(responses.GET, JOB_URL, status=429, headers=headers or {}, json=body)
    api.add(responses.GET, JOB_URL, json={'id': JOB_ID})
    make_client(jitter=jitter).get_json(JOB_PATH)
    assert sent(api) == [('GET', JOB_URL), ('GET', JOB_URL)]
    return fake_time.sleeps


def org_limit_body(reset):
    return {
        'message': 'You have exceeded your API rate limit. Please wait %d seconds before making more requests.' % reset,
        'scope': 'rest',
        'limit': 200,
        'current': 201,
        'reset': reset,
    }


def test_429_org_scope_waits_ratelimit_reset(api, make_client, fake_time):
    headers = {'RateLimit-Reset': '17', 'RateLimit-User-Reset': '40'}

    sleeps = wait_after_one_429(api, make_client, fake_time, headers, org_limit_body(17))

    assert sleeps == [17.5]


def test_429_user_scope_waits_user_reset(api, make_client, fake_time, load_fixture):
    headers = {'RateLimit-Reset': '17', 'RateLimit-User-Reset': '42'}

    sleeps = wait_after_one_429(api, make_client, fake_time, headers, load_fixture('error_429_rate_limited.json'))

    assert sleeps == [42.5]


def test_429_scope_header_beats_body_reset(api, make_client, fake_time, load_fixture):
    headers = {'RateLimit-User-Reset': '30'}

    sleeps = wait_after_one_429(api, make_client, fake_time, headers, load_fixture('error_429_rate_limited.json'))

    assert sleeps == [30.5]


def test_429_without_scope_waits_exhausted_user_limit(api, make_client, fake_time):
    headers = {
        'RateLimit-Remaining': '120',
        'RateLimit-Reset': '17',
        'RateLimit-User-Remaining': '0',
        'RateLimit-User-Reset': '40',
    }

    sleeps = wait_after_one_429(api, make_client, fake_time, headers, body='Too Many Requests')

    assert sleeps == [40.5]


def test_429_without_scope_waits_exhausted_org_limit(api, make_client, fake_time):
    headers = {
        'RateLimit-Remaining': '0',
        'RateLimit-Reset': '17',
        'RateLimit-User-Remaining': '12',
        'RateLimit-User-Reset': '40',
    }

    sleeps = wait_after_one_429(api, make_client, fake_time, headers, body='Too Many Requests')

    assert sleeps == [17.5]


def test_429_both_limits_exhausted_waits_later_reset(api, make_client, fake_time):
    # A resend after the earlier reset would meet the other exhausted limit and get a second 429.
    headers = {
        'RateLimit-Remaining': '0',
        'RateLimit-Reset': '17',
        'RateLimit-User-Remaining': '0',
        'RateLimit-User-Reset': '10',
    }

    sleeps = wait_after_one_429(api, make_client, fake_time, headers, body='Too Many Requests')

    assert sleeps == [17.5]


def test_429_body_reset_used_without_headers(api, make_client, fake_time, load_fixture):
    sleeps = wait_after_one_429(api, make_client, fake_time, {}, load_fixture('error_429_rate_limited.json'))

    assert sleeps == [42.5]


def test_429_body_reset_beats_retry_after(api, make_client, fake_time, load_fixture):
    headers = {'Retry-After': '5'}

    sleeps = wait_after_one_429(api, make_client, fake_time, headers, load_fixture('error_429_rate_limited.json'))

    assert sleeps == [42.5]


def test_429_retry_after_used_without_reset(api, make_client, fake_time):
    headers = {'Retry-After': '9'}

    sleeps = wait_after_one_429(api, make_client, fake_time, headers, body='Too Many Requests')

    assert sleeps == [9.5]


def test_429_without_any_reset_waits_one_second(api, make_client, fake_time):
    sleeps = wait_after_one_429(api, make_client, fake_time, {}, body='Too Many Requests')

    assert sleeps == [1.5]


def test_429_wait_is_capped_at_60_seconds(api, make_client, fake_time, load_fixture):
    headers = {'RateLimit-User-Reset': '3600'}

    sleeps = wait_after_one_429(api, make_client, fake_time, headers, load_fixture('error_429_rate_limited.json'))

    assert sleeps == [60.5]


@pytest.mark.parametrize('reset', ['soon', '-5', 'nan', ''])
def test_429_unusable_reset_header_is_ignored(api, make_client, fake_time, load_fixture, reset):
    headers = {'RateLimit-User-Reset': reset}

    sleeps = wait_after_one_429(api, make_client, fake_time, headers, load_fixture('error_429_rate_limited.json'))

    assert sleeps == [42.5]


def test_429_wait_adds_jitter(api, make_client, fake_time, load_fixture):
    sleeps = wait_after_one_429(
        api, make_client, fake_time, {}, load_fixture('error_429_rate_limited.json'), jitter=0.25
    )

    assert sleeps == [42.75]


def test_429_resend_warns_with_wait(api, make_client, fake_time, warnings_sent, load_fixture):
    wait_after_one_429(api, make_client, fake_time, {}, load_fixture('error_429_rate_limited.json'))

    assert warnings_sent == [
        'opskite.buildkite: GET %s was rate limited (HTTP 429); waiting 42.5 s for the limit to reset' % JOB_PATH
    ]


def test_429_put_is_resent(api, make_client, fake_time, load_fixture):
    new_job = load_fixture('job_tests_retry_scheduled.json')
    api.add(responses.PUT, RETRY_URL, status=429, json=load_fixture('error_429_rate_limited.json'))
    api.add(responses.PUT, RETRY_URL, json=new_job)

    result = make_client().put_json(RETRY_PATH)

    assert result == new_job
    assert sent(api) == [('PUT', RETRY_URL), ('PUT', RETRY_URL)]
    assert fake_time.sleeps == [42.5]


def test_429_exhausted_message(api, make_client, fake_time, load_fixture):
    for _attempt in range(3):
        api.add(responses.GET, JOB_URL, status=429, json=load_fixture('error_429_rate_limited.json'))

    with pytest.raises(BuildkiteHTTPError) as raised:
        make_client(api_retries=2).get_json(JOB_PATH)

    assert raised.value.status == 429
    assert str(raised.value) == (
        'HTTP 429: You have exceeded your API rate limit. Please wait 42 seconds before making more requests. '
        'The rate limit stayed exhausted; raise api_retries or run fewer tasks at once '
        '(gave up after 2 resends over 85.0 s; causes: rate limited)'
    )
    assert len(api.calls) == 3
    assert fake_time.sleeps == [42.5, 42.5]


def test_429_with_zero_api_retries_is_not_resent(api, make_client, fake_time, load_fixture):
    api.add(responses.GET, JOB_URL, status=429, json=load_fixture('error_429_rate_limited.json'))

    with pytest.raises(BuildkiteHTTPError) as raised:
        make_client(api_retries=0).get_json(JOB_PATH)

    assert str(raised.value) == (
        'HTTP 429: You have exceeded your API rate limit. Please wait 42 seconds before making more requests. '
        'The rate limit stayed exhausted; raise api_retries or run fewer tasks at once'
    )
    assert len(api.calls) == 1
    assert fake_time.sleeps == []


# Server errors and connection failures: GET, HEAD and DELETE are resent with jittered backoff.


@pytest.mark.parametrize('status', [500, 502, 503, 504])
def test_get_5xx_is_resent_with_backoff(api, make_client, fake_time, load_fixture, status):
    job = load_fixture('job_tests_failed.json')
    for _attempt in range(3):
        api.add(responses.GET, JOB_URL, status=status, body='')
    api.add(responses.GET, JOB_URL, json=job)

    result = make_client(jitter=0.5).get_json(JOB_PATH)

    assert result == job
    assert len(api.calls) == 4
    assert fake_time.sleeps == [0.75, 1.5, 3.0]


def test_backoff_without_jitter_halves_ceiling(api, make_client, fake_time, load_fixture):
    for _attempt in range(3):
        api.add(responses.GET, JOB_URL, status=502, body='')
    api.add(responses.GET, JOB_URL, json=load_fixture('job_tests_failed.json'))

    make_client(jitter=0.0).get_json(JOB_PATH)

    assert fake_time.sleeps == [0.5, 1.0, 2.0]


def test_get_backoff_is_capped_at_20_seconds(api, make_client, fake_time, load_fixture):
    for _attempt in range(6):
        api.add(responses.GET, JOB_URL, status=503, body='')
    api.add(responses.GET, JOB_URL, json=load_fixture('job_tests_failed.json'))

    make_client(jitter=1.0, api_retries=6).get_json(JOB_PATH)

    assert fake_time.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 20.0]


def test_get_5xx_resend_warns(api, make_client, warnings_sent, load_fixture):
    api.add(responses.GET, JOB_URL, status=502, body='')
    api.add(responses.GET, JOB_URL, json=load_fixture('job_tests_failed.json'))

    make_client(jitter=0.5).get_json(JOB_PATH)

    assert warnings_sent == ['opskite.buildkite: GET %s failed with HTTP 502; resending in 0.8 s' % JOB_PATH]


@pytest.mark.parametrize('method, ok_status', [('HEAD', 200), ('DELETE', 204)])
def test_head_and_delete_5xx_are_resent(api, make_client, fake_time, method, ok_status):
    api.add(method, LOG_URL, status=502, body='')
    api.add(method, LOG_URL, status=ok_status)

    response = make_client().request(method, LOG_PATH, ok_statuses=(200, 204))

    assert response.status_code == ok_status
    assert sent(api) == [(method, LOG_URL), (method, LOG_URL)]
    assert fake_time.sleeps == [0.5]


def test_get_5xx_exhausted_message(api, make_client, fake_time):
    for _attempt in range(3):
        api.add(responses.GET, JOB_URL, status=503, body='')

    with pytest.raises(BuildkiteHTTPError) as raised:
        make_client(jitter=0.5, api_retries=2).get_json(JOB_PATH)

    assert raised.value.status == 503
    assert str(raised.value) == (
        'HTTP 503: empty response body. %s (gave up after 2 resends over 2.2 s; causes: HTTP 503)' % SERVER_ERROR_HINT
    )
    assert len(api.calls) == 3


def test_503_retry_after_sets_resend_delay(api, make_client, fake_time, load_fixture):
    api.add(responses.GET, JOB_URL, status=503, headers={'Retry-After': '7'}, body='')
    api.add(responses.GET, JOB_URL, json=load_fixture('job_tests_failed.json'))

    make_client(jitter=0.25).get_json(JOB_PATH)

    assert fake_time.sleeps == [7.25]


def test_503_retry_after_is_capped(api, make_client, fake_time, load_fixture):
    api.add(responses.GET, JOB_URL, status=503, headers={'Retry-After': '300'}, body='')
    api.add(responses.GET, JOB_URL, json=load_fixture('job_tests_failed.json'))

    make_client().get_json(JOB_PATH)

    assert fake_time.sleeps == [20.0]


CONNECTION_FAILURES = [
    pytest.param(refused_connection, 'connection refused by api.buildkite.com', id='refused'),
    pytest.param(connect_timeout, 'connection to api.buildkite.com timed out after 30.0 s', id='connect-timeout'),
    pytest.param(read_timeout, 'no response from api.buildkite.com within 30.0 s (timeout)', id='read-timeout'),
    pytest.param(
        connection_reset, 'connection to api.buildkite.com closed before the response was complete', id='reset'
    ),
    pytest.param(
        remote_disconnected,
        'connection to api.buildkite.com closed before the response was complete',
        id='disconnected',
    ),
    pytest.param(
        truncated_chunked_body, 'connection to api.buildkite.com closed before the response was complete', id='chunked'
    ),
]


@pytest.mark.parametrize('failure, description', CONNECTION_FAILURES)
def test_get_connection_failure_is_resent(api, make_client, fake_time, load_fixture, failure, description):
    job = load_fixture('job_tests_failed.json')
    api.add(responses.GET, JOB_URL, body=failure())
    api.add(responses.GET, JOB_URL, json=job)

    result = make_client(timeout=30.0).get_json(JOB_PATH)

    assert result == job
    assert sent(api) == [('GET', JOB_URL), ('GET', JOB_URL)]
    assert fake_time.sleeps == [0.5]


@pytest.mark.parametrize('failure, description', CONNECTION_FAILURES)
def test_connection_failure_warning_names_cause(api, make_client, warnings_sent, load_fixture, failure, description):
    api.add(responses.GET, JOB_URL, body=failure())
    api.add(responses.GET, JOB_URL, json=load_fixture('job_tests_failed.json'))

    make_client(timeout=30.0).get_json(JOB_PATH)

    assert warnings_sent == ['opskite.buildkite: GET %s failed (%s); resending in 0.5 s' % (JOB_PATH, description)]


def test_connection_failure_exhausted_message(api, make_client, fake_time):
    for _attempt in range(3):
        api.add(responses.GET, JOB_URL, body=refused_connection())

    with pytest.raises(BuildkiteConnectionError) as raised:
        make_client(jitter=0.5, api_retries=2).get_json(JOB_PATH)

    assert str(raised.value) == (
        'connection refused by api.buildkite.com (gave up after 2 resends over 2.2 s; '
        'causes: connection refused by api.buildkite.com)'
    )
    assert raised.value.method == 'GET'
    assert raised.value.path == JOB_PATH
    assert len(api.calls) == 3


def test_mixed_failures_are_all_named_when_exhausted(api, make_client):
    api.add(responses.GET, JOB_URL, body=refused_connection())
    api.add(responses.GET, JOB_URL, status=502, body='')
    api.add(responses.GET, JOB_URL, status=503, body='')

    with pytest.raises(BuildkiteHTTPError) as raised:
        make_client(jitter=0.5, api_retries=2).get_json(JOB_PATH)

    assert str(raised.value) == (
        'HTTP 503: empty response body. %s (gave up after 2 resends over 2.2 s; causes: '
        'HTTP 502, connection refused by api.buildkite.com)' % SERVER_ERROR_HINT
    )


def test_certificate_failure_is_not_resent(api, make_client, fake_time):
    # A certificate that fails verification fails the same way on every resend.
    api.add(responses.GET, JOB_URL, body=certificate_failure())

    with pytest.raises(BuildkiteConnectionError) as raised:
        make_client().get_json(JOB_PATH)

    assert str(raised.value) == (
        'TLS certificate verification failed for api.buildkite.com; '
        'set ca_path to the CA bundle that signed the API\'s certificate'
    )
    assert len(api.calls) == 1
    assert fake_time.sleeps == []


# PUT (retry, unblock): a PUT that may have been applied is never resent.


@pytest.mark.parametrize('status', [500, 502, 503, 504])
def test_put_5xx_is_not_resent(api, make_client, fake_time, status):
    api.add(responses.PUT, RETRY_URL, status=status, body='')

    with pytest.raises(BuildkiteOutcomeUnknownError) as raised:
        make_client().put_json(RETRY_PATH)

    assert str(raised.value) == 'HTTP %d: empty response body. %s' % (status, SERVER_ERROR_HINT)
    assert raised.value.status == status
    assert raised.value.method == 'PUT'
    assert raised.value.path == RETRY_PATH
    assert sent(api) == [('PUT', RETRY_URL)]
    assert fake_time.sleeps == []


def test_put_503_with_retry_after_is_not_resent(api, make_client):
    api.add(responses.PUT, RETRY_URL, status=503, headers={'Retry-After': '3'}, body='')

    with pytest.raises(BuildkiteOutcomeUnknownError) as raised:
        make_client().put_json(RETRY_PATH)

    assert sent(api) == [('PUT', RETRY_URL)]
    assert raised.value.retry_after == 3.0


def test_put_read_timeout_is_not_resent(api, make_client, fake_time):
    api.add(responses.PUT, RETRY_URL, body=read_timeout())

    with pytest.raises(BuildkiteOutcomeUnknownError) as raised:
        make_client(timeout=30.0).put_json(RETRY_PATH)

    assert str(raised.value) == 'no response from api.buildkite.com within 30.0 s (timeout)'
    assert sent(api) == [('PUT', RETRY_URL)]
    assert fake_time.sleeps == []


@pytest.mark.parametrize(
    'failure', [connection_reset, remote_disconnected, truncated_chunked_body], ids=['reset', 'disconnected', 'chunked']
)
def test_put_connection_lost_is_not_resent(api, make_client, fake_time, failure):
    api.add(responses.PUT, RETRY_URL, body=failure())

    with pytest.raises(BuildkiteOutcomeUnknownError) as raised:
        make_client().put_json(RETRY_PATH)

    assert str(raised.value) == 'connection to api.buildkite.com closed before the response was complete'
    assert sent(api) == [('PUT', RETRY_URL)]
    assert fake_time.sleeps == []


@pytest.mark.parametrize('failure', [refused_connection, connect_timeout], ids=['refused', 'connect-timeout'])
def test_put_never_sent_is_resent(api, make_client, fake_time, load_fixture, failure):
    new_job = load_fixture('job_tests_retry_scheduled.json')
    api.add(responses.PUT, RETRY_URL, body=failure())
    api.add(responses.PUT, RETRY_URL, json=new_job)

    result = make_client().put_json(RETRY_PATH)

    assert result == new_job
    assert sent(api) == [('PUT', RETRY_URL), ('PUT', RETRY_URL)]
    assert fake_time.sleeps == [0.5]


def test_put_refused_exhausted_is_connection_error(api, make_client):
    for _attempt in range(3):
        api.add(responses.PUT, RETRY_URL, body=refused_connection())

    with pytest.raises(BuildkiteConnectionError) as raised:
        make_client(jitter=0.5, api_retries=2).put_json(RETRY_PATH)

    assert str(raised.value) == (
        'connection refused by api.buildkite.com (gave up after 2 resends over 2.2 s; '
        'causes: connection refused by api.buildkite.com)'
    )
    assert sent(api) == [('PUT', RETRY_URL)] * 3


def test_put_truncated_json_is_outcome_unknown(api, make_client, fake_time):
    api.add(responses.PUT, RETRY_URL, body=TRUNCATED_JOB, content_type='application/json')

    with pytest.raises(BuildkiteOutcomeUnknownError) as raised:
        make_client().put_json(RETRY_PATH)

    assert str(raised.value) == 'HTTP 200 with a body that is not valid JSON (%s); %s' % (
        TRUNCATED_JOB,
        INVALID_JSON_ADVICE,
    )
    assert sent(api) == [('PUT', RETRY_URL)]
    assert fake_time.sleeps == []


def test_put_4xx_is_not_resent(api, make_client, load_fixture):
    api.add(responses.PUT, RETRY_URL, status=400, json=load_fixture('error_400_not_retryable.json'))

    with pytest.raises(BuildkiteHTTPError):
        make_client().put_json(RETRY_PATH)

    assert sent(api) == [('PUT', RETRY_URL)]


# Response bodies that are not Buildkite JSON


def test_html_504_is_summarised_by_title(api, make_client, load_fixture):
    api.add(responses.GET, JOB_URL, status=504, body=load_fixture('gateway_timeout_504.html'), content_type='text/html')

    with pytest.raises(BuildkiteHTTPError) as raised:
        make_client(api_retries=0).get_json(JOB_PATH)

    assert str(raised.value) == 'HTTP 504: HTML page "504 Gateway Time-out". %s' % SERVER_ERROR_HINT
    assert raised.value.api_message == 'HTML page "504 Gateway Time-out"'


def test_html_without_title_is_summarised(api, make_client):
    api.add(
        responses.GET,
        JOB_URL,
        status=502,
        body='<!DOCTYPE html><html><body><h1>Bad gateway</h1></body></html>',
        content_type='text/html',
    )

    with pytest.raises(BuildkiteHTTPError) as raised:
        make_client(api_retries=0).get_json(JOB_PATH)

    assert str(raised.value) == 'HTTP 502: HTML page. %s' % SERVER_ERROR_HINT


def test_empty_error_body_is_named(api, make_client):
    api.add(responses.GET, JOB_URL, status=404, body='')

    with pytest.raises(BuildkiteHTTPError) as raised:
        make_client().get_json(JOB_PATH)

    assert raised.value.api_message == 'empty response body'


def test_long_text_error_body_is_cut(api, make_client):
    text = 'upstream connect error or disconnect/reset before headers. reset reason: connection termination\n' * 4
    api.add(responses.GET, JOB_URL, status=400, body=text, content_type='text/plain')

    with pytest.raises(BuildkiteHTTPError) as raised:
        make_client().get_json(JOB_PATH)

    assert raised.value.api_message == ' '.join(text.split())[:200] + '...'


def test_error_json_without_message_shows_body(api, make_client):
    api.add(responses.GET, JOB_URL, status=400, json={'errors': ['state is invalid']})

    with pytest.raises(BuildkiteHTTPError) as raised:
        make_client().get_json(JOB_PATH)

    assert str(raised.value) == 'HTTP 400: {"errors": ["state is invalid"]}'


def test_non_json_200_get_is_resent_then_fails(api, make_client, fake_time):
    for _attempt in range(3):
        api.add(responses.GET, JOB_URL, body=SIGN_IN_PAGE, content_type='text/html')

    with pytest.raises(BuildkiteConnectionError) as raised:
        make_client(jitter=0.5, api_retries=2).get_json(JOB_PATH)

    assert str(raised.value) == (
        'HTTP 200 with a body that is not valid JSON (HTML page "Sign In - Buildkite"); %s '
        '(gave up after 2 resends over 2.2 s; causes: invalid JSON)' % INVALID_JSON_ADVICE
    )
    assert raised.value.status == 200
    assert len(api.calls) == 3
    assert fake_time.sleeps == [0.75, 1.5]


def test_truncated_json_get_is_resent(api, make_client, fake_time, load_fixture):
    job = load_fixture('job_tests_retry_scheduled.json')
    api.add(responses.GET, JOB_URL, body=TRUNCATED_JOB, content_type='application/json')
    api.add(responses.GET, JOB_URL, json=job)

    result = make_client().get_json(JOB_PATH)

    assert result == job
    assert len(api.calls) == 2
    assert fake_time.sleeps == [0.5]


def test_empty_200_get_fails_as_invalid_json(api, make_client):
    api.add(responses.GET, JOB_URL, body='', content_type='application/json')

    with pytest.raises(BuildkiteConnectionError) as raised:
        make_client(api_retries=0).get_json(JOB_PATH)

    assert str(raised.value) == 'HTTP 200 with a body that is not valid JSON (empty response body); %s' % (
        INVALID_JSON_ADVICE
    )


def test_request_without_decode_returns_response(api, make_client):
    api.add(responses.GET, LOG_URL, body='\x1b_bk;t=1755681249871\x07--- :rspec: Tests\n', content_type='text/plain')

    response = make_client().request('GET', LOG_PATH, accept=ACCEPT_TEXT)

    assert response.text == '\x1b_bk;t=1755681249871\x07--- :rspec: Tests\n'


# Error messages and hints


def http_error_for(api, make_client, status, body):
    api.add(responses.GET, JOB_URL, status=status, json=body)
    with pytest.raises(BuildkiteHTTPError) as raised:
        make_client().get_json(JOB_PATH)
    return raised.value


def test_http_error_carries_request_details(api, make_client, load_fixture):
    error = http_error_for(api, make_client, 404, load_fixture('error_404_no_job.json'))

    assert error.status == 404
    assert error.method == 'GET'
    assert error.path == JOB_PATH
    assert error.api_message == 'No job found'


def test_401_hint_names_api_token(api, make_client, load_fixture):
    error = http_error_for(api, make_client, 401, load_fixture('error_401_unauthenticated.json'))

    assert str(error) == (
        'HTTP 401: Authentication required. Please supply a valid API Access Token: '
        'https://buildkite.com/docs/apis/rest-api#authentication. Check api_token (or BUILDKITE_API_TOKEN): the '
        'token is missing, mistyped, expired or revoked'
    )


def test_403_hint_names_missing_scope(api, make_client, load_fixture):
    error = http_error_for(api, make_client, 403, load_fixture('error_403_missing_scope.json'))

    assert str(error) == (
        'HTTP 403: Your access token doesn\'t have the write_builds scope. Create a token with the write_builds scope '
        'at https://buildkite.com/user/api-access-tokens'
    )


def test_403_forbidden_hint_names_permissions(api, make_client, load_fixture):
    error = http_error_for(api, make_client, 403, load_fixture('error_403_forbidden.json'))

    assert str(error) == (
        'HTTP 403: Forbidden. The token\'s user lacks access: check the pipeline\'s team permissions, the token\'s '
        'organization access and its IP allowlist'
    )


def test_404_hint_names_addressing_options(api, make_client, load_fixture):
    error = http_error_for(api, make_client, 404, load_fixture('error_404_no_job.json'))

    assert str(error) == (
        'HTTP 404: No job found. Check organization, pipeline, build and job: a wrong slug or id gives 404, and so '
        'does a token without access to the organization or pipeline'
    )


def test_422_hint_names_job_state(api, make_client, load_fixture):
    error = http_error_for(api, make_client, 422, load_fixture('error_422_canceled_build.json'))

    assert str(error) == (
        'HTTP 422: Jobs from canceled builds cannot be retried. The API rejected the request for '
        'this job in its current state'
    )


def test_400_has_api_message_only(api, make_client, load_fixture):
    error = http_error_for(api, make_client, 400, load_fixture('error_400_not_retryable.json'))

    assert str(error) == 'HTTP 400: Only failed, timed out or canceled jobs can be retried'
    assert error.hint is None


def test_5xx_hint_suggests_trying_later(api, make_client):
    api.add(responses.GET, JOB_URL, status=500, json={'message': 'Internal Server Error'})

    with pytest.raises(BuildkiteHTTPError) as raised:
        make_client(api_retries=0).get_json(JOB_PATH)

    assert str(raised.value) == 'HTTP 500: Internal Server Error. %s' % SERVER_ERROR_HINT


# The token must not leak: every failure path, its message, repr, warnings and the error's attributes.


def texts_reachable_from(error):
    """Return the text of the error, of its chained exceptions, and of every value its attributes reach.

    Chained exceptions (__cause__, __context__) contribute their str() and repr(), which is what a
    traceback shows. The error's own attributes are followed into nested objects and containers.
    """
    texts = []
    seen = set()

    def visit(value, depth):
        if id(value) in seen or depth > 8 or value is None or isinstance(value, (bool, int, float)):
            return
        seen.add(id(value))
        if isinstance(value, str):
            texts.append(value)
            return
        if isinstance(value, (bytes, bytearray)):
            texts.append(bytes(value).decode('latin-1'))
            return
        if isinstance(value, BaseException):
            texts.extend((str(value), repr(value)))
            for argument in value.args:
                visit(argument, depth + 1)
        if isinstance(value, dict) or hasattr(value, 'items'):
            for key, item in list(value.items()):
                visit(key, depth + 1)
                visit(item, depth + 1)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for item in value:
                visit(item, depth + 1)
        for item in getattr(value, '__dict__', {}).values():
            visit(item, depth + 1)

    visit(error, 0)
    chained = error.__cause__ or error.__context__
    while chained is not None:
        texts.extend((str(chained), repr(chained)))
        chained = chained.__cause__ or chained.__context__
    return texts


def change_not_applied():
    return None


# Each path names what the test calls ('get', 'put' or 'send_change'), the response it serves and how
# often. The response is keyword arguments for responses.add, where 'fixture' names a recorded body and
# 'failure' the exception factory. The client resends once (api_retries=1).
LEAK_PATHS = [
    pytest.param('put', {'status': 400, 'fixture': 'error_400_not_retryable.json'}, 1, id='http-400'),
    pytest.param('get', {'status': 401, 'fixture': 'error_401_unauthenticated.json'}, 1, id='http-401'),
    pytest.param('put', {'status': 403, 'fixture': 'error_403_missing_scope.json'}, 1, id='http-403-scope'),
    pytest.param('get', {'status': 403, 'fixture': 'error_403_forbidden.json'}, 1, id='http-403-forbidden'),
    pytest.param('get', {'status': 404, 'fixture': 'error_404_no_job.json'}, 1, id='http-404'),
    pytest.param('get', {'status': 404, 'body': ''}, 1, id='http-404-empty-body'),
    pytest.param('put', {'status': 422, 'fixture': 'error_422_canceled_build.json'}, 1, id='http-422'),
    pytest.param('get', {'status': 429, 'fixture': 'error_429_rate_limited.json'}, 2, id='get-429-exhausted'),
    pytest.param('put', {'status': 429, 'fixture': 'error_429_rate_limited.json'}, 2, id='put-429-exhausted'),
    pytest.param('get', {'status': 503, 'body': ''}, 2, id='get-5xx-exhausted'),
    pytest.param('get', {'status': 504, 'fixture': 'gateway_timeout_504.html'}, 2, id='get-html-504-exhausted'),
    pytest.param('get', {'failure': refused_connection}, 2, id='get-refused-exhausted'),
    pytest.param('get', {'failure': read_timeout}, 2, id='get-read-timeout-exhausted'),
    pytest.param('get', {'failure': connection_reset}, 2, id='get-reset-exhausted'),
    pytest.param('get', {'failure': certificate_failure}, 1, id='get-certificate-failure'),
    pytest.param('get', {'body': SIGN_IN_PAGE, 'content_type': 'text/html'}, 2, id='get-non-json-exhausted'),
    pytest.param('get', {'status': 302, 'headers': {'Location': 'https://buildkite.com/login'}}, 1, id='get-redirect'),
    pytest.param('put', {'status': 502, 'body': ''}, 1, id='put-5xx'),
    pytest.param('put', {'failure': read_timeout}, 1, id='put-read-timeout'),
    pytest.param('put', {'failure': connection_reset}, 1, id='put-reset'),
    pytest.param('put', {'failure': remote_disconnected}, 1, id='put-disconnected'),
    pytest.param('put', {'failure': truncated_chunked_body}, 1, id='put-chunked'),
    pytest.param('put', {'failure': refused_connection}, 2, id='put-refused-exhausted'),
    pytest.param('put', {'body': TRUNCATED_JOB, 'content_type': 'application/json'}, 1, id='put-truncated-json'),
    pytest.param('send_change', {'failure': connection_reset}, 2, id='send-change-lost-twice'),
]


def serve(api, load_fixture, method, url, response, count):
    for _attempt in range(count):
        options = dict(response)
        fixture = options.pop('fixture', None)
        if fixture and fixture.endswith('.json'):
            options['json'] = load_fixture(fixture)
        elif fixture:
            options['body'] = load_fixture(fixture)
            options['content_type'] = 'text/html'
        failure = options.pop('failure', None)
        if failure:
            api.add_callback(method, url, callback=raise_as_requests_does(failure))
        else:
            api.add(method, url, **options)


def raise_as_requests_does(failure):
    """Return a responses callback that raises ``failure()`` with the request attached where requests attaches it.

    requests' adapter passes the prepared request, Authorization header included, to the exception
    it raises. A body cut off while it is read (ChunkedEncodingError) carries no request.
    """

    def callback(request):
        error = failure()
        if not isinstance(error, requests.exceptions.ChunkedEncodingError):
            error.request = request
        raise error

    return callback


@pytest.mark.parametrize('action, response, count', LEAK_PATHS)
def test_token_absent_from_errors_and_warnings(
    api, make_client, token, warnings_sent, load_fixture, action, response, count
):
    client = make_client(api_retries=1)

    with pytest.raises(BuildkiteError) as raised:
        if action == 'get':
            serve(api, load_fixture, responses.GET, JOB_URL, response, count)
            client.get_json(JOB_PATH)
        elif action == 'put':
            serve(api, load_fixture, responses.PUT, RETRY_URL, response, count)
            client.put_json(RETRY_PATH)
        else:
            serve(api, load_fixture, responses.PUT, RETRY_URL, response, count)
            send_change(client, RETRY_PATH, None, change_not_applied, 'retry')

    leaking = [text for text in texts_reachable_from(raised.value) + warnings_sent if token in text]
    assert leaking == []


def test_token_absent_from_action_error(api, make_client, token, load_fixture):
    # failing_as wraps the client's error in the message a module or the lookup reports.
    api.add(responses.GET, JOB_URL, status=401, json=load_fixture('error_401_unauthenticated.json'))
    target = JobTarget('acme', 'web', 1234, JOB_ID)

    with pytest.raises(BuildkiteError) as raised:
        with failing_as('read', target):
            make_client().get_json(JOB_PATH)

    assert [text for text in texts_reachable_from(raised.value) if token in text] == []


# A 200 whose body is not what was requested, and a body cut off while it streams


def test_html_200_for_text_request_is_resent(api, make_client, fake_time, warnings_sent):
    api.add(responses.GET, LOG_URL, body=SIGN_IN_PAGE, content_type='text/html')
    api.add(responses.GET, LOG_URL, body='line 1\n', content_type='text/plain; charset=utf-8')

    response = make_client().request('GET', LOG_PATH, accept=ACCEPT_TEXT)

    assert response.text == 'line 1\n'
    assert len(api.calls) == 2
    assert fake_time.sleeps == [0.5]
    assert 'HTTP 200 with a text/html body where text/plain was requested' in warnings_sent[0]


def test_html_200_for_text_request_fails_after_resends(api, make_client):
    for _attempt in range(2):
        api.add(responses.GET, LOG_URL, body=SIGN_IN_PAGE, content_type='text/html')

    with pytest.raises(BuildkiteConnectionError) as raised:
        make_client(api_retries=1).request('GET', LOG_PATH, accept=ACCEPT_TEXT)

    assert str(raised.value).startswith('HTTP 200 with a text/html body where text/plain was requested; ')
    assert 'causes: unexpected Content-Type' in str(raised.value)


def test_text_response_without_content_type_is_accepted(api, make_client):
    api.add(responses.GET, LOG_URL, body='line 1\n', content_type=None)

    response = make_client().request('GET', LOG_PATH, accept=ACCEPT_TEXT)

    assert response.content == b'line 1\n'
    assert len(api.calls) == 1


class CutOffResponse(object):
    """A streamed response whose connection closes after the first chunk, as requests reports it."""

    status_code = 200

    def __init__(self):
        self.request = requests.Request('GET', LOG_URL).prepare()

    def iter_content(self, chunk_size):
        yield b'first chunk\n'
        raise requests.exceptions.ChunkedEncodingError(ProtocolError('Response ended prematurely'))


def test_body_cut_off_raises_connection_error(make_client):
    chunks = []

    with pytest.raises(BuildkiteConnectionError) as raised:
        for chunk in make_client().iter_body(CutOffResponse(), 1024):
            chunks.append(chunk)

    assert chunks == [b'first chunk\n']
    assert str(raised.value) == 'connection to api.buildkite.com closed before the response was complete'
    assert raised.value.method == 'GET'
    assert raised.value.path == '/v2' + LOG_PATH


def test_short_partial_body_is_resent(api, make_client, fake_time, warnings_sent):
    api.add(
        responses.GET,
        LOG_URL,
        body='line 9\n',
        status=206,
        content_type='text/plain',
        headers={'Content-Range': 'bytes 86-99/100'},
    )
    api.add(
        responses.GET,
        LOG_URL,
        body='line 9\nline 10\n',
        status=206,
        content_type='text/plain',
        headers={'Content-Range': 'bytes 85-99/100'},
    )

    response = make_client().request(
        'GET', LOG_PATH, accept=ACCEPT_TEXT, headers={'Range': 'bytes=-15'}, ok_statuses=(200, 206)
    )

    assert response.text == 'line 9\nline 10\n'
    assert len(api.calls) == 2
    assert 'HTTP 206 with 7 body bytes where its Content-Range promises 14' in warnings_sent[0]


def test_html_head_response_is_resent(api, make_client):
    api.add(responses.HEAD, LOG_URL, content_type='text/html', headers={'Content-Length': '900'})
    api.add(responses.HEAD, LOG_URL, content_type='text/plain', headers={'Content-Length': '120'})

    response = make_client().request('HEAD', LOG_PATH, accept=ACCEPT_TEXT)

    assert response.headers['Content-Length'] == '120'
    assert len(api.calls) == 2


def test_send_change_waits_retry_after_before_resend(api, make_client, fake_time, warnings_sent, load_fixture):
    new_job = load_fixture('job_tests_retry_scheduled.json')
    api.add(responses.PUT, RETRY_URL, status=503, headers={'Retry-After': '4'}, body='')
    api.add(responses.PUT, RETRY_URL, json=new_job)
    reads = []

    def not_applied():
        reads.append(list(fake_time.sleeps))
        return None

    job, warning = send_change(make_client(), RETRY_PATH, None, not_applied, 'retry')

    assert job == new_job
    assert warning is None
    assert fake_time.sleeps == [4.0]
    assert reads == [[4.0]]
    assert 'after waiting 4.0 s (Retry-After); sending it once more' in warnings_sent[0]
