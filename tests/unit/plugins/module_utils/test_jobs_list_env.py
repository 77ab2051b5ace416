# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of naming a build, listing its jobs page by page, and reading a job's environment."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteConfigError, BuildkiteError
from ansible_collections.opskite.buildkite.plugins.module_utils._jobs import (
    BuildkiteActionError,
    JobTarget,
    api_path_of,
    failing_as,
    failing_on_build,
    list_jobs,
    read_job_env,
    resolve_build,
)

API_URL = 'https://api.buildkite.com/v2'
BUILD_PATH = '/organizations/acme/pipelines/web/builds/1234'
JOBS_URL = API_URL + BUILD_PATH + '/jobs'
JOB_ID = '0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b11'


def build_target():
    return JobTarget('acme', 'web', 1234)


def config_error(function, *args):
    with pytest.raises(BuildkiteConfigError) as raised:
        function(*args)
    return raised.value


def query_of(call):
    return parse_qs(urlsplit(call.request.url).query)


def page(ids, next_after=None):
    """Return a list-jobs page in the API's shape, with a next link when ``next_after`` is given."""
    links = {'self': JOBS_URL, 'first': JOBS_URL, 'prev': None, 'next': None}
    if next_after:
        links['next'] = '%s?per_page=100&include_retried_jobs=true&after=%s' % (JOBS_URL, next_after)
    return {'items': [{'id': job_id, 'type': 'script', 'state': 'passed'} for job_id in ids], 'links': links}


# Naming the build to list


def test_resolve_build_from_pipeline_and_build():
    target = resolve_build({'organization': 'acme', 'pipeline': 'web', 'build': 1234})

    assert (target.organization, target.pipeline, target.build, target.job_id) == ('acme', 'web', 1234, None)


def test_resolve_build_from_build_url():
    target = resolve_build({'url': 'https://buildkite.com/acme/web/builds/1234'})

    assert target.build_path() == BUILD_PATH


def test_resolve_build_url_agreeing_with_options():
    target = resolve_build(
        {'organization': 'acme', 'pipeline': 'web', 'build': 1234, 'url': 'https://buildkite.com/acme/web/builds/1234'}
    )

    assert target.location() == 'acme/web#1234'


@pytest.mark.parametrize(
    'options, option, message',
    [
        ({'organization': 'acme'}, 'pipeline', 'pipeline and build (or a build url) are required'),
        ({'organization': 'acme', 'pipeline': 'web'}, 'build', 'build is missing'),
        ({'organization': 'acme', 'build': 1}, 'pipeline', 'pipeline is missing'),
        ({'pipeline': 'web', 'build': 1}, 'organization', 'organization is required'),
        ({'organization': 'Acme', 'pipeline': 'web', 'build': 1}, 'organization', 'must be a Buildkite slug'),
        ({'organization': 'acme', 'pipeline': 'web/x', 'build': 1}, 'pipeline', 'must be a Buildkite slug'),
        ({'organization': 'acme', 'pipeline': 'web', 'build': 0}, 'build', 'positive build number'),
        ({'url': 'https://buildkite.com/acme/web/builds/1#%s' % JOB_ID}, 'url', 'url names a job'),
        ({'url': 'https://buildkite.com/acme/web'}, 'url', 'must be a Buildkite web URL'),
        (
            {'organization': 'other', 'url': 'https://buildkite.com/acme/web/builds/1'},
            'organization',
            "organization is 'other'",
        ),
        ({'build': 2, 'url': 'https://buildkite.com/acme/web/builds/1'}, 'build', 'but url names build 1'),
    ],
)
def test_resolve_build_rejects_bad_options(options, option, message):
    error = config_error(resolve_build, options)

    assert error.option == option
    assert message in str(error)


# Listing jobs


def test_list_sends_filters_and_page_size(api, make_client):
    api.get(JOBS_URL, json=page(['a', 'b']))

    jobs = list_jobs(make_client(), build_target(), states=['failed', 'timed_out'], step_key='tests')

    assert [job['id'] for job in jobs] == ['a', 'b']
    assert query_of(api.calls[0]) == {
        'per_page': ['100'],
        'include_retried_jobs': ['true'],
        'state[]': ['failed', 'timed_out'],
        'step_key': ['tests'],
    }


def test_list_follows_next_links(api, make_client):
    api.get(
        JOBS_URL,
        json=page(['a', 'b'], next_after='c2'),
        match=[responses.matchers.query_param_matcher({'per_page': '100', 'include_retried_jobs': 'true'})],
    )
    api.get(
        JOBS_URL,
        json=page(['c', 'd'], next_after='c4'),
        match=[
            responses.matchers.query_param_matcher({'per_page': '100', 'include_retried_jobs': 'true', 'after': 'c2'})
        ],
    )
    api.get(
        JOBS_URL,
        json=page(['e']),
        match=[
            responses.matchers.query_param_matcher({'per_page': '100', 'include_retried_jobs': 'true', 'after': 'c4'})
        ],
    )

    jobs = list_jobs(make_client(), build_target())

    assert [job['id'] for job in jobs] == ['a', 'b', 'c', 'd', 'e']
    assert len(api.calls) == 3


def test_list_of_empty_build_is_empty(api, make_client):
    api.get(JOBS_URL, json=page([]))

    assert list_jobs(make_client(), build_target()) == []


def test_list_rejects_next_link_to_another_host(api, make_client, token):
    foreign = page(['a'])
    foreign['links']['next'] = 'https://evil.example.com/v2/organizations/acme/pipelines/web/builds/1234/jobs?after=x'
    api.get(JOBS_URL, json=foreign)

    with pytest.raises(BuildkiteError) as raised:
        list_jobs(make_client(), build_target())

    assert 'outside api_url https://api.buildkite.com/v2' in str(raised.value)
    assert len(api.calls) == 1
    assert token not in str(raised.value)


def test_list_stops_on_repeated_next_link(api, make_client):
    api.get(JOBS_URL, json=page(['a'], next_after='same'))
    api.get(JOBS_URL, json=page(['b'], next_after='same'))

    with pytest.raises(BuildkiteError) as raised:
        list_jobs(make_client(), build_target())

    assert 'same next-page link twice' in str(raised.value)


def test_list_without_items_is_an_error(api, make_client):
    api.get(JOBS_URL, json={'jobs': []})

    with pytest.raises(BuildkiteError) as raised:
        list_jobs(make_client(), build_target())

    assert 'no "items" array' in str(raised.value)


def test_list_error_names_build(api, make_client):
    api.get(JOBS_URL, status=404, json={'message': 'No build found'})

    with pytest.raises(BuildkiteActionError) as raised:
        with failing_on_build('list the jobs of', build_target()):
            list_jobs(make_client(), build_target())

    assert str(raised.value).startswith('Failed to list the jobs of build acme/web#1234: HTTP 404: No build found.')
    assert raised.value.status == 404


@pytest.mark.parametrize(
    'link, expected',
    [
        (API_URL + BUILD_PATH + '/jobs?after=abc&per_page=100', BUILD_PATH + '/jobs?after=abc&per_page=100'),
        (API_URL + BUILD_PATH + '/jobs', BUILD_PATH + '/jobs'),
        ('https://API.buildkite.com/v2/x', '/x'),
    ],
)
def test_api_path_of_link(make_client, link, expected):
    assert api_path_of(make_client(), link) == expected


@pytest.mark.parametrize(
    'link',
    [
        'http://api.buildkite.com/v2/x',
        'https://api.buildkite.com:8443/v2/x',
        'https://api.buildkite.com/v3/x',
        'https://api.buildkite.com/v2',
        'https://api.buildkite.com.evil.example/v2/x',
        '/v2/x',
        None,
    ],
)
def test_api_path_of_foreign_link(make_client, link):
    with pytest.raises(BuildkiteError):
        api_path_of(make_client(), link)


# Reading a job's environment


def test_env_read_through_build_route(api, make_client):
    api.get('%s%s/jobs/%s/env' % (API_URL, BUILD_PATH, JOB_ID), json={'env': {'A': 'x\ny', 'B': ''}})

    env = read_job_env(make_client(), build_target(), JOB_ID)

    assert env == {'A': 'x\ny', 'B': ''}


def test_env_read_through_organization_route(api, make_client):
    api.get('%s/organizations/acme/jobs/%s/env' % (API_URL, JOB_ID), json={'env': {}})

    assert read_job_env(make_client(), JobTarget('acme', job_id=JOB_ID), JOB_ID) == {}


@pytest.mark.parametrize('body', [{'environment': {}}, {'env': ['A=1']}, []])
def test_env_response_without_env_object_is_an_error(api, make_client, body):
    api.get('%s/organizations/acme/jobs/%s/env' % (API_URL, JOB_ID), json=body)

    with pytest.raises(BuildkiteError) as raised:
        read_job_env(make_client(), JobTarget('acme', job_id=JOB_ID), JOB_ID)

    assert 'no "env" object' in str(raised.value)


def test_env_missing_scope_names_scope(api, make_client, load_fixture):
    api.get(
        '%s/organizations/acme/jobs/%s/env' % (API_URL, JOB_ID),
        status=403,
        json={'message': "Your access token doesn't have the read_job_env scope"},
    )
    target = JobTarget('acme', job_id=JOB_ID)

    with pytest.raises(BuildkiteActionError) as raised:
        with failing_as('read the environment of', target):
            read_job_env(make_client(), target, JOB_ID)

    assert str(raised.value) == (
        'Failed to read the environment of job %s in acme: HTTP 403: Your access token doesn\'t have the '
        'read_job_env scope. Create a token with the read_job_env scope at '
        'https://buildkite.com/user/api-access-tokens' % JOB_ID
    )
