# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Load: 100 hosts retry and read jobs through 20 forks while the simulator enforces a rate limit.

Every host retries its own failed job, then reads another job. The simulator allows the
organization 200 requests per minute, in 3-second windows of 10 requests, so that the run meets
the limit many times without lasting minutes. The per-user limit is raised out of the way: all
hosts share one token, and the organization's limit is the one under test. Each task must end
correct, every 429 must be waited out, no job may be retried twice, and the simulator must see
exactly the minimum number of requests plus one resend per 429.
"""

from __future__ import annotations

import json
import time

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
pytestmark = pytest.mark.xdist_group('load')

# Fixtures; pytest finds them among the names of a test module.
simulator_fixture = hygiene_support.simulator_fixture

HOSTS = 100
FORKS = 20
# 10 requests per 3 s is Buildkite's organization limit of 200 requests per minute, in a shorter window.
WINDOW_SECONDS = 3
WINDOW_LIMIT = 10
# A retry by job id and a read by job id cost one request each.
MINIMUM_REQUESTS = 2 * HOSTS


def job_id(kind, index):
    prefix = {'retry': '5', 'read': '6'}[kind]
    return '0199a1b2-4000-4000-8000-%s%011d' % (prefix, index)


def write_scenario(path):
    """Write a scenario with one build of 100 failed jobs to retry and 100 passed jobs to read."""
    jobs = []
    for index in range(HOSTS):
        jobs.append(
            {
                'alias': 'retry_%03d' % index,
                'id': job_id('retry', index),
                'step_key': 'shard-%03d' % index,
                'name': 'Shard %d' % index,
                'command': 'make shard',
                'attempts': ['failed', 'passed'],
            }
        )
        jobs.append(
            {
                'alias': 'read_%03d' % index,
                'id': job_id('read', index),
                'step_key': 'check-%03d' % index,
                'name': 'Check %d' % index,
                'command': 'make check',
                'attempts': ['passed'],
            }
        )
    scenario = {
        'description': 'Load: 100 failed jobs to retry and 100 passed jobs to read, in acme/load#1.',
        'pipelines': [{'organization': ORGANIZATION, 'slug': 'load', 'id': '0199a1b2-1000-4000-8000-0000000000aa'}],
        'builds': [
            {
                'organization': ORGANIZATION,
                'pipeline': 'load',
                'number': 1,
                'id': '0199a1b2-2000-4000-8000-0000000000aa',
                'jobs': jobs,
            }
        ],
    }
    path.write_text(json.dumps(scenario), encoding='utf-8')


def write_inventory(path):
    hosts = {}
    for index in range(HOSTS):
        hosts['host-%03d' % index] = {
            'ansible_connection': 'local',
            'retry_job': job_id('retry', index),
            'read_job': job_id('read', (index + 1) % HOSTS),
        }
    path.write_text(yaml.safe_dump({'all': {'hosts': hosts}}), encoding='utf-8')


def write_playbook(path, results_path):
    connection = {
        'api_token': "{{ lookup('ansible.builtin.env', 'LOAD_TOKEN') }}",
        'api_url': "{{ lookup('ansible.builtin.env', 'LOAD_API_URL') }}",
        'organization': ORGANIZATION,
        # Twenty forks share 10 requests per window, so a request may meet several 429s in a row.
        'api_retries': 20,
    }
    play = {
        'name': 'retry one job and read another on every host',
        'hosts': 'all',
        'gather_facts': False,
        'module_defaults': {'group/opskite.buildkite.buildkite': connection},
        'tasks': [
            {
                'name': 'retry this host job',
                'opskite.buildkite.buildkite_job_retry': {'job': '{{ retry_job }}'},
                'register': 'retried',
            },
            {
                'name': 'read the next host job',
                'opskite.buildkite.buildkite_job_info': {'job': '{{ read_job }}'},
                'register': 'read',
            },
            {
                'name': 'save every host result',
                'run_once': True,
                'delegate_to': 'localhost',
                'ansible.builtin.copy': {
                    'content': (
                        "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars) "
                        "| map('dict2items') | map('selectattr', 'key', 'in', ['retried', 'read', 'retry_job', "
                        "'read_job']) | map('items2dict'))) | to_json }}"
                    ),
                    'dest': str(results_path),
                    'mode': '0600',
                },
            },
        ],
    }
    path.write_text(yaml.safe_dump([play], sort_keys=False, width=1000), encoding='utf-8')


@pytest.fixture(scope='module')
def load_run(simulator, tmp_path_factory):
    work = tmp_path_factory.mktemp('load')
    token = random_token()
    write_scenario(work / 'scenario.json')
    simulator.reset(str(work / 'scenario.json'))
    simulator.add_token(token)
    simulator.configure(rate_limit={'enabled': True, 'org': WINDOW_LIMIT, 'user': 100000, 'window': WINDOW_SECONDS})
    write_inventory(work / 'inventory.yml')
    write_playbook(work / 'playbook.yml', work / 'results.json')
    simulator.clear_requests()

    started = time.monotonic()
    process = ansible_playbook(
        work / 'playbook.yml',
        work / 'inventory.yml',
        env_extra={
            'LOAD_TOKEN': token,
            'LOAD_API_URL': simulator.url,
            'ANSIBLE_FORKS': str(FORKS),
            'ANSIBLE_PIPELINING': 'True',
            'ANSIBLE_LOCAL_TEMP': str(work / 'ansible-tmp'),
            'ANSIBLE_HOME': str(work / 'ansible-home'),
        },
    )
    duration = time.monotonic() - started
    results_path = work / 'results.json'
    return {
        'process': process,
        'duration': duration,
        'results': json.loads(results_path.read_text(encoding='utf-8')) if results_path.exists() else {},
        'requests': simulator.requests(),
        'simulator': simulator,
    }


def request_counts(requests_seen):
    """Return {(method, path): [status, ...]} in arrival order."""
    counts = {}
    for entry in sorted(requests_seen, key=lambda item: item['seq']):
        counts.setdefault((entry['method'], entry['path']), []).append(entry['status'])
    return counts


def test_load_under_rate_limit(load_run):
    process = load_run['process']
    results = load_run['results']
    requests_seen = load_run['requests']
    rate_limited = sum(1 for entry in requests_seen if entry['status'] == 429)

    wrong_tasks = []
    for host, result in sorted(results.items()):
        retried = result['retried']
        read = result['read']
        if retried.get('failed') or retried.get('changed') is not True:
            wrong_tasks.append('%s retry: %s' % (host, retried.get('msg') or retried.get('changed')))
        elif (retried['job'].get('retry_source') or {}).get('job_id') != result['retry_job']:
            wrong_tasks.append('%s retry returned %s' % (host, retried['job'].get('id')))
        if read.get('failed') or read['job']['id'] != result['read_job'] or read['job']['state'] != 'passed':
            wrong_tasks.append('%s read: %s' % (host, read.get('msg') or read['job'].get('id')))

    times_retried = [load_run['simulator'].job(job_id('retry', index))['times_retried'] for index in range(HOSTS)]
    counts = request_counts(requests_seen)
    # Each request path is its own task's: one success, after one resend per 429 it met.
    unresolved = dict(
        (' '.join(key), statuses)
        for key, statuses in counts.items()
        if statuses[-1] != 200 or any(status != 429 for status in statuses[:-1])
    )
    correct = process.returncode == 0 and len(results) == HOSTS and not wrong_tasks
    passed = (
        correct
        and times_retried == [1] * HOSTS
        and len(requests_seen) == MINIMUM_REQUESTS + rate_limited
        and rate_limited > 0
        and not unresolved
    )
    print(
        'load: %d hosts, %d forks, %.1f s, %d requests, %d of them 429 and resent'
        % (HOSTS, FORKS, load_run['duration'], len(requests_seen), rate_limited)
    )
    record(
        'load',
        {
            'hosts': HOSTS,
            'forks': FORKS,
            'rate_limit': '%d requests per %d s window (200 per minute)' % (WINDOW_LIMIT, WINDOW_SECONDS),
            'minimum': MINIMUM_REQUESTS,
            'formula': 'requests = minimum + 429 responses',
            'tasks_correct': correct,
            'double_retries': sum(1 for count in times_retried if count > 1),
            'passed': passed,
        },
    )

    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    assert len(results) == HOSTS
    assert wrong_tasks == []
    assert times_retried == [1] * HOSTS
    assert rate_limited > 0
    assert unresolved == {}
    assert len(counts) == MINIMUM_REQUESTS
    assert len(requests_seen) == MINIMUM_REQUESTS + rate_limited
