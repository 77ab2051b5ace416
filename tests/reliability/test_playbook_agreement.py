# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A few cells of the fault matrix once more through a real ansible-playbook run.

The matrix runs plugins in-process with a fake clock. Here the same plugins run as Ansible runs
them (modules in their own process, the lookup on the controller), waiting for real, and each
cell must end as the in-process cell does: same result, same requests, same message. The 429
cell waits out a reset of 0 s (0.5 s plus jitter) to stay fast.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from matrix import FAULTS, ORGANIZATION, TOKEN, WAYS, Fault, expect
from results import record

from ansible_collections.opskite.buildkite.plugins.lookup import buildkite_job_env

# The directory that contains ansible_collections/opskite/buildkite, as this process imported it.
COLLECTIONS_PATH = Path(buildkite_job_env.__file__).parents[5]
FAST_RATE_LIMIT = Fault(
    '429, RateLimit-Reset: 0',
    {'action': 'status', 'status': 429, 'headers': {'RateLimit-Reset': '0'}, 'body': {'scope': 'rest'}},
    kind='rate_limited',
    wait=0.5,
    status=429,
)


def way_named(name):
    return next(way for way in WAYS if way.name == name)


def fault_named(name):
    return next(fault for fault in FAULTS if fault.name == name)


# info comes first: the retry re-reads the same job with the same GET, which would take its fault.
CELLS = (
    (way_named('info'), FAST_RATE_LIMIT),
    (way_named('retry'), fault_named('HTTP 502, HTML body')),
    (way_named('unblock'), fault_named('reset mid-response')),
    (way_named('log dest'), fault_named('200 with an HTML body')),
    (way_named('log tail_lines'), fault_named('truncated JSON')),
    (way_named('env lookup'), fault_named('truncated JSON')),
)


def targeted(way, fault):
    """Return the fault spec limited to the cell's first request, so all cells' faults coexist."""
    method, path = way.first_request.split(' ', 1)
    return dict(fault.spec, method=method, path='^%s$' % re.escape(path))


def cell_tasks(index, way, api_url, requests_url, directory):
    """Return the tasks of one cell: run the plugin, then keep its result and the requests so far."""
    connection = {'api_url': api_url, 'api_token': TOKEN, 'organization': ORGANIZATION, 'timeout': 0.5}
    connection['api_retries'] = 2
    keep = {
        'cells': "{{ cells + [{'result': cell_result, 'requests': lookup('ansible.builtin.url', %r, "
        'split_lines=False) | from_json}] }}' % requests_url
    }
    if way.lookup:
        job_id = way.first_request.split('/')[5]
        options = ', '.join('%s=%r' % item for item in connection.items())
        return [
            {
                'name': 'Run cell %d' % index,
                'block': [
                    {
                        'name': 'Read the environment',
                        'ansible.builtin.set_fact': {
                            'cell_result': {
                                'failed': False,
                                'env': "{{ lookup('opskite.buildkite.buildkite_job_env', %r, %s) }}"
                                % (job_id, options),
                            }
                        },
                    }
                ],
                'rescue': [
                    {
                        'name': 'Keep the failure',
                        'ansible.builtin.set_fact': {
                            'cell_result': {'failed': True, 'msg': '{{ ansible_failed_result.msg }}'}
                        },
                    }
                ],
            },
            {'name': 'Keep cell %d' % index, 'ansible.builtin.set_fact': keep},
        ]
    arguments = dict(connection)
    for name, value in way.options.items():
        arguments[name] = value.format(tmp=directory) if isinstance(value, str) else value
    return [
        {
            'name': 'Run cell %d' % index,
            'opskite.buildkite.%s' % way.plugin: arguments,
            'register': 'cell_result',
            'ignore_errors': True,
        },
        {'name': 'Keep cell %d' % index, 'ansible.builtin.set_fact': keep},
    ]


@pytest.fixture
def playbook_outcomes(simulator_server, tmp_path_factory):
    """Run every cell in one ansible-playbook run and return [(result, requests)] in cell order.

    The cells' first requests differ in method or path, so their faults are all added at the
    start and each applies to its own cell only.
    """
    directory = tmp_path_factory.mktemp('playbook')
    control_url = simulator_server.control_url
    tasks = [
        {
            'name': 'Reset the simulator',
            'ansible.builtin.uri': {
                'url': control_url + '/reset',
                'method': 'POST',
                'body_format': 'json',
                'body': {'scenario': 'retry'},
            },
        },
        {
            'name': 'Add the faults of all cells',
            'ansible.builtin.uri': {
                'url': control_url + '/faults',
                'method': 'POST',
                'body_format': 'json',
                'body': {'faults': [targeted(way, fault) for way, fault in CELLS]},
            },
        },
        {'name': 'Start with no cells', 'ansible.builtin.set_fact': {'cells': []}},
    ]
    for index, (way, _fault) in enumerate(CELLS):
        tasks += cell_tasks(index, way, simulator_server.url, control_url + '/requests', directory)
    tasks.append(
        {
            'name': 'Save the cells',
            'ansible.builtin.copy': {
                'content': '{{ cells | to_json }}',
                'dest': str(directory / 'cells.json'),
                'mode': '0600',
            },
        }
    )
    play = {
        'name': 'Fault cells through ansible-playbook',
        'hosts': 'localhost',
        'connection': 'local',
        'gather_facts': False,
        'vars': {'ansible_python_interpreter': sys.executable},
        'tasks': tasks,
    }
    playbook = directory / 'cells.yml'
    playbook.write_text(json.dumps([play], indent=1), encoding='utf-8')
    environment = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH),
        ANSIBLE_HOME=str(directory / 'ansible-home'),
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_LOCALHOST_WARNING='0',
    )
    for name in ('BUILDKITE_API_TOKEN', 'BUILDKITE_API_URL', 'BUILDKITE_ORGANIZATION_SLUG'):
        environment.pop(name, None)
    completed = subprocess.run(
        [str(Path(sys.executable).with_name('ansible-playbook')), '-i', 'localhost,', str(playbook)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    cells = json.loads((directory / 'cells.json').read_text(encoding='utf-8'))
    outcomes = []
    seen = 0
    for cell in cells:
        entries = sorted(cell['requests']['requests'], key=lambda entry: entry['seq'])
        requests = ['%s %s' % (entry['method'], entry['path']) for entry in entries[seen:]]
        seen = len(entries)
        outcomes.append((cell['result'], requests, completed.stdout + completed.stderr))
    return outcomes


def test_playbook_matches_in_process(playbook_outcomes):
    """Compare every cell with its in-process twin; one test, so one worker runs the playbook once."""
    assert len(playbook_outcomes) == len(CELLS)
    mismatches = []
    for index, (way, fault) in enumerate(CELLS):
        expected = expect(way, fault)
        result, requests, output = playbook_outcomes[index]
        failed = bool(result.get('failed'))
        # A module's warnings are in its result; the lookup's go to the playbook's output.
        texts = [result.get('msg') or '', *(result.get('warnings') or [])]
        if way.lookup:
            texts.append(output)
        # Real waits have jitter, so only the cause of the wait is compared.
        phrase = 'was rate limited (HTTP 429)' if fault is FAST_RATE_LIMIT else expected.phrase
        phrase_found = phrase is None or any(phrase in text for text in texts)
        passed = failed is (expected.result == 'failed') and requests == expected.requests and phrase_found
        record(
            'faults',
            {
                'order': 10000 + index,
                'plugin': '%s, through ansible-playbook' % way.name,
                'fault': fault.name,
                'expected': 'as in-process (real waits, plus jitter): %s' % expected.summary,
                'outcome': 'failed' if failed else 'ok',
                'requests': requests,
                'passed': passed,
            },
        )
        if not passed:
            mismatches.append((way.name, fault.name, failed, requests, texts))

    assert mismatches == []
