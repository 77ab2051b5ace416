# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Failure messages of buildkite_job_unblock, from the job and build as the API returns them."""

from __future__ import annotations

import pytest
import responses

from ansible_collections.opskite.buildkite.plugins.module_utils._client import (
    BuildkiteClient,
    BuildkiteConfigError,
    BuildkiteHTTPError,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._jobs import JobTarget
from ansible_collections.opskite.buildkite.plugins.modules.buildkite_job_unblock import (
    blocker,
    describe_unblocker,
    forbidden_hint,
    is_ready,
    unblock_job,
    validate_user_id,
)

GATE = {'id': 'gate', 'type': 'manual', 'state': 'blocked', 'unblockable': True}


def job(**changes):
    data = dict(GATE)
    data.update(changes)
    return data


def test_unblockable_gate_has_no_blocker():
    assert blocker(job()) is None


def test_command_job_names_its_type():
    assert blocker(job(type='script')) == 'The job is not a block step; its type is script'


def test_unreached_gate_says_wait_waits():
    reason = blocker(job(unblockable=False))

    assert 'has not reached the block step yet' in reason
    assert 'set wait=true to wait for it' in reason


def test_waiting_state_counts_as_unreached():
    assert 'has not reached the block step yet' in blocker(job(state='waiting', unblockable=False))


def test_canceled_build_from_api_message():
    reason = blocker(job(), api_message='Jobs from canceled builds cannot be unblocked')

    assert reason == 'The build was canceled, so its block steps can no longer be unblocked'


@pytest.mark.parametrize('state', ['canceled', 'canceling'])
def test_canceled_build_from_build_state(state):
    assert 'The build was canceled' in blocker(job(unblockable=False), build={'state': state})


def test_other_state_is_named():
    assert blocker(job(state='skipped', unblockable=False)) == "The block step's state is skipped"


def test_forbidden_explains_allowed_teams():
    hint = forbidden_hint('Forbidden')

    assert 'allowed_teams' in hint
    assert 'write access to the pipeline' in hint


def test_scope_message_gets_no_forbidden_hint():
    assert forbidden_hint("Your access token doesn't have the write_builds scope") is None


@pytest.mark.parametrize(
    'changes, ready',
    [({}, True), ({'unblockable': False}, False), ({'state': 'unblocked', 'unblockable': False}, True)],
)
def test_is_ready(changes, ready):
    assert is_ready(job(**changes)) is ready


def test_describe_unblocker_names_user_and_time():
    described = describe_unblocker(job(unblocked_by={'name': 'Dana'}, unblocked_at='2026-12-04T10:00:00.000Z'))

    assert described == 'Dana at 2026-12-04T10:00:00.000Z'


def test_describe_unblocker_without_user():
    assert describe_unblocker(job()) == 'someone'


def test_unblocker_uuid_is_normalized():
    assert validate_user_id(' 0199A1B2-0000-4000-8000-000000000002 ') == '0199a1b2-0000-4000-8000-000000000002'


@pytest.mark.parametrize('value', ['dana@example.com', '', '0199a1b2-0000-4000-8000-00000000000'])
def test_unblocker_must_be_uuid(value):
    with pytest.raises(BuildkiteConfigError) as raised:
        validate_user_id(value)

    assert raised.value.option == 'unblocker'
    assert 'unblocker must be the UUID of a Buildkite user' in str(raised.value)


def test_redirected_unblock_fails_without_reading_job():
    job_id = '0199a1b2-0000-4000-8000-000000000018'
    url = 'https://api.buildkite.com/v2/organizations/acme/jobs/%s/unblock' % job_id
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.add(responses.PUT, url, status=307, headers={'Location': 'https://sso.example.com/login'})
        client = BuildkiteClient('bkua_token', 'https://api.buildkite.com/v2', sleep=lambda seconds: None)

        with pytest.raises(BuildkiteHTTPError) as raised:
            unblock_job(client, JobTarget('acme', job_id=job_id), job_id, {}, False, 0, 1)

        assert raised.value.status == 307
        assert [call.request.method for call in api.calls] == ['PUT']
