# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of buildkite_job_info: main() against a mocked API, asserting results, requests and messages."""

from __future__ import annotations

import contextlib
import copy
import functools
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from ansible_collections.opskite.buildkite.plugins.modules import buildkite_job_info

try:
    from ansible.module_utils import _internal as module_utils_internal
except ImportError:  # ansible-core before 2.19
    module_utils_internal = None

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved


FIXTURES = Path(__file__).parent / 'fixtures'
JOB_FIXTURES = Path(__file__).parents[1] / 'module_utils' / 'fixtures'
API_URL = 'https://api.buildkite.com/v2'
BUILD_URL = API_URL + '/organizations/acme/pipelines/web/builds/1234'
JOBS_URL = BUILD_URL + '/jobs'
TESTS_FIRST = '0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b11'
TESTS_LATEST = '0198c2ae-2b57-7e10-8c3f-7a9b0c1d2e33'
GATE = '0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b77'
TOKEN = 'bkua_unit_test_token_4f9c2a7e1b3d'


def fixture(name, directory=JOB_FIXTURES):
    return json.loads((directory / name).read_text(encoding='utf-8'))


def build_jobs():
    return fixture('build_1234.json')['jobs']


def job_by_id(job_id, **changes):
    job = copy.deepcopy(next(item for item in build_jobs() if item['id'] == job_id))
    job.update(changes)
    return job


def organization_job_url(job_id, suffix=''):
    return '%s/organizations/acme/jobs/%s%s' % (API_URL, job_id, suffix)


def build_job_url(job_id, suffix=''):
    return '%s/jobs/%s%s' % (BUILD_URL, job_id, suffix)


def jobs_page(jobs, after=None):
    """Return a list-jobs page whose next link carries the cursor ``after``, like the API's."""
    links = {'self': JOBS_URL, 'first': JOBS_URL, 'prev': None, 'next': None}
    if after:
        links['next'] = '%s?per_page=100&include_retried_jobs=true&after=%s' % (JOBS_URL, after)
    return {'items': jobs, 'links': links}


def warning_texts(result):
    """Return the warnings' texts; ansible-core 2.19 returns each warning as an event object."""
    return [item['event']['msg'] if isinstance(item, dict) else item for item in result.get('warnings', [])]


def query_of(call):
    return parse_qs(urlsplit(call.request.url).query)


def sent(api):
    return ['%s %s' % (call.request.method, call.request.url.split('?')[0]) for call in api.calls]


class FakeTime(object):
    """Monotonic clock that only ``sleep`` advances, recording each delay."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def fake_time(monkeypatch):
    """Make the module's client wait on a fake clock."""
    fake = FakeTime()
    real = buildkite_job_info.client_from_options
    monkeypatch.setattr(
        buildkite_job_info, 'client_from_options', functools.partial(real, sleep=fake.sleep, clock=fake.clock)
    )
    return fake


@pytest.fixture
def run_module(capsys, fake_time, monkeypatch):
    """Return a runner of main() with the given options that returns (exit status, result)."""
    # A module runs in its own process, where warnings go into the result. Once controller code
    # such as the lookup plugin is imported, ansible-core 2.19 sends them to the display instead.
    if getattr(module_utils_internal, 'is_controller', None) is not None:
        monkeypatch.setattr(module_utils_internal, 'is_controller', False)

    def run(**options):
        args = dict(api_token=TOKEN, organization='acme')
        args.update(options)
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exited:
                buildkite_job_info.main()
        return exited.value.code, json.loads(capsys.readouterr().out)

    return run


# Which options read one job and which list the build


@pytest.mark.parametrize(
    'options, one_job',
    [
        ({'job': TESTS_FIRST}, True),
        ({'url': 'https://buildkite.com/acme/web/builds/1234#%s' % TESTS_FIRST}, True),
        ({'pipeline': 'web', 'build': 1234, 'step_key': 'tests'}, True),
        ({'url': 'https://buildkite.com/acme/web/builds/1234', 'step_key': 'tests'}, True),
        ({'pipeline': 'web', 'build': 1234}, False),
        ({'url': 'https://buildkite.com/acme/web/builds/1234'}, False),
        ({'pipeline': 'web', 'build': 1234, 'state': ['failed']}, False),
        ({'pipeline': 'web', 'build': 1234, 'type': ['script']}, False),
        ({'pipeline': 'web', 'build': 1234, 'step_key': 'tests', 'state': ['failed']}, False),
        ({'pipeline': 'web', 'build': 1234, 'step_key': 'tests', 'type': ['manual']}, False),
        ({'pipeline': 'web', 'build': 1234, 'step_key': 'tests', 'state': []}, True),
        ({}, False),
    ],
)
def test_names_one_job(options, one_job):
    params = dict(job=None, url=None, step_key=None, state=None, type=None)
    params.update(options)

    assert buildkite_job_info.names_one_job(params) is one_job


# One job


def test_job_by_id_costs_one_request(api, run_module):
    api.get(organization_job_url(TESTS_LATEST), json=job_by_id(TESTS_LATEST))

    status, result = run_module(job=TESTS_LATEST)

    assert status == 0
    assert result['changed'] is False
    assert result['job'] == job_by_id(TESTS_LATEST)
    assert 'jobs' not in result
    assert 'env' not in result
    assert sent(api) == ['GET ' + organization_job_url(TESTS_LATEST)]


def test_job_by_url_uses_build_route(api, run_module):
    api.get(build_job_url(TESTS_FIRST), json=job_by_id(TESTS_FIRST))

    status, result = run_module(url='https://buildkite.com/acme/web/builds/1234#%s' % TESTS_FIRST)

    assert status == 0
    assert result['job']['id'] == TESTS_FIRST
    assert sent(api) == ['GET ' + build_job_url(TESTS_FIRST)]


def test_job_by_step_key_is_latest_attempt(api, run_module):
    api.get(BUILD_URL, json=fixture('build_1234.json'))

    status, result = run_module(pipeline='web', build=1234, step_key='tests')

    assert status == 0
    assert result['job']['id'] == TESTS_LATEST
    assert query_of(api.calls[0]) == {'include_retried_jobs': ['true']}


def test_step_key_of_parallel_step_lists_matches(api, run_module):
    api.get(BUILD_URL, json=fixture('build_1234.json'))

    status, result = run_module(pipeline='web', build=1234, step_key='lint')

    assert status == 1
    assert result['msg'].startswith('Failed to read the job of step lint in acme/web#1234: step_key')
    assert '0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b44, 0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b55' in result['msg']


def test_missing_job_names_job_and_hint(api, run_module):
    api.get(organization_job_url(TESTS_LATEST), status=404, json=fixture('error_404_no_job.json'))

    status, result = run_module(job=TESTS_LATEST)

    assert status == 1
    assert result['changed'] is False
    assert result['msg'].startswith(
        'Failed to read job %s in acme: HTTP 404: No job found. Check organization' % TESTS_LATEST
    )
    assert 'job' not in result


def test_check_mode_reads_the_same(api, run_module):
    api.get(organization_job_url(TESTS_LATEST), json=job_by_id(TESTS_LATEST))

    status, result = run_module(job=TESTS_LATEST, _ansible_check_mode=True)

    assert status == 0
    assert result['changed'] is False
    assert result['job']['id'] == TESTS_LATEST


# Environment


def test_include_env_redacts_default_names(api, run_module):
    api.get(organization_job_url(TESTS_LATEST), json=job_by_id(TESTS_LATEST))
    api.get(organization_job_url(TESTS_LATEST, '/env'), json=fixture('env_job_tests.json', FIXTURES))

    status, result = run_module(job=TESTS_LATEST, include_env=True)

    sent_env = fixture('env_job_tests.json', FIXTURES)['env']
    assert status == 0
    assert result['env']['DEPLOY_TOKEN'] == '[REDACTED]'
    assert result['env']['NPM_ACCESS_KEY'] == '[REDACTED]'
    assert result['env']['aws_secret_key'] == '[REDACTED]'
    assert result['env']['BUILDKITE_MESSAGE'] == sent_env['BUILDKITE_MESSAGE']
    assert result['env']['RELEASE_NOTES'] == 'line one\nline two\n'
    assert result['env']['EMPTY_VALUE'] == ''
    assert set(result['env']) == set(sent_env)
    assert sent(api)[1] == 'GET ' + organization_job_url(TESTS_LATEST, '/env')


def test_include_env_without_redaction_returns_values_as_sent(api, run_module):
    api.get(organization_job_url(TESTS_LATEST), json=job_by_id(TESTS_LATEST))
    api.get(organization_job_url(TESTS_LATEST, '/env'), json=fixture('env_job_tests.json', FIXTURES))

    status, result = run_module(job=TESTS_LATEST, include_env=True, redact=[])

    assert status == 0
    assert result['env'] == fixture('env_job_tests.json', FIXTURES)['env']


def test_variables_select_names(api, run_module):
    api.get(organization_job_url(TESTS_LATEST), json=job_by_id(TESTS_LATEST))
    api.get(organization_job_url(TESTS_LATEST, '/env'), json=fixture('env_job_tests.json', FIXTURES))

    status, result = run_module(job=TESTS_LATEST, include_env=True, variable_names=['BUILDKITE_COMMIT', 'DEPLOY_TOKEN'])

    assert status == 0
    assert result['env'] == {
        'BUILDKITE_COMMIT': '3f1c2d4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d',
        'DEPLOY_TOKEN': '[REDACTED]',
    }


def test_missing_variable_fails_with_job(api, run_module):
    api.get(organization_job_url(TESTS_LATEST), json=job_by_id(TESTS_LATEST))
    api.get(organization_job_url(TESTS_LATEST, '/env'), json=fixture('env_job_tests.json', FIXTURES))

    status, result = run_module(job=TESTS_LATEST, include_env=True, variables=['NOPE'])

    assert status == 1
    assert result['msg'] == (
        'Failed to read the environment of job %s in acme: the environment has no variable NOPE; check the names '
        'in variables, or set on_missing to warn or skip' % TESTS_LATEST
    )
    assert result['job']['id'] == TESTS_LATEST
    assert 'env' not in result


def test_missing_variable_warns(api, run_module):
    api.get(organization_job_url(TESTS_LATEST), json=job_by_id(TESTS_LATEST))
    api.get(organization_job_url(TESTS_LATEST, '/env'), json=fixture('env_job_tests.json', FIXTURES))

    status, result = run_module(job=TESTS_LATEST, include_env=True, variables=['NOPE', 'CI'], on_missing='warn')

    assert status == 0
    assert result['env'] == {'CI': 'true'}
    assert warning_texts(result) == [
        'opskite.buildkite: the environment of job %s in acme has no variable NOPE (on_missing=warn)' % TESTS_LATEST
    ]


def test_env_without_scope_names_scope(api, run_module):
    api.get(organization_job_url(TESTS_LATEST), json=job_by_id(TESTS_LATEST))
    api.get(
        organization_job_url(TESTS_LATEST, '/env'),
        status=403,
        json={'message': "Your access token doesn't have the read_job_env scope"},
    )

    status, result = run_module(job=TESTS_LATEST, include_env=True)

    assert status == 1
    assert result['msg'] == (
        "Failed to read the environment of job %s in acme: HTTP 403: Your access token doesn't have the "
        'read_job_env scope. Create a token with the read_job_env scope at '
        'https://buildkite.com/user/api-access-tokens' % TESTS_LATEST
    )
    assert result['job']['id'] == TESTS_LATEST


# Waiting


def test_wait_for_polls_until_state_reached(api, run_module, fake_time):
    api.get(build_job_url(GATE), json=job_by_id(GATE, state='waiting', unblockable=False))
    api.get(build_job_url(GATE), json=job_by_id(GATE, state='waiting', unblockable=False))
    api.get(build_job_url(GATE), json=job_by_id(GATE))

    status, result = run_module(pipeline='web', build=1234, job=GATE, wait_for=['blocked'], poll_interval=2)

    assert status == 0
    assert result['job']['state'] == 'blocked'
    assert fake_time.sleeps == [2, 2]
    assert len(api.calls) == 3


def test_wait_for_state_already_reached_sends_one_request(api, run_module, fake_time):
    api.get(build_job_url(GATE), json=job_by_id(GATE))

    status, result = run_module(pipeline='web', build=1234, job=GATE, wait_for=['blocked', 'unblocked'])

    assert status == 0
    assert result['job']['state'] == 'blocked'
    assert fake_time.sleeps == []


def test_wait_for_timeout_reports_last_state(api, run_module, fake_time):
    running = job_by_id(TESTS_LATEST, state='running')
    api.get(organization_job_url(TESTS_LATEST), json=running)
    api.get(organization_job_url(TESTS_LATEST), json=running)
    api.get(organization_job_url(TESTS_LATEST), json=running)

    status, result = run_module(job=TESTS_LATEST, wait_for=['passed', 'failed'], wait_timeout=10, poll_interval=5)

    assert status == 1
    assert result['msg'] == (
        'Timed out after 10 s waiting for job %s in acme to reach passed or failed (wait_for); its last state was '
        'running. Raise wait_timeout to wait longer' % TESTS_LATEST
    )
    assert result['job']['state'] == 'running'
    assert fake_time.sleeps == [5, 5]


def test_wait_for_other_finished_state(api, run_module, fake_time):
    api.get(organization_job_url(TESTS_LATEST), json=job_by_id(TESTS_LATEST))

    status, result = run_module(job=TESTS_LATEST, wait_for=['failed'])

    assert status == 1
    assert result['msg'] == (
        'Failed to wait for job %s in acme: the job is passed, a finished state, so it will not reach failed '
        '(wait_for)' % TESTS_LATEST
    )
    assert result['job']['state'] == 'passed'
    assert fake_time.sleeps == []


def test_wait_for_then_include_env(api, run_module, fake_time):
    api.get(organization_job_url(TESTS_LATEST), json=job_by_id(TESTS_LATEST, state='running'))
    api.get(organization_job_url(TESTS_LATEST), json=job_by_id(TESTS_LATEST))
    api.get(organization_job_url(TESTS_LATEST, '/env'), json={'env': {'A': '1'}})

    status, result = run_module(job=TESTS_LATEST, wait_for=['passed'], include_env=True)

    assert status == 0
    assert result['job']['state'] == 'passed'
    assert result['env'] == {'A': '1'}


# Listing a build's jobs


def test_list_follows_pages_and_returns_all(api, run_module):
    jobs = build_jobs()
    api.get(JOBS_URL, json=jobs_page(jobs[:4], after='cursor-4'))
    api.get(JOBS_URL, json=jobs_page(jobs[4:]))

    status, result = run_module(pipeline='web', build=1234)

    assert status == 0
    assert result['changed'] is False
    assert result['jobs'] == jobs
    assert 'job' not in result
    assert query_of(api.calls[0]) == {'per_page': ['100'], 'include_retried_jobs': ['true']}
    assert query_of(api.calls[1]) == {'per_page': ['100'], 'include_retried_jobs': ['true'], 'after': ['cursor-4']}


def test_list_by_build_url(api, run_module):
    api.get(JOBS_URL, json=jobs_page(build_jobs()))

    status, result = run_module(url='https://buildkite.com/acme/web/builds/1234')

    assert status == 0
    assert len(result['jobs']) == 7


def test_list_sends_state_and_step_key_filters(api, run_module):
    failed = [job for job in build_jobs() if job['state'] == 'failed']
    api.get(JOBS_URL, json=jobs_page(failed))

    status, result = run_module(pipeline='web', build=1234, state=['failed'], step_key='tests')

    assert status == 0
    assert [job['id'] for job in result['jobs']] == [job['id'] for job in failed]
    assert query_of(api.calls[0]) == {
        'per_page': ['100'],
        'include_retried_jobs': ['true'],
        'state[]': ['failed'],
        'step_key': ['tests'],
    }


def test_list_filters_type_on_each_page(api, run_module):
    jobs = build_jobs()
    api.get(JOBS_URL, json=jobs_page(jobs[:4], after='cursor-4'))
    api.get(JOBS_URL, json=jobs_page(jobs[4:]))

    status, result = run_module(pipeline='web', build=1234, type=['manual', 'waiter'])

    assert status == 0
    assert [job['type'] for job in result['jobs']] == ['waiter', 'manual']


def test_list_error_names_build(api, run_module):
    api.get(JOBS_URL, status=404, json={'message': 'No build found'})

    status, result = run_module(pipeline='web', build=1234)

    assert status == 1
    assert result['msg'].startswith('Failed to list the jobs of build acme/web#1234: HTTP 404: No build found.')


# Bad input fails before any request


@pytest.mark.parametrize(
    'options, option',
    [
        ({'job': TESTS_LATEST, 'state': ['failed']}, 'state'),
        ({'url': 'https://buildkite.com/acme/web/builds/1234#%s' % TESTS_LATEST, 'type': ['script']}, 'type'),
        ({'pipeline': 'web', 'build': 1234, 'wait_for': ['passed']}, 'wait_for'),
        ({'pipeline': 'web', 'build': 1234, 'include_env': True}, 'include_env'),
        (
            {'pipeline': 'web', 'build': 1234, 'step_key': 'tests', 'state': ['failed'], 'wait_for': ['passed']},
            'wait_for',
        ),
        ({'job': TESTS_LATEST, 'variables': ['CI']}, 'variables'),
        ({'job': TESTS_LATEST, 'include_env': True, 'redact': ['KEY_[']}, 'redact'),
        ({'job': TESTS_LATEST, 'include_env': True, 'variables': ['A=B']}, 'variables'),
        ({'job': TESTS_LATEST, 'on_missing': 'ignore'}, 'on_missing'),
        ({'job': TESTS_LATEST, 'wait_for': ['done']}, 'wait_for'),
        ({'pipeline': 'web', 'build': 1234, 'state': ['finished']}, 'state'),
        ({'pipeline': 'web', 'build': 1234, 'type': ['command']}, 'type'),
        ({'job': TESTS_LATEST, 'wait_timeout': -1}, 'wait_timeout'),
        ({'job': TESTS_LATEST, 'poll_interval': 0}, 'poll_interval'),
        ({'job': TESTS_LATEST, 'include_env': 'sometimes'}, 'include_env'),
        ({}, 'pipeline'),
        ({'pipeline': 'web'}, 'build'),
        ({'step_key': 'tests'}, 'step_key'),
        ({'job': TESTS_LATEST, 'step_key': 'tests'}, 'step_key'),
        ({'url': 'https://buildkite.com/acme/web'}, 'url'),
        ({'job': 'not-a-uuid'}, 'job'),
        ({'job': TESTS_LATEST, 'api_token': ''}, 'api_token'),
    ],
)
def test_bad_input_fails_before_any_request(api, run_module, options, option):
    status, result = run_module(**options)

    assert status == 1
    assert option in result['msg']
    assert len(api.calls) == 0


def test_token_is_not_in_failure(api, run_module):
    api.get(organization_job_url(TESTS_LATEST), status=401, json=fixture('error_401_unauthenticated.json'))

    status, result = run_module(job=TESTS_LATEST)

    assert status == 1
    assert 'HTTP 401' in result['msg']
    assert TOKEN not in json.dumps(result)
