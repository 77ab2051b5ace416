# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Token hygiene: the token appears nowhere that a playbook run prints, returns or saves.

One ansible-playbook run at -vvvv takes every plugin through its success and failure paths
with long random tokens. Everything it leaves behind is scanned for the tokens: stdout, stderr,
Ansible's log file, the junit and tree callbacks' output, the registered results and the files
the tasks saved. The same run checks four more things. A token with a trailing newline works.
Credentials in api_url are rejected. A redirect to another host carries nothing there. A
~/.netrc entry for the API host does not replace the token.
"""

from __future__ import annotations

import json
from pathlib import Path

import hygiene_support
import pytest
import yaml
from hygiene_support import (
    ORGANIZATION,
    ansible_playbook,
    random_token,
)
from results import record

# One xdist worker runs every test of this module (with --dist loadgroup), so the playbook runs once.
pytestmark = pytest.mark.xdist_group('token_hygiene')

# Fixtures; pytest finds them among the names of a test module.
silent_listener_fixture = hygiene_support.silent_listener_fixture
simulator_fixture = hygiene_support.simulator_fixture

# Jobs of the simulator's bundled retry scenario.
JOBS = {
    'failed': '0199a1b2-3000-4000-8000-000000000001',  # flaky_test, acme/web#101
    'failed_too': '0199a1b2-3000-4000-8000-000000000002',  # broken_test
    'running': '0199a1b2-3000-4000-8000-000000000007',
    'passed': '0199a1b2-3000-4000-8000-000000000008',
    'redirected': '0199a1b2-3000-4000-8000-000000000010',  # timed_out_job, behind a redirect fault
    'failed_third': '0199a1b2-3000-4000-8000-000000000003',  # slow_retry
    'gate': '0199a1b2-3000-4000-8000-000000000018',  # release_gate, acme/deploy#7
    'wait_step': '0199a1b2-3000-4000-8000-000000000017',
    'missing': '0199a1b2-3000-4000-8000-0000000000ff',
}
LOOKUP = 'opskite.buildkite.buildkite_job_env'
# Words of request headers that no failure message may contain.
HEADER_WORDS = ('Authorization', 'Bearer', 'User-Agent', 'opskite.buildkite/')
# Ansible writes this in place of a no_log value that a module tried to return.
MASK = '********'


def task(name, module, args, expect, check_mode=False, **keywords):
    """Return one playbook task that registers its result under ``name`` and never stops the play."""
    entry = {'name': name, module: args, 'register': name, 'ignore_errors': True}
    if check_mode:
        entry['check_mode'] = True
    entry.update(keywords)
    return entry, expect


def lookup_task(name, expression, expect):
    """Return a task that templates ``expression`` (a lookup call) into a fact."""
    return task(name, 'ansible.builtin.set_fact', {name.replace('-', '_') + '_value': '{{ %s }}' % expression}, expect)


def playbook_tasks(simulator_url, listener_url, paths):
    """Return [(task, expectation)]: the success and failure paths of every plugin.

    An expectation is ('ok', changed) or ('failed', text the message contains).
    """
    token = "{{ lookup('ansible.builtin.env', 'HYGIENE_TOKEN') }}"
    wrong = "{{ lookup('ansible.builtin.env', 'HYGIENE_WRONG_TOKEN') }}"
    read_only = "{{ lookup('ansible.builtin.env', 'HYGIENE_READ_TOKEN') }}"
    # The newline comes with the variable's value: Jinja drops a trailing newline of the template text itself.
    newline_token = "{{ lookup('ansible.builtin.env', 'HYGIENE_NEWLINE_TOKEN') }}"
    newline_length = "{{ lookup('ansible.builtin.env', 'HYGIENE_NEWLINE_TOKEN') | length }}"
    connection = {'api_token': token, 'api_url': simulator_url, 'organization': ORGANIZATION}

    def args(**extra):
        values = dict(connection)
        values.update(extra)
        return values

    def lookup_call(term, **options):
        values = {'api_token': 'hygiene_token', 'api_url': 'hygiene_url', 'organization': "'acme'"}
        values.update(options)
        keywords = ', '.join('%s=%s' % item for item in values.items())
        return "lookup('%s', '%s', %s)" % (LOOKUP, term, keywords)

    retry = 'opskite.buildkite.buildkite_job_retry'
    unblock = 'opskite.buildkite.buildkite_job_unblock'
    log = 'opskite.buildkite.buildkite_job_log'
    info = 'opskite.buildkite.buildkite_job_info'
    return [
        task('retry_ok', retry, args(job=JOBS['failed']), ('ok', True)),
        task('retry_check', retry, args(job=JOBS['failed_too']), ('ok', True), check_mode=True),
        task('retry_refused', retry, args(job=JOBS['running']), ('failed', 'Only failed, timed out or canceled')),
        task('retry_unauthorized', retry, args(job=JOBS['failed_too'], api_token=wrong), ('failed', 'HTTP 401')),
        task('retry_forbidden', retry, args(job=JOBS['failed_too'], api_token=read_only), ('failed', 'HTTP 403')),
        task('retry_newline_token', retry, args(job=JOBS['failed_too'], api_token=newline_token), ('ok', True)),
        task('newline_token_length', 'ansible.builtin.set_fact', {'newline_length': newline_length}, ('ok', False)),
        # BUILDKITE_API_TOKEN is set in ansible-playbook's environment. The task keyword environment:
        # would put it on the module's command line, which Ansible prints at -vvv.
        task(
            'retry_environment_token',
            retry,
            {'job': JOBS['failed_third'], 'api_url': simulator_url, 'organization': ORGANIZATION},
            ('ok', True),
            check_mode=True,
        ),
        task(
            'retry_netrc_only',
            retry,
            {'job': JOBS['failed_too'], 'api_url': listener_url, 'organization': ORGANIZATION},
            ('failed', 'api_token is required'),
            environment={'BUILDKITE_API_TOKEN': ''},
        ),
        task(
            'retry_credentials_in_url',
            retry,
            args(job=JOBS['failed_too'], api_url=listener_url.replace('http://', 'http://deploy:%s@' % token)),
            ('failed', 'api_url must not contain credentials'),
        ),
        task('unblock_ok', unblock, args(job=JOBS['gate']), ('ok', True)),
        task('unblock_again', unblock, args(job=JOBS['gate']), ('ok', False)),
        task('unblock_not_block_step', unblock, args(job=JOBS['passed']), ('failed', 'not a block step')),
        task('unblock_unauthorized', unblock, args(job=JOBS['gate'], api_token=wrong), ('failed', 'HTTP 401')),
        task('log_ok', log, args(job=JOBS['passed']), ('ok', False)),
        task('log_dest', log, args(job=JOBS['passed'], dest=paths['log']), ('ok', True)),
        task('log_tail', log, args(job=JOBS['passed'], tail_lines=3), ('ok', False)),
        task('log_delete_check', log, args(job=JOBS['passed'], state='absent'), ('ok', True), check_mode=True),
        task('log_missing', log, args(job=JOBS['wait_step']), ('failed', 'only command jobs have a log')),
        task('log_forbidden', log, args(job=JOBS['passed'], api_token=read_only), ('failed', 'HTTP 403')),
        task('info_ok', info, args(job=JOBS['failed'], include_env=True), ('ok', False)),
        task('info_list', info, args(pipeline='web', build=101), ('ok', False)),
        task('info_not_found', info, args(job=JOBS['missing']), ('failed', 'HTTP 404')),
        task('info_redirected', info, args(job=JOBS['redirected']), ('failed', 'unexpected redirect')),
        task('info_unauthorized', info, args(job=JOBS['passed'], api_token=wrong), ('failed', 'HTTP 401')),
        lookup_task('lookup_ok', lookup_call(JOBS['failed']), ('ok', False)),
        lookup_task('lookup_newline_token', lookup_call(JOBS['failed'], api_token='hygiene_newline'), ('ok', False)),
        lookup_task('lookup_missing', lookup_call(JOBS['missing']), ('failed', 'No job found')),
        lookup_task(
            'lookup_unauthorized', lookup_call(JOBS['failed'], api_token='hygiene_wrong'), ('failed', 'HTTP 401')
        ),
        lookup_task('lookup_redirected', lookup_call(JOBS['redirected']), ('failed', 'unexpected redirect')),
        lookup_task(
            'lookup_credentials_in_url',
            lookup_call(
                JOBS['failed'], api_url="hygiene_url | replace('http://', 'http://deploy:' ~ hygiene_token ~ '@')"
            ),
            ('failed', 'api_url must not contain credentials'),
        ),
    ]


def write_playbook(path, tasks, results_path):
    names = [entry['register'] for entry, _expect in tasks]
    save = {
        'name': 'save the registered results',
        'ansible.builtin.copy': {
            'content': '{{ {%s} | to_nice_json }}' % ', '.join("'%s': %s" % (name, name) for name in names),
            'dest': str(results_path),
            'mode': '0600',
        },
    }
    play = {
        'name': 'every plugin, success and failure paths',
        'hosts': 'localhost',
        'gather_facts': False,
        'vars': {
            'hygiene_token': "{{ lookup('ansible.builtin.env', 'HYGIENE_TOKEN') }}",
            'hygiene_wrong': "{{ lookup('ansible.builtin.env', 'HYGIENE_WRONG_TOKEN') }}",
            'hygiene_newline': "{{ lookup('ansible.builtin.env', 'HYGIENE_NEWLINE_TOKEN') }}",
            'hygiene_url': "{{ lookup('ansible.builtin.env', 'HYGIENE_API_URL') }}",
        },
        'tasks': [entry for entry, _expect in tasks] + [save],
    }
    path.write_text(yaml.safe_dump([play], sort_keys=False, width=1000), encoding='utf-8')


def files_under(directory):
    return sorted(path for path in Path(directory).rglob('*') if path.is_file())


def count_secrets(text, secrets):
    """Return how often any of the secrets, or a 16-character start or end of one, occurs in ``text``."""
    total = 0
    for secret in secrets:
        for fragment in sorted({secret, secret[:16], secret[-16:]}):
            total += text.count(fragment)
    return total


@pytest.fixture(scope='module')
def playbook_run(simulator, tmp_path_factory, silent_listener):
    """Run the playbook once at -vvvv and return everything it left behind."""
    work = tmp_path_factory.mktemp('hygiene')
    home = work / 'home'
    home.mkdir()
    listener_url = 'http://127.0.0.1:%d/v2' % silent_listener.port
    # requests takes credentials from ~/.netrc only when a request has no auth of its own.
    (home / '.netrc').write_text(
        'machine 127.0.0.1 login netrc-user password netrc-password-not-the-token\n', encoding='utf-8'
    )
    (home / '.netrc').chmod(0o600)

    tokens = {'token': random_token(), 'wrong': random_token(), 'read_only': random_token()}
    simulator.reset('retry')
    simulator.add_token(tokens['token'])
    simulator.add_token(tokens['read_only'], scopes=['read_builds'])
    simulator.add_faults(
        {
            'action': 'redirect',
            'method': 'GET',
            'path': JOBS['redirected'],
            'times': None,
            'status': 302,
            'location': listener_url + '/organizations/acme/jobs/%s' % JOBS['redirected'],
        }
    )

    paths = {'log': str(work / 'saved' / 'job.log'), 'results': work / 'saved' / 'results.json'}
    (work / 'saved').mkdir()
    (work / 'output').mkdir()
    tasks = playbook_tasks(simulator.url, listener_url, paths)
    write_playbook(work / 'playbook.yml', tasks, paths['results'])
    process = ansible_playbook(
        work / 'playbook.yml',
        'localhost,',
        env_extra={
            'HOME': str(home),
            'HYGIENE_TOKEN': tokens['token'],
            'HYGIENE_WRONG_TOKEN': tokens['wrong'],
            'HYGIENE_READ_TOKEN': tokens['read_only'],
            'HYGIENE_NEWLINE_TOKEN': tokens['token'] + '\n',
            'BUILDKITE_API_TOKEN': tokens['token'],
            'HYGIENE_API_URL': simulator.url,
            'ANSIBLE_LOG_PATH': str(work / 'output' / 'ansible.log'),
            'ANSIBLE_CALLBACKS_ENABLED': 'ansible.builtin.junit,ansible.builtin.tree',
            'JUNIT_OUTPUT_DIR': str(work / 'output' / 'junit'),
            'ANSIBLE_CALLBACK_TREE_DIR': str(work / 'output' / 'tree'),
            'ANSIBLE_LOCAL_TEMP': str(work / 'ansible-tmp'),
            'ANSIBLE_HOME': str(work / 'ansible-home'),
        },
        extra_args=['-c', 'local', '-vvvv'],
        cwd=work,
    )
    results = json.loads(paths['results'].read_text(encoding='utf-8')) if paths['results'].exists() else {}
    return {
        'process': process,
        'tasks': tasks,
        'results': results,
        'tokens': tokens,
        'work': work,
        'listener': silent_listener,
        'requests': simulator.requests(),
        'simulator': simulator,
    }


def plugin_of(task_entry):
    module = next(key for key in task_entry if key.startswith(('opskite.', 'ansible.builtin.set_fact')))
    return 'buildkite_job_env' if module == 'ansible.builtin.set_fact' else module.rsplit('.', 1)[1]


def test_playbook_ran_every_task(playbook_run):
    process = playbook_run['process']

    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    assert sorted(playbook_run['results']) == sorted(entry['register'] for entry, _expect in playbook_run['tasks'])


def test_every_task_ends_as_expected(playbook_run):
    wrong = []
    for entry, (outcome, detail) in playbook_run['tasks']:
        name = entry['register']
        result = playbook_run['results'].get(name, {})
        occurrences = count_secrets(json.dumps(result), playbook_run['tokens'].values())
        if outcome == 'ok':
            passed = not result.get('failed') and (
                plugin_of(entry) == 'buildkite_job_env' or result.get('changed') is detail
            )
        else:
            passed = bool(result.get('failed')) and detail in result.get('msg', '')
        passed = passed and occurrences == 0
        record(
            'token',
            {
                'plugin': plugin_of(entry),
                'case': name,
                'expected': 'succeeds' if outcome == 'ok' else 'fails: %s' % detail,
                'outcome': 'failed' if result.get('failed') else 'succeeded',
                'occurrences': occurrences,
                'passed': passed,
            },
        )
        if not passed:
            wrong.append('%s: %s' % (name, result.get('msg') or result))
    assert wrong == [], '\n'.join(wrong)


def test_newline_token_reached_the_plugins(playbook_run):
    newline_length = playbook_run['results']['newline_token_length']['ansible_facts']['newline_length']

    assert int(newline_length) == len(playbook_run['tokens']['token']) + 1


def test_token_is_in_nothing_printed_or_saved(playbook_run):
    process = playbook_run['process']
    secrets = list(playbook_run['tokens'].values())
    sources = {'stdout': process.stdout, 'stderr': process.stderr}
    for path in files_under(playbook_run['work']):
        if path.name == '.netrc' or 'ansible-home' in path.parts:
            continue
        sources[str(path.relative_to(playbook_run['work']))] = path.read_text(encoding='utf-8', errors='replace')

    found = dict((name, count_secrets(text, secrets)) for name, text in sources.items())
    record(
        'token',
        {
            'plugin': 'all',
            'case': 'everything printed or saved at -vvvv',
            'expected': '0 occurrences',
            'outcome': '%d occurrences' % sum(found.values()),
            'occurrences': sum(found.values()),
            'passed': sum(found.values()) == 0,
        },
    )
    # -vvvv shows each module's command line and its invocation arguments.
    assert '<localhost> EXEC' in process.stdout
    assert 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' in process.stdout
    assert 'ansible.log' in ' '.join(sources)
    assert any('junit' in name for name in sources)
    assert any('tree' in name for name in sources)
    assert 'saved/job.log' in sources
    assert dict((name, count) for name, count in found.items() if count) == {}


def test_no_result_was_masked(playbook_run):
    """Ansible masks a no_log value that a module returns; no module may need that net."""
    masked = [name for name, result in playbook_run['results'].items() if MASK in json.dumps(result)]

    assert masked == []


def test_failure_messages_carry_no_headers(playbook_run):
    messages = [result.get('msg', '') for result in playbook_run['results'].values() if result.get('failed')]

    assert len(messages) >= 10
    for word in HEADER_WORDS:
        assert [message for message in messages if word in message] == []


def test_nothing_reached_the_other_host(playbook_run):
    """The redirect target, the credentials URL and the netrc-only task all pointed at the listener."""
    listener = playbook_run['listener']
    redirects = [entry for entry in playbook_run['requests'] if entry['fault']]

    record(
        'token',
        {
            'plugin': 'all',
            'case': 'redirect to another host, credentials in api_url',
            'expected': 'the other host receives nothing',
            'outcome': '%d connections' % len(listener.connections),
            'occurrences': 0,
            'passed': not listener.connections,
        },
    )
    assert listener.connections == []
    assert listener.received == b''
    assert sorted(entry['path'].rsplit('/', 1)[1] for entry in redirects) == [JOBS['redirected'], 'env']


def test_netrc_does_not_replace_token(playbook_run):
    """With ~/.netrc naming the simulator's host, every request still carried the token: no 401 from Basic auth."""
    requests_seen = playbook_run['requests']
    unauthorized = [entry for entry in requests_seen if entry['status'] == 401]

    # The tasks that send a wrong token on purpose, and only those, get 401.
    expected_401 = sum(
        1 for entry, (outcome, detail) in playbook_run['tasks'] if outcome == 'failed' and detail == 'HTTP 401'
    )
    assert len(unauthorized) == expected_401, [(entry['method'], entry['path']) for entry in unauthorized]
    assert all(entry['headers'].get('Authorization') == '<redacted>' for entry in requests_seen)
