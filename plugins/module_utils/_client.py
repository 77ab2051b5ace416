# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""HTTP client for Buildkite's REST API, shared by every module and the lookup.

The client knows nothing about Ansible: it raises BuildkiteError subclasses and reports
warnings through a callback, so modules turn errors into fail_json and the lookup into
AnsibleError with the same text.
"""

from __future__ import annotations

import math
import random
import re
import time
import traceback
from urllib.parse import urlsplit

try:
    import requests
    from requests.exceptions import ConnectTimeout, RequestException, SSLError, Timeout
    from urllib3.exceptions import NewConnectionError
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

from ansible_collections.opskite.buildkite.plugins.module_utils._version import COLLECTION_VERSION

USER_AGENT = 'opskite.buildkite/%s' % COLLECTION_VERSION
WARNING_PREFIX = 'opskite.buildkite: '

ACCEPT_JSON = 'application/json'
ACCEPT_TEXT = 'text/plain'
ACCEPT_HTML = 'text/html'

# GET, HEAD and DELETE leave the same state however often they arrive, so they are resent
# after server errors and connection failures. PUT (retry, unblock) is not: see request().
SAFE_TO_RESEND = frozenset(('GET', 'HEAD', 'DELETE', 'OPTIONS'))

# Buildkite's rate-limit window is 60 s, so a reset above that means a broken header.
MAX_RATE_LIMIT_WAIT = 60.0
# Backoff for server errors and connection failures: a random delay between half and all of
# base * 2**attempt (equal jitter), capped.
BACKOFF_BASE = 1.0
BACKOFF_MAX = 20.0
MAX_ERROR_BODY = 200

# Server errors after which a GET is worth sending again: the API or a proxy in front of it
# (520-524 are Cloudflare's origin errors) failed for the moment. Any 5xx response to a PUT leaves
# its outcome unknown, because the server may have acted before it failed.
TRANSIENT_STATUSES = frozenset((500, 502, 503, 504, 520, 521, 522, 523, 524))


class BuildkiteError(Exception):
    """Base of every error the client raises.

    ``str()`` gives the cause (``HTTP 403: <API message>. <hint>``); callers add what they were
    doing and on which job. The token never appears in any attribute.
    """

    def __init__(self, message, status=None, method=None, path=None, api_message=None, hint=None):
        super(BuildkiteError, self).__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.api_message = api_message
        self.hint = hint

    def __str__(self):
        return self.message

    def add_context(self, text):
        """Append ``text`` to the message, keeping ``args`` in step for repr()."""
        if not text:
            return
        self.message = '%s %s' % (self.message, text)
        self.args = (self.message,)


class BuildkiteConfigError(BuildkiteError):
    """An option value is invalid; raised before any request is sent."""

    def __init__(self, option, message):
        super(BuildkiteConfigError, self).__init__(message)
        self.option = option


class BuildkiteHTTPError(BuildkiteError):
    """The API returned an error status."""

    def __init__(self, status, method, path, api_message, hint=None, body=None):
        text = 'HTTP %s: %s' % (status, api_message)
        if hint:
            text = '%s. %s' % (text.rstrip('.'), hint)
        super(BuildkiteHTTPError, self).__init__(
            text, status=status, method=method, path=path, api_message=api_message, hint=hint
        )
        self.body = body


class BuildkiteConnectionError(BuildkiteError):
    """The request failed without an HTTP response, or the response could not be read."""


class BuildkiteBodyError(BuildkiteConnectionError):
    """The connection failed while a streamed response's body was read, after its headers arrived."""


class BuildkiteOutcomeUnknownError(BuildkiteError):
    """A change request (PUT) got no usable response, so it may or may not have been applied.

    The caller re-reads the resource to find out; the client never resends such a request.
    """

    def __init__(self, message, method, path, status=None, retry_after=None):
        super(BuildkiteOutcomeUnknownError, self).__init__(message, method=method, path=path, status=status)
        # Seconds from the response's Retry-After header, or None.
        self.retry_after = retry_after


def summarize_body(text):
    """Return a short, single-line summary of a response body that is not Buildkite JSON."""
    if not text or not text.strip():
        return 'empty response body'
    if '<html' in text[:500].lower() or '<!doctype' in text[:500].lower():
        title_start = text.lower().find('<title>')
        title_end = text.lower().find('</title>')
        if 0 <= title_start < title_end:
            return 'HTML page "%s"' % ' '.join(text[title_start + 7 : title_end].split())[:MAX_ERROR_BODY]
        return 'HTML page'
    flat = ' '.join(text.split())
    if len(flat) > MAX_ERROR_BODY:
        flat = flat[:MAX_ERROR_BODY] + '...'
    return flat


def extract_api_message(response):
    """Return Buildkite's ``message`` from an error response, or a summary of the body."""
    try:
        data = response.json()
    except ValueError:
        return summarize_body(response.text)
    if isinstance(data, dict) and isinstance(data.get('message'), str) and data['message'].strip():
        return data['message'].strip()
    return summarize_body(response.text)


def hint_for(status, api_message):
    """Return what the user can do about an HTTP error status, or None."""
    if status == 401:
        return 'Check api_token (or BUILDKITE_API_TOKEN): the token is missing, mistyped, expired or revoked'
    if status == 403:
        scope = None
        marker = "doesn't have the "
        if marker in api_message:
            scope = api_message.split(marker, 1)[1].split()[0]
        if scope:
            return 'Create a token with the %s scope at https://buildkite.com/user/api-access-tokens' % scope
        return (
            'The token\'s user lacks access: check the pipeline\'s team permissions, '
            'the token\'s organization access and its IP allowlist'
        )
    if status == 404 and api_message.strip().rstrip('.') == 'Not Found':
        return 'Check that api_url is the REST API base URL ending in /v2, such as https://api.buildkite.com/v2'
    if status == 404:
        return (
            'Check organization, pipeline, build and job: a wrong slug or id gives 404, '
            'and so does a token without access to the organization or pipeline'
        )
    if status == 422:
        return 'The API rejected the request for this job in its current state'
    if status == 429:
        return 'The rate limit stayed exhausted; raise api_retries or run fewer tasks at once'
    if status is not None and status >= 500:
        return 'Buildkite or a proxy failed; try again later'
    return None


class BearerAuth(object):
    """Sets the Authorization header on each request.

    Passing an auth object (rather than a default header) also stops requests from taking
    credentials from ~/.netrc, which it does only when no auth is set. requests drops the
    header itself when a redirect leaves the host; this client does not follow redirects anyway.
    """

    def __init__(self, token):
        self._token = token

    def __call__(self, prepared):
        prepared.headers['Authorization'] = 'Bearer %s' % self._token
        return prepared

    def __repr__(self):
        return 'BearerAuth(<redacted>)'


class BuildkiteClient(object):
    """One HTTP session to Buildkite's REST API, with its retry and rate-limit policy.

    ``warn`` receives warnings as strings; ``sleep``, ``clock`` and ``jitter`` are injectable so
    that tests never wait.
    """

    def __init__(
        self,
        api_token,
        api_url,
        validate_certs=True,
        ca_path=None,
        timeout=30.0,
        api_retries=5,
        warn=None,
        sleep=time.sleep,
        clock=time.monotonic,
        jitter=random.random,
        session=None,
    ):
        if not HAS_REQUESTS:
            raise BuildkiteConfigError('api_url', 'The Python library requests is required')
        self.api_url = api_url.rstrip('/')
        self.host = urlsplit(self.api_url).netloc
        self.timeout = timeout
        self.api_retries = api_retries
        self._warn = warn or (lambda message: None)
        self.sleep = sleep
        self.clock = clock
        self.jitter = jitter
        self.session = session or requests.Session()
        self.session.auth = BearerAuth(api_token)
        self.session.headers['User-Agent'] = USER_AGENT
        # Passed with every request, not set on the session: requests replaces a session's
        # verify with REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, which would override validate_certs=false.
        self.verify = (ca_path or True) if validate_certs else False
        self.waited = 0.0

    def warn(self, message):
        self._warn(WARNING_PREFIX + message)

    def close(self):
        self.session.close()

    def url_for(self, path):
        return self.api_url + path

    def request(
        self,
        method,
        path,
        params=None,
        json_body=None,
        accept=ACCEPT_JSON,
        headers=None,
        stream=False,
        ok_statuses=(200,),
        decode=False,
    ):
        """Send one API request, resending it where that is safe, and return the response.

        With ``decode``, return the decoded JSON body instead; a body that is not valid JSON
        counts as a failed request. Raises BuildkiteHTTPError for a status outside
        ``ok_statuses``, BuildkiteConnectionError when no usable response came, and
        BuildkiteOutcomeUnknownError when a PUT may have been applied without the client
        learning so.
        """
        method = method.upper()
        request_headers = {'Accept': accept}
        if headers:
            request_headers.update(headers)
        resends = 0
        reasons = []
        started = self.clock()

        while True:
            try:
                response = self.session.request(
                    method,
                    self.url_for(path),
                    params=params,
                    json=json_body,
                    headers=request_headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=stream,
                    verify=self.verify,
                )
            except RequestException as exc:
                # The requests exception contains the prepared request, Authorization header
                # included, so no error raised here keeps it. Only its description travels on.
                failure = describe_request_failure(exc, self.timeout, self.host)
                if isinstance(exc, SSLError):
                    # A failed TLS handshake sent nothing and fails the same way every time.
                    raise BuildkiteConnectionError(failure, method=method, path=path) from None
                if method not in SAFE_TO_RESEND and not request_never_sent(exc):
                    raise BuildkiteOutcomeUnknownError(failure, method, path) from None
                if resends >= self.api_retries:
                    raise BuildkiteConnectionError(
                        exhausted_message(failure, resends, self.clock() - started, reasons), method=method, path=path
                    ) from None
                reasons.append(failure)
                delay = self.backoff_delay(resends)
                self.warn('%s %s failed (%s); resending in %.1f s' % (method, path, failure, delay))
                self.pause(delay)
                resends += 1
                continue

            status = response.status_code
            if status in ok_statuses:
                failure = unexpected_media_type(response, method, accept)
                reason = 'unexpected Content-Type'
                if failure is None:
                    failure = short_partial_body(response, method, stream)
                    reason = 'short body'
                if failure is None and not decode:
                    return response
                if failure is None:
                    try:
                        return response.json()
                    except ValueError:
                        reason = 'invalid JSON'
                        failure = (
                            'HTTP %s with a body that is not valid JSON (%s); check that api_url points at '
                            'the Buildkite REST API' % (status, summarize_body(response.text))
                        )
                if method not in SAFE_TO_RESEND:
                    raise BuildkiteOutcomeUnknownError(failure, method, path, status=status)
                if resends >= self.api_retries:
                    raise BuildkiteConnectionError(
                        exhausted_message(failure, resends, self.clock() - started, reasons),
                        status=status,
                        method=method,
                        path=path,
                    )
                reasons.append(reason)
                delay = self.backoff_delay(resends)
                self.warn('%s %s returned an unusable body (%s); resending in %.1f s' % (method, path, failure, delay))
                self.pause(delay)
                resends += 1
                continue

            if status == 429:
                # The API rejected the request without acting on it, so resending is safe
                # for every method, PUT included.
                if resends >= self.api_retries:
                    error = self.http_error(response, method, path)
                    error.add_context(exhausted_context(resends, self.clock() - started, reasons))
                    raise error
                delay = self.rate_limit_delay(response)
                reasons.append('rate limited')
                self.warn(
                    '%s %s was rate limited (HTTP 429); waiting %.1f s for the limit to reset' % (method, path, delay)
                )
                self.pause(delay)
                resends += 1
                continue

            if status >= 500 and method not in SAFE_TO_RESEND:
                raise BuildkiteOutcomeUnknownError(
                    self.http_error(response, method, path).message,
                    method,
                    path,
                    status=status,
                    retry_after=parse_seconds(response.headers.get('Retry-After')),
                )
            if status in TRANSIENT_STATUSES:
                error = self.http_error(response, method, path)
                if resends >= self.api_retries:
                    error.add_context(exhausted_context(resends, self.clock() - started, reasons))
                    raise error
                delay = self.server_error_delay(response, resends)
                reasons.append('HTTP %s' % status)
                self.warn('%s %s failed with HTTP %s; resending in %.1f s' % (method, path, status, delay))
                self.pause(delay)
                resends += 1
                continue

            if 300 <= status < 400:
                location = response.headers.get('Location', '')
                raise BuildkiteHTTPError(
                    status,
                    method,
                    path,
                    'unexpected redirect to %s' % (location or 'an unnamed location'),
                    'The client does not follow redirects, so the token never leaves api_url\'s host; '
                    'set api_url to the final address (the default is https://api.buildkite.com/v2)',
                )

            raise self.http_error(response, method, path)

    def iter_body(self, response, chunk_size):
        """Yield the chunks of a streamed response's body.

        A connection lost or timed out in the middle of the body raises BuildkiteBodyError, a
        BuildkiteConnectionError. requests' own exception is not passed on, because it
        carries the request with its Authorization header.
        """
        request = response.request
        path = urlsplit(request.url).path if request is not None else None
        try:
            yield from response.iter_content(chunk_size=chunk_size)
        except RequestException as exc:
            failure = describe_request_failure(exc, self.timeout, self.host)
            raise BuildkiteBodyError(
                failure, status=response.status_code, method=request.method if request is not None else None, path=path
            ) from None

    def get_json(self, path, params=None):
        return self.request('GET', path, params=params, decode=True)

    def put_json(self, path, body=None):
        return self.request('PUT', path, json_body=body, decode=True)

    def http_error(self, response, method, path):
        api_message = extract_api_message(response)
        return BuildkiteHTTPError(
            response.status_code, method, path, api_message, hint_for(response.status_code, api_message)
        )

    def pause(self, seconds):
        self.waited += seconds
        self.sleep(seconds)

    def backoff_delay(self, attempt):
        ceiling = min(BACKOFF_MAX, BACKOFF_BASE * (2**attempt))
        return ceiling / 2 + self.jitter() * ceiling / 2

    def retry_after_delay(self, seconds):
        """Return the wait for a Retry-After of ``seconds``, capped like other server-error waits."""
        return min(seconds, BACKOFF_MAX) + self.jitter()

    def server_error_delay(self, response, attempt):
        retry_after = parse_seconds(response.headers.get('Retry-After'))
        if retry_after is not None:
            return self.retry_after_delay(retry_after)
        return self.backoff_delay(attempt)

    def rate_limit_delay(self, response):
        """Return how long to wait after a 429, from the limit that was exceeded, plus jitter.

        The body's ``scope`` names the exhausted limit: ``rest`` for the organization and
        ``rest_user`` for the token's user. Without a scope, the limits whose remaining count is
        at or below zero decide. The body's ``reset`` and ``Retry-After`` come last.
        """
        headers = response.headers
        org_reset = parse_seconds(headers.get('RateLimit-Reset'))
        user_reset = parse_seconds(headers.get('RateLimit-User-Reset'))
        body = {}
        try:
            decoded = response.json()
            if isinstance(decoded, dict):
                body = decoded
        except ValueError:
            pass

        scope = body.get('scope')
        candidates = []
        if scope == 'rest_user':
            candidates.append(user_reset)
        elif scope == 'rest':
            candidates.append(org_reset)
        else:
            # With both limits exhausted, only the later reset lets the resend through.
            exhausted_resets = [
                reset
                for reset, remaining in (
                    (user_reset, headers.get('RateLimit-User-Remaining')),
                    (org_reset, headers.get('RateLimit-Remaining')),
                )
                if reset is not None and exhausted(remaining)
            ]
            if exhausted_resets:
                candidates.append(max(exhausted_resets))
        candidates.append(parse_seconds(body.get('reset')))
        candidates.append(parse_seconds(headers.get('Retry-After')))
        candidates.extend((user_reset, org_reset))

        wait = next((value for value in candidates if value is not None), None)
        if wait is None:
            wait = BACKOFF_BASE
        return min(wait, MAX_RATE_LIMIT_WAIT) + 0.5 + self.jitter()


def parse_seconds(value):
    """Return a non-negative number of seconds from a header or body value, or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or number < 0:
        return None
    return number


def unexpected_media_type(response, method, accept):
    """Describe a text or HTML response whose Content-Type is not the one requested, or return None.

    A proxy or captive portal that returns 200 with its own HTML page would otherwise be taken
    for the log. A response without Content-Type and a 204 are not checked. JSON requests are
    checked by decoding the body instead.
    """
    if accept == ACCEPT_JSON or response.status_code == 204:
        return None
    content_type = response.headers.get('Content-Type')
    if not content_type:
        return None
    media_type = content_type.split(';', 1)[0].strip().lower()
    if media_type == accept:
        return None
    return 'HTTP %s with a %s body where %s was requested; check that api_url points at the Buildkite REST API' % (
        response.status_code,
        media_type,
        accept,
    )


def short_partial_body(response, method, stream):
    """Describe a 206 response whose body is shorter than its Content-Range states, or return None.

    Only a body already read (not streamed) is checked; a HEAD response has none.
    """
    if response.status_code != 206 or stream or method == 'HEAD':
        return None
    match = re.match(r'^bytes (\d+)-(\d+)/', (response.headers.get('Content-Range') or '').strip())
    if not match:
        return None
    expected = int(match.group(2)) - int(match.group(1)) + 1
    received = len(response.content)
    if received == expected:
        return None
    return 'HTTP 206 with %d body bytes where its Content-Range promises %d' % (received, expected)


def exhausted(value):
    number = None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return number <= 0


def request_never_sent(exc):
    """Tell whether a failed request certainly never reached the server.

    A refused or timed-out connection attempt sent nothing, so even a PUT may be resent.
    """
    if isinstance(exc, ConnectTimeout):
        return True
    reason = getattr(exc.args[0], 'reason', None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def describe_request_failure(exc, timeout, host):
    """Return what went wrong with a request that got no HTTP response, naming the host."""
    if isinstance(exc, ConnectTimeout):
        return 'connection to %s timed out after %s s' % (host, timeout)
    if isinstance(exc, Timeout):
        return 'no response from %s within %s s (timeout)' % (host, timeout)
    text = str(exc)
    if 'Connection refused' in text:
        return 'connection refused by %s' % host
    if 'Name or service not known' in text or 'nodename nor servname' in text:
        return 'host name of %s not found' % host
    if 'CERTIFICATE_VERIFY_FAILED' in text:
        return (
            'TLS certificate verification failed for %s; set ca_path to the CA bundle that signed the API\'s '
            'certificate' % host
        )
    if isinstance(exc, SSLError):
        return 'TLS handshake with %s failed' % host
    if (
        'RemoteDisconnected' in text
        or 'reset by peer' in text
        or 'ChunkedEncodingError' in type(exc).__name__
        or 'IncompleteRead' in text
        or 'ProtocolError' in text
    ):
        return 'connection to %s closed before the response was complete' % host
    return 'connection to %s failed (%s)' % (host, type(exc).__name__)


def exhausted_context(resends, waited, reasons):
    if not resends:
        return ''
    return '(gave up after %d %s over %.1f s; causes: %s)' % (
        resends,
        'resend' if resends == 1 else 'resends',
        waited,
        ', '.join(sorted(set(reasons))),
    )


def exhausted_message(last_failure, resends, waited, reasons):
    context = exhausted_context(resends, waited, reasons)
    return '%s %s' % (last_failure, context) if context else last_failure
