# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fault matrix: each way of calling a plugin, each injected fault, and the outcome each cell expects.

A fault applies once, to the plugin's first request. The client in the cells may resend twice
(``api_retries: 2``), times out after 0.5 s, and waits on a fake clock with no jitter, so its
waits are exact: 0.5 s, then 1.0 s of backoff after a server error or a failed connection, and
``reset + 0.5`` s after a 429.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The simulator's token with every scope, and the organization of its "retry" scenario.
TOKEN = 'sim-token-full'
ORGANIZATION = 'acme'
FLAKY_TEST = '0199a1b2-3000-4000-8000-000000000001'
# The attempt that the simulator creates when it retries FLAKY_TEST.
FLAKY_TEST_RETRY = 'c05542ea-b152-518f-ae5b-8f02b805ae24'
RELEASE_GATE = '0199a1b2-3000-4000-8000-000000000018'
ORGANIZATION_JOBS = '/v2/organizations/acme/jobs/'

RATE_LIMIT_MESSAGE = 'You have exceeded your API rate limit. Please wait 7 seconds before making more requests.'
HTML_ERROR_PAGE = '<html><head><title>%d Bad Gateway</title></head><body><h1>nginx</h1></body></html>'
REDIRECT_LOCATION = 'http://127.0.0.2:9/v2/moved'
FIRST_BACKOFF = 0.5


def job_request(method, job_id, suffix=''):
    return '%s %s%s%s' % (method, ORGANIZATION_JOBS, job_id, suffix)


@dataclass(frozen=True)
class Way:
    """One way of calling a plugin: a module with options, or the lookup with a job id as its term."""

    name: str
    plugin: str
    options: dict
    # The requests of a run without faults, as "METHOD path" strings; the fault hits the first.
    happy_requests: tuple
    # The job a retry or unblock changes, as a simulator alias; None for read-only ways.
    changes: str | None = None
    lookup: bool = False

    @property
    def first_request(self):
        return self.happy_requests[0]


WAYS = (
    Way(
        'retry',
        'buildkite_job_retry',
        {'job': FLAKY_TEST},
        (job_request('PUT', FLAKY_TEST, '/retry'),),
        changes='flaky_test',
    ),
    Way(
        'unblock',
        'buildkite_job_unblock',
        {'job': RELEASE_GATE},
        (job_request('PUT', RELEASE_GATE, '/unblock'),),
        changes='release_gate',
    ),
    Way('log read', 'buildkite_job_log', {'job': FLAKY_TEST}, (job_request('GET', FLAKY_TEST, '/log'),)),
    Way(
        'log dest',
        'buildkite_job_log',
        {'job': FLAKY_TEST, 'dest': '{tmp}/job.log'},
        (job_request('GET', FLAKY_TEST, '/log.txt'),),
    ),
    Way(
        'log tail_lines',
        'buildkite_job_log',
        {'job': FLAKY_TEST, 'tail_lines': 3},
        (job_request('GET', FLAKY_TEST, '/log'),),
    ),
    Way(
        'log absent',
        'buildkite_job_log',
        {'job': FLAKY_TEST, 'state': 'absent'},
        (job_request('HEAD', FLAKY_TEST, '/log'), job_request('DELETE', FLAKY_TEST, '/log')),
    ),
    Way('info', 'buildkite_job_info', {'job': FLAKY_TEST}, (job_request('GET', FLAKY_TEST),)),
    Way('env lookup', 'buildkite_job_env', {}, (job_request('GET', FLAKY_TEST, '/env'),), lookup=True),
)


@dataclass(frozen=True)
class Fault:
    """An injected fault: the simulator's fault spec, or None for a refused connection."""

    name: str
    spec: dict | None = field(default=None)
    kind: str = 'transient'
    # The wait the client should choose: the 429's reset plus 0.5 s, or Retry-After.
    wait: float = FIRST_BACKOFF
    status: int | None = None
    retry_after: bool = False


def rate_limited(name, headers, body=None, wait=7.5):
    payload = {'message': RATE_LIMIT_MESSAGE}
    payload.update(body or {})
    spec = {'action': 'status', 'status': 429, 'headers': headers, 'body': payload}
    return Fault(name, spec, kind='rate_limited', wait=wait, status=429)


def server_error(status, body_kind, retry_after=False):
    headers = {'Retry-After': '4'} if retry_after else {}
    spec = {'action': 'status', 'status': status, 'headers': headers}
    if body_kind == 'JSON':
        spec['body'] = {'message': 'Simulated server error'}
    elif body_kind == 'HTML':
        spec['body'] = HTML_ERROR_PAGE % status
        spec['content_type'] = 'text/html; charset=utf-8'
    name = 'HTTP %d%s, %s body' % (status, ' with Retry-After: 4' if retry_after else '', body_kind)
    wait = 4.0 if retry_after else FIRST_BACKOFF
    return Fault(name, spec, kind='server_error', wait=wait, status=status, retry_after=retry_after)


FAULTS = (
    rate_limited('429, RateLimit-Reset: 7', {'RateLimit-Remaining': '0', 'RateLimit-Reset': '7'}, {'scope': 'rest'}),
    rate_limited(
        '429, RateLimit-User-Reset: 7',
        {
            'RateLimit-Remaining': '150',
            'RateLimit-Reset': '40',
            'RateLimit-User-Remaining': '0',
            'RateLimit-User-Reset': '7',
        },
        {'scope': 'rest_user'},
    ),
    rate_limited("429, only the body's reset: 7", {}, {'scope': 'rest_user', 'limit': 50, 'current': 51, 'reset': 7}),
    rate_limited(
        '429, RateLimit-Remaining: -3, no scope',
        {
            'RateLimit-Remaining': '-3',
            'RateLimit-Reset': '7',
            'RateLimit-User-Remaining': '20',
            'RateLimit-User-Reset': '45',
        },
    ),
    # No header or body gives a reset time, so the client waits its base backoff of 1 s plus 0.5 s.
    rate_limited('429, only RateLimit-Remaining: -3', {'RateLimit-Remaining': '-3'}, wait=1.5),
    *(
        server_error(status, body_kind, retry_after)
        for status, retry_after in ((500, False), (502, False), (503, False), (503, True), (504, False))
        for body_kind in ('JSON', 'HTML', 'empty')
    ),
    Fault('connection refused', None, kind='refused'),
    Fault('reset mid-response', {'action': 'reset_mid_response'}, kind='reset'),
    # The simulator handles the request after the delay, so a delayed PUT still acts, late.
    Fault('read timeout', {'action': 'delay', 'seconds': 1.5}, kind='timeout'),
    Fault('truncated JSON', {'action': 'truncated_json'}, kind='truncated'),
    Fault('200 with an HTML body', {'action': 'non_json'}, kind='non_json'),
    Fault(
        'redirect to another host',
        {'action': 'redirect', 'status': 302, 'location': REDIRECT_LOCATION},
        kind='redirect',
    ),
)


@dataclass
class Expected:
    """What a cell must end in: the result, the requests the simulator sees, the wait and the message."""

    result: str
    requests: list
    # The seconds the client sleeps in all, on the fake clock.
    waited: float
    # Text that the failure message or one warning contains; None means no warning at all.
    phrase: str | None
    # Plain words for the report.
    summary: str
    # How often the simulator applied the change (retry and unblock only).
    applied: int | None = None
    # Whether the result must equal a run without faults (content, env, job, saved file).
    same_as_happy: bool = True


def expect(way, fault):
    """Return the Expected outcome of ``fault`` hitting the first request of ``way``."""
    first = way.first_request
    happy = list(way.happy_requests)
    changed_job = FLAKY_TEST if way.name == 'retry' else RELEASE_GATE
    reread = job_request('GET', changed_job)

    if fault.kind == 'refused':
        return Expected(
            'failed',
            [],
            FIRST_BACKOFF + 1.0,
            'connection refused by 127.0.0.1',
            'fails after 2 resends over 1.5 s, naming the refused host',
            applied=0 if way.changes else None,
            same_as_happy=False,
        )
    if fault.kind == 'redirect':
        return Expected(
            'failed',
            [first],
            0.0,
            'unexpected redirect to %s' % REDIRECT_LOCATION,
            'fails at once, names the redirect target; the redirect is not followed',
            applied=0 if way.changes else None,
            same_as_happy=False,
        )
    if fault.kind == 'rate_limited' and first.startswith('HEAD ') and not fault.spec['headers']:
        # A HEAD response has no body, so the body's reset is lost and the base backoff applies.
        return Expected(
            'ok',
            [first, *happy],
            1.5,
            'was rate limited (HTTP 429); waiting 1.5 s',
            'HEAD response has no body to carry the reset: waits the 1.5 s fallback, resends, succeeds',
        )
    if fault.kind == 'rate_limited':
        return Expected(
            'ok',
            [first, *happy],
            fault.wait,
            'was rate limited (HTTP 429); waiting %.1f s' % fault.wait,
            'waits %.1f s, resends, succeeds' % fault.wait,
            applied=1 if way.changes else None,
        )

    if way.changes:
        return expect_change(way, fault, first, reread)

    if fault.kind == 'server_error':
        return Expected(
            'ok',
            [first, *happy],
            fault.wait,
            'failed with HTTP %d; resending in %.1f s' % (fault.status, fault.wait),
            'waits %.1f s, resends, succeeds' % fault.wait,
        )
    if fault.kind == 'timeout':
        return Expected('ok', [first, *happy], FIRST_BACKOFF, 'within 0.5 s (timeout)', 'resends after 0.5 s, succeeds')
    return expect_body_fault(way, fault, first, happy)


def expect_change(way, fault, first, reread):
    """Return the outcome of a fault on a retry or unblock PUT, which must never act twice."""
    action = way.name
    # Reading the retried job follows retried_in_job_id to the new attempt.
    applied_reads = [reread, job_request('GET', FLAKY_TEST_RETRY)] if action == 'retry' else [reread]
    if fault.kind in ('reset', 'truncated'):
        return Expected(
            'ok',
            [first, *applied_reads],
            0.0,
            'but the job now reads as done, so the %s was applied' % action,
            'applied, response lost: re-reads the job, succeeds with a warning, no resend',
            applied=1,
        )
    # A server error, an HTML page or a timeout before the simulator acted: the job reads as not
    # done, so the PUT is sent once more. The delayed first PUT of a timeout acts late and is rejected.
    if fault.retry_after:
        return Expected(
            'ok',
            [first, reread, first],
            fault.wait,
            'does not read as done after waiting %.1f s (Retry-After); sending it once more' % fault.wait,
            'not applied: waits %.1f s (Retry-After), re-reads the job, sends the %s once more, succeeds with a '
            'warning' % (fault.wait, action),
            applied=1,
        )
    return Expected(
        'ok',
        [first, reread, first],
        0.0,
        'does not read as done; sending it once more',
        'not applied: re-reads the job, sends the %s once more, succeeds with a warning' % action,
        applied=1,
    )


def expect_body_fault(way, fault, first, happy):
    """Return the outcome of a reset, a truncated body or an HTML page on a read-only request."""
    if way.name == 'log absent':
        if fault.kind == 'non_json':
            return Expected(
                'ok',
                [first, *happy],
                FIRST_BACKOFF,
                'text/html body where text/plain was requested',
                'rejects the HTML page, resends after 0.5 s, deletes the log',
            )
        # A HEAD response has no body to cut or truncate.
        return Expected('ok', happy, 0.0, None, 'no effect: a HEAD response has no body')
    if way.name == 'log read':
        # The JSON form of the log failed to arrive whole; the module reads the text with Range instead.
        return Expected(
            'ok', [first, first], 0.0, None, 'reads the log again with a Range request, returns the whole log'
        )
    if way.name == 'log dest' and fault.kind == 'reset':
        return Expected(
            'ok',
            [first, first],
            FIRST_BACKOFF,
            'the log download failed (connection to 127.0.0.1',
            'downloads the log again after 0.5 s, saves it whole',
        )
    if way.name == 'log dest' and fault.kind == 'truncated':
        return Expected(
            'ok',
            [first],
            0.0,
            None,
            'NOT DETECTED: saves the shorter text, because a complete plain-text response has nothing to check it by',
            same_as_happy=False,
        )
    phrases = {
        'reset': ('closed before the response was complete', 'resends after 0.5 s, succeeds'),
        'truncated': ('not valid JSON', 'rejects the invalid JSON, resends after 0.5 s, succeeds'),
        'non_json': ('not valid JSON', 'rejects the HTML page, resends after 0.5 s, succeeds'),
    }
    phrase, summary = phrases[fault.kind]
    if way.name in ('log dest', 'log tail_lines') and fault.kind == 'non_json':
        phrase = 'text/html body where text/plain was requested'
    if way.name == 'log tail_lines' and fault.kind == 'truncated':
        phrase = 'where its Content-Range promises'
        summary = 'rejects the body shorter than its Content-Range, resends after 0.5 s, succeeds'
    return Expected('ok', [first, first], FIRST_BACKOFF, phrase, summary)
