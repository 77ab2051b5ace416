# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of job addressing, reading a build, following retries, waiting and sending changes."""

from __future__ import annotations

import pytest
import requests
import responses
from urllib3.exceptions import ProtocolError

from ansible_collections.opskite.buildkite.plugins.module_utils._client import (
    BuildkiteConfigError,
    BuildkiteError,
    BuildkiteHTTPError,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._jobs import (
    BuildkiteActionError,
    BuildkiteWaitTimeout,
    JobTarget,
    failing_as,
    find_in_build,
    find_step_job,
    follow_retries,
    get_build,
    latest_in_build,
    parse_web_url,
    resolve_target,
    send_change,
    validate_build_number,
    validate_job_id,
    validate_slug,
    validate_step_key,
    wait_for_job,
)

API_URL = 'https://api.buildkite.com/v2'
BUILD_PATH = '/organizations/acme/pipelines/web/builds/1234'
BUILD_URL = API_URL + BUILD_PATH
WEB_BUILD_URL = 'https://buildkite.com/acme/web/builds/1234'

# The jobs of build 1234 (fixtures/build_1234.json): the tests step was retried by hand and then
# automatically, lint is a parallel step of two jobs, deploy-gate is a block step.
TESTS_FIRST = '0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b11'
TESTS_SECOND = '0198c2a9-8d02-7c44-a1b6-5e7f9a0b1c22'
TESTS_LATEST = '0198c2ae-2b57-7e10-8c3f-7a9b0c1d2e33'
LINT_FIRST = '0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b44'
LINT_SECOND = '0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b55'
GATE = '0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b77'


def build_target(job_id=None, step_key=None):
    return JobTarget('acme', 'web', 1234, job_id, step_key)


def organization_target(job_id=None):
    return JobTarget('acme', job_id=job_id)


def build_job_url(job_id, suffix=''):
    return '%s/jobs/%s%s' % (BUILD_URL, job_id, suffix)


def organization_job_url(job_id, suffix=''):
    return '%s/organizations/acme/jobs/%s%s' % (API_URL, job_id, suffix)


def sent(api):
    return [(call.request.method, call.request.url) for call in api.calls]


def job_in_build(build, job_id):
    return next(job for job in build['jobs'] if job['id'] == job_id)


def config_error(function, *args):
    with pytest.raises(BuildkiteConfigError) as raised:
        function(*args)
    return raised.value


# JobTarget routes


def test_build_scoped_job_path():
    assert build_target().job_path(TESTS_FIRST) == BUILD_PATH + '/jobs/' + TESTS_FIRST


def test_organization_scoped_job_path():
    assert organization_target().job_path(TESTS_FIRST) == '/organizations/acme/jobs/' + TESTS_FIRST


@pytest.mark.parametrize(
    'target, expected',
    [
        (build_target(), BUILD_PATH + '/jobs/%s/retry' % TESTS_FIRST),
        (organization_target(), '/organizations/acme/jobs/%s/retry' % TESTS_FIRST),
    ],
)
def test_job_path_appends_suffix(target, expected):
    assert target.job_path(TESTS_FIRST, '/retry') == expected


def test_pipeline_without_build_uses_organization_route():
    target = JobTarget('acme', pipeline='web')

    assert target.job_path(TESTS_FIRST) == '/organizations/acme/jobs/' + TESTS_FIRST


def test_build_path():
    assert build_target().build_path() == BUILD_PATH


@pytest.mark.parametrize(
    'organization, pipeline, job_id, expected',
    [
        ('ac/me', 'web', 'x', '/organizations/ac%2Fme/pipelines/web/builds/7/jobs/x'),
        ('acme', 'we b', 'x', '/organizations/acme/pipelines/we%20b/builds/7/jobs/x'),
        ('acme', 'web', '../../admin', '/organizations/acme/pipelines/web/builds/7/jobs/..%2F..%2Fadmin'),
        ('acme', 'wéb', 'x?y#z', '/organizations/acme/pipelines/w%C3%A9b/builds/7/jobs/x%3Fy%23z'),
        ('acme', 'web', '%2F', '/organizations/acme/pipelines/web/builds/7/jobs/%252F'),
    ],
)
def test_path_segments_are_quoted(organization, pipeline, job_id, expected):
    assert JobTarget(organization, pipeline, 7).job_path(job_id) == expected


def test_organization_route_is_quoted():
    assert JobTarget('ac/me').job_path('a b') == '/organizations/ac%2Fme/jobs/a%20b'


@pytest.mark.parametrize(
    'target, expected',
    [
        (build_target(TESTS_FIRST), 'job %s in acme/web#1234' % TESTS_FIRST),
        (organization_target(TESTS_FIRST), 'job %s in acme' % TESTS_FIRST),
        (build_target(step_key='tests'), 'the job of step tests in acme/web#1234'),
    ],
)
def test_describe_names_job_and_location(target, expected):
    assert target.describe() == expected


def test_with_build_of_reads_build_from_job(load_fixture):
    job = load_fixture('job_tests_failed.json')

    target = organization_target(TESTS_FIRST).with_build_of(job)

    assert target.job_path(TESTS_FIRST) == BUILD_PATH + '/jobs/' + TESTS_FIRST


def test_with_build_of_keeps_target_without_build_url():
    target = organization_target(TESTS_FIRST)

    assert target.with_build_of({'id': TESTS_FIRST, 'build_url': None}) is target


# Validation of single values


@pytest.mark.parametrize('value', ['acme', 'acme-inc', 'acme_inc', '9lives', 'a'])
def test_valid_slug_is_accepted(value):
    assert validate_slug('organization', value) == value


@pytest.mark.parametrize('value', ['Acme', '..', '-acme', 'ac/me', 'ac%2Fme', 'acmé', 'ac me', '', None, 'a' * 101])
def test_invalid_slug_is_rejected_naming_option(value):
    error = config_error(validate_slug, 'pipeline', value)

    assert error.option == 'pipeline'
    assert str(error) == (
        'pipeline must be a Buildkite slug (lowercase letters, digits, "-" and "_", as in '
        'https://buildkite.com/<organization>/<pipeline>), got %r' % (value,)
    )


def test_job_id_is_lowercased_and_stripped():
    assert validate_job_id('job', ' 0198C2A4-1F3E-7B21-9D4A-3C5E7F9A0B11 ') == TESTS_FIRST


@pytest.mark.parametrize(
    'value', ['0198c2a4', '0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b1g', 'job-' + TESTS_FIRST, '', None, 42]
)
def test_invalid_job_id_is_rejected_naming_option(value):
    error = config_error(validate_job_id, 'job', value)

    assert error.option == 'job'
    assert str(error).startswith('job must be a job UUID such as 01234567-89ab-cdef-0123-456789abcdef')


@pytest.mark.parametrize('value', [0, -1, 2**31, True, '1234', None, 12.5])
def test_invalid_build_number_is_rejected_naming_option(value):
    error = config_error(validate_build_number, 'build', value)

    assert error.option == 'build'
    assert str(error) == 'build must be a positive build number (the number in .../builds/<number>), got %r' % (value,)


@pytest.mark.parametrize('value', ['tests', 'deploy-gate', 'deploy:production', 'rspec/unit.fast', '_setup'])
def test_valid_step_key_is_accepted(value):
    assert validate_step_key(value) == value


@pytest.mark.parametrize('value', ['', 'deploy gate', 'deploy\ngate', None])
def test_invalid_step_key_is_rejected(value):
    error = config_error(validate_step_key, value)

    assert error.option == 'step_key'


# Web URLs


def test_web_url_with_job_fragment_is_parsed():
    parsed = parse_web_url('%s#%s' % (WEB_BUILD_URL, TESTS_FIRST))

    assert parsed == {'organization': 'acme', 'pipeline': 'web', 'build': 1234, 'job': TESTS_FIRST}


def test_web_url_fragment_with_job_prefix_is_parsed():
    assert parse_web_url('%s#job-%s' % (WEB_BUILD_URL, TESTS_FIRST))['job'] == TESTS_FIRST


def test_web_url_with_trailing_slash_is_parsed():
    assert parse_web_url('%s/#%s' % (WEB_BUILD_URL, TESTS_FIRST))['job'] == TESTS_FIRST


def test_web_url_without_job_has_no_job():
    assert parse_web_url(WEB_BUILD_URL) == {'organization': 'acme', 'pipeline': 'web', 'build': 1234, 'job': None}


def test_web_url_job_id_is_lowercased():
    assert parse_web_url('%s#%s' % (WEB_BUILD_URL, TESTS_FIRST.upper()))['job'] == TESTS_FIRST


def test_web_url_surrounding_whitespace_is_ignored():
    assert parse_web_url('  %s#%s\n' % (WEB_BUILD_URL, TESTS_FIRST))['build'] == 1234


@pytest.mark.parametrize(
    'url',
    [
        'https://buildkite.com/acme/web/builds/abc#' + TESTS_FIRST,
        'https://buildkite.com/acme/web/builds/-3',
        'https://buildkite.com/acme/web/builds/12.5',
    ],
)
def test_web_url_with_non_numeric_build_is_rejected(url):
    error = config_error(parse_web_url, url)

    assert error.option == 'url'
    assert str(error) == 'url must contain a positive build number after /builds/, got %r' % url


@pytest.mark.parametrize('build', ['1\u00b2', '\u0661\u0662\u0663\u0664', '\uff11\uff12'])
def test_web_url_with_non_ascii_digits_is_rejected(build):
    # str.isdigit() accepts superscripts and other scripts' digits, which int() rejects or reads as a
    # different build number.
    error = config_error(parse_web_url, 'https://buildkite.com/acme/web/builds/' + build)

    assert error.option == 'url'


@pytest.mark.parametrize(
    'url',
    [
        'https://example.com/acme/web/builds/101#' + TESTS_FIRST,
        'https://buildkite.com.example.net/acme/web/builds/101',
        'https://api.buildkite.com/acme/web/builds/101',
        'https://user@evil.example/acme/web/builds/101',
    ],
)
def test_web_url_on_another_host_is_rejected(url):
    error = config_error(parse_web_url, url)

    assert error.option == 'url'
    assert str(error).startswith('url must be a web URL on buildkite.com')
    assert 'copy the URL from the build page' in str(error)


@pytest.mark.parametrize('host', ['buildkite.com', 'BuildKite.com', 'www.buildkite.com', 'buildkite.com:443'])
def test_web_url_on_buildkite_com_is_accepted(host):
    assert parse_web_url('https://%s/acme/web/builds/101' % host)['build'] == 101


def test_web_url_with_build_zero_is_rejected():
    error = config_error(parse_web_url, 'https://buildkite.com/acme/web/builds/0')

    assert error.option == 'url'
    assert 'positive build number' in str(error)


@pytest.mark.parametrize(
    'url',
    [
        'https://buildkite.com/acme/web',
        'https://buildkite.com/acme/web/builds',
        'https://buildkite.com/acme/web/builds/1234/jobs/' + TESTS_FIRST,
        'buildkite.com/acme/web/builds/1234',
        'ftp://buildkite.com/acme/web/builds/1234',
        '',
        None,
    ],
)
def test_non_build_url_is_rejected(url):
    error = config_error(parse_web_url, url)

    assert error.option == 'url'
    assert str(error).startswith('url must be a Buildkite web URL such as https://buildkite.com/<organization>/')


@pytest.mark.parametrize(
    'url, option, value',
    [
        ('https://buildkite.com/Acme/web/builds/1234', 'organization', 'Acme'),
        ('https://buildkite.com/acme/Web/builds/1234', 'pipeline', 'Web'),
        ('https://buildkite.com/acme/../builds/1234', 'pipeline', '..'),
        ('https://buildkite.com/acme/we%2Fb/builds/1234', 'pipeline', 'we%2Fb'),
        ('https://buildkite.com/acm%C3%A9/web/builds/1234', 'organization', 'acm%C3%A9'),
        ('https://buildkite.com/acmé/web/builds/1234', 'organization', 'acmé'),
        ('https://buildkite.com/acme/my web/builds/1234', 'pipeline', 'my web'),
    ],
)
def test_web_url_with_bad_slug_is_rejected(url, option, value):
    error = config_error(parse_web_url, url)

    assert error.option == option
    assert str(error).startswith('%s in url must be a Buildkite slug' % option)
    assert str(error).endswith('got %r' % value)


@pytest.mark.parametrize('fragment', ['not-a-job', 'job-', TESTS_FIRST + '-extra', 'step-tests'])
def test_web_url_with_bad_job_fragment_is_rejected(fragment):
    error = config_error(parse_web_url, '%s#%s' % (WEB_BUILD_URL, fragment))

    assert error.option == 'url'


# resolve_target


def test_resolve_build_scoped_job():
    target = resolve_target({'organization': 'acme', 'pipeline': 'web', 'build': 1234, 'job': TESTS_FIRST})

    assert target.job_path(target.job_id) == BUILD_PATH + '/jobs/' + TESTS_FIRST


def test_resolve_organization_scoped_job():
    target = resolve_target({'organization': 'acme', 'job': TESTS_FIRST.upper()})

    assert target.job_path(target.job_id) == '/organizations/acme/jobs/' + TESTS_FIRST


def test_resolve_step_key_target():
    target = resolve_target({'organization': 'acme', 'pipeline': 'web', 'build': 1234, 'step_key': 'tests'})

    assert (target.build_path(), target.job_id, target.step_key) == (BUILD_PATH, None, 'tests')


def test_resolve_url_fills_every_value():
    target = resolve_target({'url': '%s#%s' % (WEB_BUILD_URL, TESTS_FIRST)})

    assert (target.organization, target.pipeline, target.build, target.job_id) == ('acme', 'web', 1234, TESTS_FIRST)


def test_resolve_build_url_with_step_key():
    target = resolve_target({'url': WEB_BUILD_URL, 'step_key': 'tests'})

    assert (target.build_path(), target.step_key) == (BUILD_PATH, 'tests')


def test_resolve_build_url_with_job_option():
    target = resolve_target({'url': WEB_BUILD_URL, 'job': TESTS_FIRST})

    assert (target.build_path(), target.job_id) == (BUILD_PATH, TESTS_FIRST)


@pytest.mark.parametrize(
    'extra',
    [
        {'organization': 'acme'},
        {'pipeline': 'web'},
        {'build': 1234},
        {'job': TESTS_FIRST},
        {'job': TESTS_FIRST.upper()},
        {'organization': 'acme', 'pipeline': 'web', 'build': 1234, 'job': TESTS_FIRST},
    ],
)
def test_values_that_agree_with_url_are_accepted(extra):
    options = {'url': '%s#%s' % (WEB_BUILD_URL, TESTS_FIRST)}
    options.update(extra)

    target = resolve_target(options)

    assert target.job_path(target.job_id) == BUILD_PATH + '/jobs/' + TESTS_FIRST


@pytest.mark.parametrize(
    'option, value, message',
    [
        (
            'organization',
            'globex',
            "organization is 'globex' (from the task, module_defaults or BUILDKITE_ORGANIZATION_SLUG) but url names "
            "organization 'acme'",
        ),
        ('pipeline', 'api', "pipeline is 'api' (from the task or module_defaults) but url names pipeline 'web'"),
        ('build', 1235, 'build is 1235 (from the task or module_defaults) but url names build 1234'),
        (
            'job',
            TESTS_SECOND,
            "job is '%s' (from the task or module_defaults) but url names job '%s'" % (TESTS_SECOND, TESTS_FIRST),
        ),
    ],
)
def test_value_that_disagrees_with_url_is_rejected(option, value, message):
    error = config_error(resolve_target, {'url': '%s#%s' % (WEB_BUILD_URL, TESTS_FIRST), option: value})

    assert error.option == option
    assert str(error) == message + '; remove one of them or make them agree'


def test_build_url_without_job_is_rejected():
    error = config_error(resolve_target, {'url': WEB_BUILD_URL})

    assert error.option == 'url'
    assert str(error) == 'url names a build but no job: add "#<job id>" to the URL, or give step_key'


def test_job_url_with_step_key_is_rejected():
    error = config_error(resolve_target, {'url': '%s#%s' % (WEB_BUILD_URL, TESTS_FIRST), 'step_key': 'tests'})

    assert error.option == 'step_key'
    assert str(error) == 'url names a job, so step_key must not be given as well'


def test_job_with_step_key_is_rejected():
    error = config_error(
        resolve_target,
        {'organization': 'acme', 'pipeline': 'web', 'build': 1234, 'job': TESTS_FIRST, 'step_key': 'tests'},
    )

    assert error.option == 'job'
    assert str(error).startswith('job and step_key are mutually exclusive')


@pytest.mark.parametrize('organization', [None, '', '  '])
def test_missing_organization_is_rejected(organization):
    error = config_error(resolve_target, {'organization': organization, 'job': TESTS_FIRST})

    assert error.option == 'organization'
    assert str(error).startswith('organization is required')


@pytest.mark.parametrize(
    'options, missing',
    [
        ({'pipeline': 'web'}, 'build'),
        ({'build': 1234}, 'pipeline'),
    ],
)
def test_pipeline_and_build_must_come_together(options, missing):
    options.update(organization='acme', job=TESTS_FIRST)

    error = config_error(resolve_target, options)

    assert error.option == missing
    assert str(error) == 'pipeline and build go together: %s is missing' % missing


def test_step_key_without_build_is_rejected():
    error = config_error(resolve_target, {'organization': 'acme', 'step_key': 'tests'})

    assert error.option == 'step_key'
    assert str(error) == 'step_key needs pipeline and build (or a build url) to find the job'


def test_target_without_job_is_rejected():
    error = config_error(resolve_target, {'organization': 'acme', 'pipeline': 'web', 'build': 1234})

    assert error.option == 'job'
    assert str(error) == 'one of job, step_key or url is required to name the job'


@pytest.mark.parametrize(
    'option, value',
    [
        ('organization', 'Acme'),
        ('pipeline', 'web/api'),
        ('build', 0),
        ('job', 'latest'),
        ('step_key', 'deploy gate'),
    ],
)
def test_invalid_value_is_rejected_naming_option(option, value):
    options = {'organization': 'acme', 'pipeline': 'web', 'build': 1234, 'step_key': 'tests'}
    if option == 'job':
        del options['step_key']
    options[option] = value

    error = config_error(resolve_target, options)

    assert error.option == option


# Finding a job in a build


def test_step_key_matching_one_job_returns_it(load_fixture):
    build = load_fixture('build_1234.json')

    assert find_step_job(build, 'deploy-gate')['id'] == GATE


def test_step_key_ignores_retried_attempts(load_fixture):
    build = load_fixture('build_1234.json')

    assert find_step_job(build, 'tests')['id'] == TESTS_LATEST


def test_step_key_matching_no_job_is_an_error(load_fixture):
    build = load_fixture('build_1234.json')

    with pytest.raises(BuildkiteError) as raised:
        find_step_job(build, 'deploy')

    assert str(raised.value) == "no job in the build has step_key 'deploy'; check the key in the pipeline definition"


def test_step_key_matching_several_jobs_lists_them(load_fixture):
    build = load_fixture('build_1234.json')

    with pytest.raises(BuildkiteError) as raised:
        find_step_job(build, 'lint')

    assert str(raised.value) == (
        "step_key 'lint' matches 2 jobs (%s, %s), for example the jobs of a parallel or matrix step; give job instead"
        % (LINT_FIRST, LINT_SECOND)
    )


def test_find_in_build_returns_retried_attempt(load_fixture):
    build = load_fixture('build_1234.json')

    assert find_in_build(build, TESTS_FIRST)['retried'] is True


def test_find_in_build_without_the_job_is_404(load_fixture):
    build = load_fixture('build_1234.json')

    with pytest.raises(BuildkiteError) as raised:
        find_in_build(build, '0198c2a4-0000-7000-8000-000000000000')

    assert raised.value.status == 404
    assert (
        str(raised.value) == 'HTTP 404: No job found. The build has no job with that id; check job, pipeline and build'
    )


def test_get_build_includes_retried_jobs(api, make_client, load_fixture):
    build = load_fixture('build_1234.json')
    api.add(responses.GET, BUILD_URL, json=build)

    result = get_build(make_client(), build_target())

    assert result == build
    assert sent(api) == [('GET', BUILD_URL + '?include_retried_jobs=true')]


def test_get_build_without_jobs_excludes_them(api, make_client, load_fixture):
    api.add(responses.GET, BUILD_URL, json={'number': 1234, 'state': 'passed'})

    get_build(make_client(), build_target(), include_jobs=False)

    assert sent(api) == [('GET', BUILD_URL + '?exclude_jobs=true')]


# Retry chains


def test_latest_in_build_follows_chain(load_fixture):
    build = load_fixture('build_1234.json')

    latest = latest_in_build(build, job_in_build(build, TESTS_FIRST))

    assert latest['id'] == TESTS_LATEST


def test_latest_in_build_returns_job_not_retried(load_fixture):
    build = load_fixture('build_1234.json')

    assert latest_in_build(build, job_in_build(build, LINT_FIRST))['id'] == LINT_FIRST


def test_latest_in_build_stops_where_chain_leaves_build(load_fixture):
    build = load_fixture('build_1234.json')
    build['jobs'] = [job for job in build['jobs'] if job['id'] != TESTS_LATEST]

    assert latest_in_build(build, job_in_build(build, TESTS_FIRST))['id'] == TESTS_SECOND


def test_latest_in_build_stops_on_cycle(load_fixture):
    build = load_fixture('build_1234.json')
    job_in_build(build, TESTS_LATEST).update(retried=True, retried_in_job_id=TESTS_FIRST)

    latest = latest_in_build(build, job_in_build(build, TESTS_FIRST))

    assert latest['id'] in (TESTS_FIRST, TESTS_SECOND, TESTS_LATEST)


def test_follow_retries_reads_each_attempt(api, make_client, load_fixture):
    build = load_fixture('build_1234.json')
    api.add(responses.GET, build_job_url(TESTS_SECOND), json=job_in_build(build, TESTS_SECOND))
    api.add(responses.GET, build_job_url(TESTS_LATEST), json=job_in_build(build, TESTS_LATEST))

    latest = follow_retries(make_client(), build_target(TESTS_FIRST), job_in_build(build, TESTS_FIRST))

    assert latest['id'] == TESTS_LATEST
    assert sent(api) == [('GET', build_job_url(TESTS_SECOND)), ('GET', build_job_url(TESTS_LATEST))]


def test_follow_retries_uses_organization_route(api, make_client, load_fixture):
    build = load_fixture('build_1234.json')
    api.add(responses.GET, organization_job_url(TESTS_SECOND), json=job_in_build(build, TESTS_SECOND))
    api.add(responses.GET, organization_job_url(TESTS_LATEST), json=job_in_build(build, TESTS_LATEST))

    follow_retries(make_client(), organization_target(TESTS_FIRST), job_in_build(build, TESTS_FIRST))

    assert sent(api) == [('GET', organization_job_url(TESTS_SECOND)), ('GET', organization_job_url(TESTS_LATEST))]


def test_follow_retries_of_job_not_retried_sends_nothing(api, make_client, load_fixture):
    job = load_fixture('job_tests_failed.json')

    assert follow_retries(make_client(), build_target(TESTS_FIRST), job) is job
    assert sent(api) == []


# Waiting for a job


def test_wait_returns_job_once_finished(api, make_client, fake_time, load_fixture):
    scheduled = load_fixture('job_tests_retry_scheduled.json')
    url = build_job_url(TESTS_SECOND)
    api.add(responses.GET, url, json=dict(scheduled, state='running'))
    api.add(responses.GET, url, json=dict(scheduled, state='passed', exit_status=0))

    job = wait_for_job(make_client(), build_target(TESTS_SECOND), scheduled, timeout=60, poll_interval=5)

    assert job['state'] == 'passed'
    assert sent(api) == [('GET', url), ('GET', url)]
    assert fake_time.sleeps == [5, 5]


def test_wait_for_finished_job_sends_nothing(api, make_client, fake_time, load_fixture):
    job = load_fixture('job_tests_failed.json')

    assert wait_for_job(make_client(), build_target(TESTS_FIRST), job, timeout=60, poll_interval=5) is job
    assert sent(api) == []
    assert fake_time.sleeps == []


def test_wait_reaches_requested_state(api, make_client, load_fixture):
    build = load_fixture('build_1234.json')
    gate = job_in_build(build, GATE)
    url = build_job_url(GATE)
    api.add(responses.GET, url, json=dict(gate, state='blocked'))

    job = wait_for_job(
        make_client(),
        build_target(GATE),
        dict(gate, state='waiting'),
        timeout=60,
        poll_interval=2,
        done=lambda job: job['state'] == 'blocked',
        follow=False,
    )

    assert job['state'] == 'blocked'
    assert sent(api) == [('GET', url)]


def test_wait_follows_automatic_retry(api, make_client, fake_time, load_fixture):
    build = load_fixture('build_1234.json')
    second = job_in_build(build, TESTS_SECOND)
    latest = job_in_build(build, TESTS_LATEST)
    api.add(responses.GET, build_job_url(TESTS_SECOND), json=second)
    api.add(responses.GET, build_job_url(TESTS_LATEST), json=dict(latest, state='running', exit_status=None))
    api.add(responses.GET, build_job_url(TESTS_LATEST), json=latest)

    job = wait_for_job(
        make_client(),
        build_target(TESTS_SECOND),
        dict(second, state='running', retried=False),
        timeout=600,
        poll_interval=10,
    )

    assert job['id'] == TESTS_LATEST
    assert job['state'] == 'passed'
    assert sent(api) == [
        ('GET', build_job_url(TESTS_SECOND)),
        ('GET', build_job_url(TESTS_LATEST)),
        ('GET', build_job_url(TESTS_LATEST)),
    ]
    assert fake_time.sleeps == [10, 10]


def test_wait_without_follow_stops_at_retried_job(api, make_client, load_fixture):
    build = load_fixture('build_1234.json')
    second = job_in_build(build, TESTS_SECOND)

    job = wait_for_job(make_client(), build_target(TESTS_SECOND), second, timeout=60, poll_interval=5, follow=False)

    assert job['id'] == TESTS_SECOND
    assert sent(api) == []


def test_wait_times_out_with_last_state(api, make_client, fake_time, load_fixture):
    scheduled = load_fixture('job_tests_retry_scheduled.json')
    url = build_job_url(TESTS_SECOND)
    api.add(responses.GET, url, json=dict(scheduled, state='running'))

    with pytest.raises(BuildkiteWaitTimeout) as raised:
        wait_for_job(make_client(), build_target(TESTS_SECOND), scheduled, timeout=10, poll_interval=4)

    assert str(raised.value) == (
        'Timed out after 10 s waiting for job %s in acme/web#1234; its last state was '
        'running. Raise wait_timeout to wait longer' % TESTS_SECOND
    )
    assert raised.value.job['state'] == 'running'
    assert fake_time.sleeps == [4, 4, 2]
    assert sent(api) == [('GET', url)] * 3


def test_wait_timeout_message_keeps_fractional_seconds(api, make_client, load_fixture):
    scheduled = load_fixture('job_tests_retry_scheduled.json')
    api.add(responses.GET, build_job_url(TESTS_SECOND), json=scheduled)

    with pytest.raises(BuildkiteWaitTimeout) as raised:
        wait_for_job(make_client(), build_target(TESTS_SECOND), scheduled, timeout=2.5, poll_interval=5)

    assert str(raised.value).startswith('Timed out after 2.5 s waiting for job ')


def test_wait_with_zero_timeout_reads_nothing(api, make_client, load_fixture):
    scheduled = load_fixture('job_tests_retry_scheduled.json')

    with pytest.raises(BuildkiteWaitTimeout) as raised:
        wait_for_job(make_client(), build_target(TESTS_SECOND), scheduled, timeout=0, poll_interval=5)

    assert raised.value.job is scheduled
    assert sent(api) == []


# Sending a change that must not be applied twice


def lost_response():
    return requests.exceptions.ConnectionError(
        ProtocolError('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))
    )


def retry_applied_check(client, target, job_id):
    """Return the check that the retry module runs after a lost response: the new attempt, or None."""

    def check_applied():
        job = client.get_json(target.job_path(job_id))
        if job.get('retried') and job.get('retried_in_job_id'):
            return client.get_json(target.job_path(job['retried_in_job_id']))
        return None

    return check_applied


def test_send_change_returns_response_without_warning(api, make_client, load_fixture):
    new_job = load_fixture('job_tests_retry_scheduled.json')
    retry_url = build_job_url(TESTS_FIRST, '/retry')
    api.add(responses.PUT, retry_url, json=new_job)
    client = make_client()
    target = build_target(TESTS_FIRST)

    result = send_change(
        client, target.job_path(TESTS_FIRST, '/retry'), None, retry_applied_check(client, target, TESTS_FIRST), 'retry'
    )

    assert result == (new_job, None)
    assert sent(api) == [('PUT', retry_url)]


def test_send_change_applied_after_lost_response_warns(api, make_client, warnings_sent, load_fixture):
    new_job = load_fixture('job_tests_retry_scheduled.json')
    retry_url = build_job_url(TESTS_FIRST, '/retry')
    api.add(responses.PUT, retry_url, status=502, body='')
    api.add(responses.GET, build_job_url(TESTS_FIRST), json=load_fixture('job_tests_retried.json'))
    api.add(responses.GET, build_job_url(TESTS_SECOND), json=new_job)
    client = make_client()
    target = build_target(TESTS_FIRST)

    job, warning = send_change(
        client, target.job_path(TESTS_FIRST, '/retry'), None, retry_applied_check(client, target, TESTS_FIRST), 'retry'
    )

    assert job == new_job
    assert warning == (
        'the retry request got no usable response (HTTP 502: empty response body. Buildkite or a proxy '
        'failed; try again later), but the job now reads as done, so the retry was applied'
    )
    assert sent(api) == [('PUT', retry_url), ('GET', build_job_url(TESTS_FIRST)), ('GET', build_job_url(TESTS_SECOND))]
    assert warnings_sent == []


def test_send_change_not_applied_is_resent_once(api, make_client, warnings_sent, load_fixture):
    new_job = load_fixture('job_tests_retry_scheduled.json')
    retry_url = build_job_url(TESTS_FIRST, '/retry')
    api.add(responses.PUT, retry_url, body=lost_response())
    api.add(responses.GET, build_job_url(TESTS_FIRST), json=load_fixture('job_tests_failed.json'))
    api.add(responses.PUT, retry_url, json=new_job)
    client = make_client()
    target = build_target(TESTS_FIRST)

    result = send_change(
        client, target.job_path(TESTS_FIRST, '/retry'), None, retry_applied_check(client, target, TESTS_FIRST), 'retry'
    )

    assert result == (new_job, None)
    assert sent(api) == [('PUT', retry_url), ('GET', build_job_url(TESTS_FIRST)), ('PUT', retry_url)]
    assert warnings_sent == [
        'opskite.buildkite: the retry request got no usable response (connection to api.buildkite.com closed before '
        'the response was complete) and the job does not read as done; sending it once more'
    ]


def test_send_change_lost_twice_is_an_error(api, make_client, load_fixture):
    retry_url = build_job_url(TESTS_FIRST, '/retry')
    for _attempt in range(2):
        api.add(responses.PUT, retry_url, body=lost_response())
        api.add(responses.GET, build_job_url(TESTS_FIRST), json=load_fixture('job_tests_failed.json'))
    client = make_client()
    target = build_target(TESTS_FIRST)

    with pytest.raises(BuildkiteError) as raised:
        send_change(
            client,
            target.job_path(TESTS_FIRST, '/retry'),
            None,
            retry_applied_check(client, target, TESTS_FIRST),
            'retry',
        )

    assert str(raised.value) == (
        'the retry request got no usable response twice (connection to api.buildkite.com closed before the '
        'response was complete) and the job does not read as done; check the job in Buildkite before running the '
        'task again'
    )
    assert sent(api) == [('PUT', retry_url), ('GET', build_job_url(TESTS_FIRST))] * 2


def test_send_change_refusal_is_not_reread(api, make_client, load_fixture):
    retry_url = build_job_url(TESTS_FIRST, '/retry')
    api.add(responses.PUT, retry_url, status=400, json=load_fixture('error_400_not_retryable.json'))
    client = make_client()
    target = build_target(TESTS_FIRST)

    with pytest.raises(BuildkiteHTTPError) as raised:
        send_change(
            client,
            target.job_path(TESTS_FIRST, '/retry'),
            None,
            retry_applied_check(client, target, TESTS_FIRST),
            'retry',
        )

    assert raised.value.status == 400
    assert sent(api) == [('PUT', retry_url)]


# Failure messages


def test_failing_as_names_action_job_and_build(api, make_client, load_fixture):
    api.add(responses.GET, build_job_url(TESTS_FIRST), status=404, json=load_fixture('error_404_no_job.json'))
    target = build_target(TESTS_FIRST)

    with pytest.raises(BuildkiteActionError) as raised:
        with failing_as('retry', target):
            make_client().get_json(target.job_path(TESTS_FIRST))

    assert str(raised.value) == (
        'Failed to retry job %s in acme/web#1234: HTTP 404: No job found. Check organization, pipeline, build and '
        'job: a wrong slug or id gives 404, and so does a token without access to the organization or pipeline'
        % TESTS_FIRST
    )


def test_failing_as_names_organization_for_organization_route(api, make_client, load_fixture):
    api.add(
        responses.GET, organization_job_url(TESTS_FIRST), status=403, json=load_fixture('error_403_missing_scope.json')
    )
    target = organization_target(TESTS_FIRST)

    with pytest.raises(BuildkiteActionError) as raised:
        with failing_as('read the log of', target):
            make_client().get_json(target.job_path(TESTS_FIRST))

    assert str(raised.value).startswith('Failed to read the log of job %s in acme: HTTP 403: ' % TESTS_FIRST)


def test_failing_as_names_job_found_by_step_key():
    target = build_target(step_key='tests')

    with pytest.raises(BuildkiteActionError) as raised:
        with failing_as('retry', target, TESTS_LATEST):
            raise BuildkiteError('HTTP 400: Only failed, timed out or canceled jobs can be retried', status=400)

    assert str(raised.value).startswith('Failed to retry job %s in acme/web#1234: HTTP 400: ' % TESTS_LATEST)


def test_failing_as_keeps_error_details(api, make_client, load_fixture):
    api.add(
        responses.PUT,
        build_job_url(TESTS_FIRST, '/retry'),
        status=422,
        json=load_fixture('error_422_canceled_build.json'),
    )
    target = build_target(TESTS_FIRST)

    with pytest.raises(BuildkiteActionError) as raised:
        with failing_as('retry', target):
            make_client().put_json(target.job_path(TESTS_FIRST, '/retry'))

    assert raised.value.status == 422
    assert raised.value.method == 'PUT'
    assert raised.value.path == target.job_path(TESTS_FIRST, '/retry')
    assert raised.value.api_message == 'Jobs from canceled builds cannot be retried'


def test_failing_as_passes_config_errors_unchanged():
    error = BuildkiteConfigError('job', 'job must be a job UUID')

    with pytest.raises(BuildkiteConfigError) as raised:
        with failing_as('retry', build_target(TESTS_FIRST)):
            raise error

    assert raised.value is error


def test_failing_as_passes_wait_timeout_unchanged(load_fixture):
    error = BuildkiteWaitTimeout('Timed out after 10 s waiting for job', load_fixture('job_tests_failed.json'))

    with pytest.raises(BuildkiteWaitTimeout) as raised:
        with failing_as('wait for', build_target(TESTS_FIRST)):
            raise error

    assert raised.value is error


@pytest.mark.parametrize(
    'option, value',
    [('organization', 'acme\n'), ('pipeline', 'web\n')],
)
def test_slug_with_trailing_newline_is_rejected(option, value):
    with pytest.raises(BuildkiteConfigError) as raised:
        validate_slug(option, value)

    assert raised.value.option == option


def test_step_key_with_trailing_newline_is_rejected():
    with pytest.raises(BuildkiteConfigError) as raised:
        validate_step_key('tests\n')

    assert raised.value.option == 'step_key'
