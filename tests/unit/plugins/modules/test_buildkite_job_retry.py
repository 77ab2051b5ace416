# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of retry_job in buildkite_job_retry: which failed PUTs are read as the API rejecting the retry."""

from __future__ import annotations

import pytest
import responses

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteClient, BuildkiteHTTPError
from ansible_collections.opskite.buildkite.plugins.module_utils._jobs import JobTarget
from ansible_collections.opskite.buildkite.plugins.modules.buildkite_job_retry import retry_job

API_URL = 'https://api.buildkite.com/v2'
JOB_ID = '0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b11'
RETRY_URL = '%s/organizations/acme/jobs/%s/retry' % (API_URL, JOB_ID)


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def test_redirected_retry_fails_without_reading_job(api):
    api.add(responses.PUT, RETRY_URL, status=302, headers={'Location': 'https://sso.example.com/login'})
    client = BuildkiteClient('bkua_token', API_URL, sleep=lambda seconds: None)

    with pytest.raises(BuildkiteHTTPError) as raised:
        retry_job(client, JobTarget('acme', job_id=JOB_ID), JOB_ID)

    assert raised.value.status == 302
    assert 'unexpected redirect to https://sso.example.com/login' in str(raised.value)
    assert 'set api_url to the final address' in str(raised.value)
    assert [call.request.method for call in api.calls] == ['PUT']
