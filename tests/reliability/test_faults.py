# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fault matrix: every plugin under every fault, each cell asserting its result and its requests.

Each cell is a row of the "faults" table in docs/reliability.md.
"""

from __future__ import annotations

import pytest
from matrix import FAULTS, WAYS, expect
from results import record

CELLS = [pytest.param(way, fault, id='%s | %s' % (way.name, fault.name)) for way in WAYS for fault in FAULTS]


def describe_outcome(failed, changed, waited, applied):
    """Return the observed outcome in the words the report uses."""
    text = 'failed' if failed else 'ok'
    if changed:
        text += ', changed'
    if waited:
        text += ', waited %.1f s' % waited
    if applied is not None:
        text += ', applied %d time%s' % (applied, '' if applied == 1 else 's')
    return text


@pytest.mark.parametrize('way, fault', CELLS)
def test_fault_cell(way, fault, simulator, run_way, refused_url, fake_time, happy_result):
    expected = expect(way, fault)
    baseline = happy_result(way) if expected.same_as_happy else None
    simulator.reset()
    if fault.spec is not None:
        simulator.add_faults(fault.spec)

    failed, result = run_way(way, refused_url if fault.spec is None else simulator.url)
    simulator.wait_for_requests()
    requests = simulator.requests()
    applied = simulator.times_applied(way)
    waited = sum(fake_time.sleeps)
    texts = result['warnings'] + ([result['msg']] if failed else [])
    phrase_found = any(expected.phrase in text for text in texts) if expected.phrase else not result['warnings']
    same = baseline is None or result['value'] == baseline

    expected_result = expected.result
    expected_outcome = describe_outcome(expected_result == 'failed', None, expected.waited, expected.applied)
    observed_outcome = describe_outcome(failed, None, waited, applied)
    passed = observed_outcome == expected_outcome and requests == expected.requests and phrase_found and same
    record(
        'faults',
        {
            'order': WAYS.index(way) * 100 + FAULTS.index(fault),
            'applied': applied,
            'plugin': way.name,
            'fault': fault.name,
            'expected': expected.summary,
            'outcome': observed_outcome,
            'requests': requests,
            'passed': passed,
        },
    )

    assert requests == expected.requests
    assert failed is (expected_result == 'failed'), result
    assert waited == pytest.approx(expected.waited)
    assert applied == expected.applied
    assert phrase_found, texts
    assert same
    if way.name == 'log dest' and fault.kind == 'truncated':
        assert len(result['value']) < len(happy_result(way))
        assert happy_result(way).startswith(result['value'])
