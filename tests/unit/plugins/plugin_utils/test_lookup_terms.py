# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the lookup glue: terms to jobs, option origins in messages, options to a client."""

from __future__ import annotations

import pytest

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteClient, BuildkiteConfigError
from ansible_collections.opskite.buildkite.plugins.plugin_utils._lookup import (
    client_from_lookup,
    describe_origin,
    target_from_term,
)

JOB_ID = '0199a1b2-3000-4000-8000-000000000001'
JOB_URL = 'https://buildkite.com/acme/web/builds/101#%s' % JOB_ID


def term_error(*args):
    with pytest.raises(BuildkiteConfigError) as raised:
        target_from_term(*args)
    return raised.value


class FakeLookup(object):
    """Stands in for a LookupModule whose options were set: get_option returns ``options`` values."""

    def __init__(self, **options):
        self.options = options

    def get_option(self, name):
        return self.options.get(name)


# Terms


def test_uuid_term_uses_organization_route():
    target = target_from_term(JOB_ID, 1, 'acme')

    assert target.job_path(target.job_id, '/env') == '/organizations/acme/jobs/%s/env' % JOB_ID
    assert target.describe() == 'job %s in acme' % JOB_ID


def test_uuid_term_is_normalized():
    assert target_from_term('  %s\n' % JOB_ID.upper(), 1, 'acme').job_id == JOB_ID


def test_url_term_uses_build_route():
    target = target_from_term(JOB_URL, 1)

    assert target.job_path(target.job_id, '/env') == (
        '/organizations/acme/pipelines/web/builds/101/jobs/%s/env' % JOB_ID
    )
    assert target.describe() == 'job %s in acme/web#101' % JOB_ID


def test_url_term_with_job_prefix_fragment():
    assert target_from_term(JOB_URL.replace('#', '#job-'), 1).job_id == JOB_ID


def test_url_term_agreeing_organization_is_accepted():
    assert target_from_term(JOB_URL, 1, 'acme').organization == 'acme'


def test_url_term_needs_no_organization():
    assert target_from_term(JOB_URL, 1, None).organization == 'acme'


def test_url_term_disagreeing_organization_names_both_and_origin():
    error = term_error(JOB_URL, 2, 'globex', 'the environment variable BUILDKITE_ORGANIZATION_SLUG')

    assert error.option == 'organization'
    assert str(error) == (
        "organization is 'globex' (from the environment variable BUILDKITE_ORGANIZATION_SLUG) but term 2 names "
        "organization 'acme'; remove one of them or make them agree"
    )


def test_uuid_term_needs_organization():
    error = term_error(JOB_ID, 1, None)

    assert error.option == 'organization'
    assert 'organization is required for term 1, a job UUID' in str(error)
    assert 'buildkite_organization' in str(error)
    assert "give the job's web URL" in str(error)


def test_uuid_term_with_invalid_organization_is_rejected():
    error = term_error(JOB_ID, 1, 'Acme Corp')

    assert error.option == 'organization'
    assert 'must be a Buildkite slug' in str(error)


@pytest.mark.parametrize(
    'term, message',
    [
        ('not-a-job', 'term 3 must be a job UUID'),
        ('%s/retry' % JOB_ID, 'term 3 is not a valid job web URL'),
        ('https://buildkite.com/acme/web/builds/101', 'term 3 names a build but no job'),
        ('https://buildkite.com/acme/web/builds/101#nope', 'term 3 is not a valid job web URL'),
        ('https://buildkite.com/acme/web', 'term 3 is not a valid job web URL'),
        ('buildkite.com/acme/web/builds/101#%s' % JOB_ID, 'term 3 is not a valid job web URL'),
        ('', 'term 3 must be a job UUID or a job\'s web URL'),
        (None, 'term 3 must be a job UUID or a job\'s web URL'),
        (42, 'term 3 must be a job UUID or a job\'s web URL'),
    ],
)
def test_invalid_term_is_rejected_naming_it(term, message):
    error = term_error(term, 3, 'acme')

    assert error.option == '_terms'
    assert message in str(error)


# Origins


@pytest.mark.parametrize(
    'origin, expected',
    [
        ('Direct', 'the keyword argument organization'),
        ('var: buildkite_organization', 'the variable buildkite_organization'),
        ('env: BUILDKITE_ORGANIZATION_SLUG', 'the environment variable BUILDKITE_ORGANIZATION_SLUG'),
        ('/etc/ansible/ansible.cfg', 'organization in the [buildkite] section of /etc/ansible/ansible.cfg'),
        ('default', 'the default'),
    ],
)
def test_describe_origin(origin, expected):
    assert describe_origin('organization', origin) == expected


# Client


def test_client_from_lookup_uses_every_connection_option():
    client = client_from_lookup(
        FakeLookup(
            api_token=' bkua_token\n',
            api_url='http://127.0.0.1:8080/v2/',
            validate_certs=True,
            ca_path=None,
            timeout=7.5,
            api_retries=2,
            organization='acme',
        )
    )

    assert isinstance(client, BuildkiteClient)
    assert client.api_url == 'http://127.0.0.1:8080/v2'
    assert client.timeout == 7.5
    assert client.api_retries == 2
    client.close()


@pytest.mark.parametrize(
    'options, option',
    [
        ({'api_token': None, 'timeout': 30.0, 'api_retries': 5}, 'api_token'),
        ({'api_token': 't', 'api_url': 'ftp://x/v2', 'timeout': 30.0, 'api_retries': 5}, 'api_url'),
        ({'api_token': 't', 'timeout': 0, 'api_retries': 5}, 'timeout'),
        ({'api_token': 't', 'timeout': 30.0, 'api_retries': 99}, 'api_retries'),
        ({'api_token': 't', 'timeout': 30.0, 'api_retries': 5, 'ca_path': '/nonexistent.pem'}, 'ca_path'),
    ],
)
def test_client_from_lookup_rejects_bad_options(options, option):
    with pytest.raises(BuildkiteConfigError) as raised:
        client_from_lookup(FakeLookup(**options))

    assert raised.value.option == option
    assert option in str(raised.value)
