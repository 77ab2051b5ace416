# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""No double action and no false success: retry and unblock when the response to their PUT is lost.

The simulator either applies the change and then loses the response, or loses it without
applying the change. Each case checks the simulator's own count of applied changes. Each case is
a row of the "double_action" table in docs/reliability.md; the retry budget rows end it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from matrix import FLAKY_TEST, FLAKY_TEST_RETRY, HTML_ERROR_PAGE, RATE_LIMIT_MESSAGE, WAYS, job_request
from results import record

CHANGE_WAYS = [way for way in WAYS if way.changes]
INFO = next(way for way in WAYS if way.name == 'info')


@dataclass(frozen=True)
class Case:
    name: str
    faults: tuple
    applied_by_fault: bool
    # 'applied': the job reads as done, so the module reports success with a warning;
    # 'resent': one more PUT succeeds; 'failed': the module fails with ``phrase``.
    ending: str
    phrase: str


def put_fault(action, times=1, **spec):
    return dict(spec, action=action, method='PUT', times=times)


CASES = (
    Case(
        'applied, then HTTP 500 (JSON)',
        (put_fault('apply_then_status', status=500, body={'message': 'oops'}),),
        True,
        'applied',
        'was applied',
    ),
    Case(
        'applied, then HTTP 502 (HTML)',
        (put_fault('apply_then_status', status=502, body=HTML_ERROR_PAGE % 502, content_type='text/html'),),
        True,
        'applied',
        'was applied',
    ),
    Case(
        'applied, then HTTP 503 (empty body)',
        (put_fault('apply_then_status', status=503),),
        True,
        'applied',
        'was applied',
    ),
    Case(
        'applied, then HTTP 504 (empty body)',
        (put_fault('apply_then_status', status=504),),
        True,
        'applied',
        'was applied',
    ),
    Case('applied, then connection closed', (put_fault('apply_then_drop'),), True, 'applied', 'was applied'),
    Case('applied, then read timeout', (put_fault('apply_then_delay', seconds=1.5),), True, 'applied', 'was applied'),
    Case('applied, then reset mid-response', (put_fault('reset_mid_response'),), True, 'applied', 'was applied'),
    Case('applied, then truncated JSON', (put_fault('truncated_json'),), True, 'applied', 'was applied'),
    Case(
        'not applied: HTTP 503 once',
        (put_fault('status', status=503, body={'message': 'Service Unavailable'}),),
        False,
        'resent',
        'sending it once more',
    ),
    Case('not applied: connection closed once', (put_fault('drop'),), False, 'resent', 'sending it once more'),
    Case(
        'not applied: HTTP 503 twice',
        (put_fault('status', times=2, status=503, body={'message': 'Service Unavailable'}),),
        False,
        'failed',
        'got no usable response twice',
    ),
    Case(
        'not applied: connection closed twice',
        (put_fault('drop', times=2),),
        False,
        'failed',
        'got no usable response twice',
    ),
    Case(
        'retry budget: 429 on every PUT',
        (
            put_fault(
                'status',
                times=None,
                status=429,
                headers={'RateLimit-Remaining': '0', 'RateLimit-Reset': '7'},
                body={'message': RATE_LIMIT_MESSAGE, 'scope': 'rest'},
            ),
        ),
        False,
        'failed',
        'gave up after 2 resends over 15.0 s; causes: rate limited',
    ),
)


def expected_requests(way, case):
    put = way.first_request
    job_id = FLAKY_TEST if way.name == 'retry' else put.split('/')[5]
    reread = job_request('GET', job_id)
    if case.ending == 'applied':
        # A retried job is followed to its new attempt.
        return [put, reread, job_request('GET', FLAKY_TEST_RETRY)] if way.name == 'retry' else [put, reread]
    if case.ending == 'resent':
        return [put, reread, put]
    if 'budget' in case.name:
        return [put, put, put]
    return [put, reread, put, reread]


@pytest.mark.parametrize('case', CASES, ids=lambda case: case.name)
@pytest.mark.parametrize('way', CHANGE_WAYS, ids=lambda way: way.name)
def test_lost_response(way, case, simulator, run_way):
    simulator.add_faults(*case.faults)

    failed, result = run_way(way, simulator.url)
    simulator.wait_for_requests()
    requests = simulator.requests()
    applied = simulator.times_applied(way)
    texts = result['warnings'] + ([result['msg']] if failed else [])
    expected_applied = 0 if case.ending == 'failed' else 1
    expected = expected_requests(way, case)
    phrase_found = any(case.phrase in text for text in texts)
    passed = (
        failed is (case.ending == 'failed') and applied == expected_applied and requests == expected and phrase_found
    )
    record(
        'double_action',
        {
            'order': CHANGE_WAYS.index(way) * 100 + CASES.index(case),
            'applied': applied,
            'plugin': way.name,
            'case': case.name,
            'expected': {
                'applied': 'success with a warning, no resend',
                'resent': 'one resend, success with a warning',
                'failed': 'clear failure',
            }[case.ending],
            'outcome': '%s, applied %d time%s' % ('failed' if failed else 'ok', applied, '' if applied == 1 else 's'),
            'requests': requests,
            'passed': passed,
        },
    )

    assert requests == expected
    assert failed is (case.ending == 'failed'), result
    assert applied == expected_applied
    assert phrase_found, texts
    if not failed:
        assert result['changed'] is True
        assert len(result['warnings']) == 1


@pytest.mark.parametrize(
    'fault, phrase',
    [
        ({'action': 'status', 'status': 503, 'times': None}, 'gave up after 2 resends over 1.5 s; causes: HTTP 503'),
        (
            {'action': 'delay', 'seconds': 1.0, 'times': None},
            'gave up after 2 resends over 1.5 s; causes: no response from',
        ),
        (
            {'action': 'status', 'status': 429, 'times': None, 'headers': {'RateLimit-Reset': '20'}, 'body': {}},
            'gave up after 2 resends over 41.0 s; causes: rate limited',
        ),
    ],
    ids=['HTTP 503 on every GET', 'read timeout on every GET', '429 on every GET'],
)
def test_read_budget_runs_out(fault, phrase, simulator, run_way):
    simulator.add_faults(fault)

    failed, result = run_way(INFO, simulator.url)
    simulator.wait_for_requests()
    requests = simulator.requests()
    record(
        'double_action',
        {
            'order': 1000,
            'plugin': INFO.name,
            'case': 'retry budget: %s' % fault_label(fault),
            'expected': 'clear failure saying how long it waited and why',
            'outcome': 'failed' if failed else 'ok',
            'requests': requests,
            'passed': failed and phrase in result.get('msg', '') and requests == [INFO.first_request] * 3,
        },
    )

    assert failed
    assert phrase in result['msg']
    assert requests == [INFO.first_request] * 3


def fault_label(fault):
    if fault['action'] == 'delay':
        return 'read timeout on every GET'
    return 'HTTP %d on every GET' % fault['status']
