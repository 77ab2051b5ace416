# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark the collection against the Buildkite simulator and write docs/benchmarks.md.

    .venv/bin/python benchmarks/run.py [--rounds 3] [--output docs/benchmarks.md] [--json FILE]

Run from the repository root with the venv of `make venv` (ansible-core and requests). Everything
talks to one simulator on 127.0.0.1. The five measurements are described in docs/benchmarks.md:
requests per task, retry and unblock wall time against ansible.builtin.uri, the env lookup
against uri, buildkite_job_log on a 1 GiB log, and module start-up cost.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import scenario
from bench_simulator import ORGANIZATION, REPOSITORY, TOKEN, Simulator
from report import render_report

BIN = pathlib.Path(sys.executable).parent
PLAYBOOKS = REPOSITORY / 'benchmarks' / 'playbooks'
MODULES = REPOSITORY / 'plugins' / 'modules'
SCENARIO = scenario.SCENARIO_PATH
TASK_COUNT = 50
ENV_JOB_COUNT = 100
# A generous bound for one playbook or module run, so that a hang fails the benchmark.
RUN_TIMEOUT = 300
IMPORT_RUNS = 10

# Job UUIDs of the bundled logs scenario (tests/simulator/README.md, "Scenario logs").
SMALL_LOG_JOB = '0199a1b2-3000-4000-8000-000000003001'
HUGE_LOG_JOB = '0199a1b2-3000-4000-8000-000000003004'


class Bench(object):
    """State shared by the measurements: the simulator, a scratch folder and the environment of each run."""

    def __init__(self, simulator, workdir):
        self.simulator = simulator
        self.workdir = pathlib.Path(workdir)
        # Ansible and the modules import the collection as ansible_collections.opskite.buildkite,
        # so a link of that name points at the repository.
        self.collections = self.workdir / 'collections'
        link = self.collections / 'ansible_collections' / 'opskite' / 'buildkite'
        link.parent.mkdir(parents=True)
        link.symlink_to(REPOSITORY, target_is_directory=True)
        self.env = dict(
            os.environ,
            ANSIBLE_COLLECTIONS_PATH=str(self.collections),
            ANSIBLE_NOCOLOR='1',
            ANSIBLE_FORCE_COLOR='0',
            ANSIBLE_RETRY_FILES_ENABLED='0',
            ANSIBLE_LOCAL_TEMP=str(self.workdir / 'ansible-local'),
            ANSIBLE_HOME=str(self.workdir / 'ansible-home'),
            PYTHONPATH=str(self.collections),
        )
        for name in ('BUILDKITE_API_TOKEN', 'BUILDKITE_API_URL', 'BUILDKITE_ORGANIZATION_SLUG'):
            self.env.pop(name, None)
        self.counter = 0

    def scratch(self, name):
        self.counter += 1
        return self.workdir / ('%03d-%s' % (self.counter, name))

    def run_module(self, module, args, check_mode=False, time_it=False):
        """Run a module's file directly, as its own process, and return (result, RSS KiB, seconds).

        With ``time_it``, the process runs under GNU time -v, which gives its peak resident set size.
        """
        module_args = dict(api_url=self.simulator.api_url, api_token=TOKEN, organization=ORGANIZATION)
        module_args.update(args)
        if check_mode:
            module_args['_ansible_check_mode'] = True
        args_file = self.scratch('%s.json' % module)
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': module_args}), encoding='utf-8')
        command = [sys.executable, str(MODULES / ('%s.py' % module)), str(args_file)]
        time_file = self.scratch('time.txt')
        if time_it:
            command = ['/usr/bin/time', '-v', '-o', str(time_file), *command]
        started = time.monotonic()
        completed = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
        )
        seconds = time.monotonic() - started
        try:
            result = json.loads(completed.stdout)
        except ValueError:
            raise SystemExit('%s printed no JSON result:\n%s\n%s' % (module, completed.stdout, completed.stderr))
        if result.get('failed'):
            raise SystemExit('%s failed: %s' % (module, result.get('msg')))
        rss = None
        if time_it:
            match = re.search(r'Maximum resident set size \(kbytes\): (\d+)', time_file.read_text(encoding='utf-8'))
            rss = int(match.group(1)) if match else None
        return result, rss, seconds

    def run_playbook(self, playbook, jobs):
        """Run one of the benchmark playbooks on bench_jobs = ``jobs`` and return its wall time in seconds."""
        variables = self.scratch('vars.json')
        variables.write_text(
            json.dumps(
                {
                    'bench_api_url': self.simulator.api_url,
                    'bench_api_token': TOKEN,
                    'bench_organization': ORGANIZATION,
                    'bench_jobs': jobs,
                    'ansible_python_interpreter': sys.executable,
                }
            ),
            encoding='utf-8',
        )
        command = [
            str(BIN / 'ansible-playbook'),
            '-i',
            'localhost,',
            '--forks',
            '5',
            '-e',
            '@%s' % variables,
            str(PLAYBOOKS / playbook),
        ]
        started = time.monotonic()
        completed = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
        )
        seconds = time.monotonic() - started
        if completed.returncode != 0:
            raise SystemExit('%s failed (exit status %d):\n%s' % (playbook, completed.returncode, completed.stdout))
        return seconds


def describe_request(entry):
    """Return a logged request as 'METHOD route status', for example 'PUT retry_job 200'."""
    return '%s %s %s' % (entry['method'], entry['route'] or entry['path'], entry['status'])


def logged_requests(bench):
    """Return the API requests logged since the last clear, and clear the log."""
    entries = bench.simulator.requests()
    bench.simulator.clear_requests()
    return entries


# Requests per task: (row label, module or 'lookup', options, check mode, then the minimum of the first
# run and of the re-run, each as (text, count)). REQUEST_ORDER sets the order of the runs.
REQUEST_CASES = (
    (
        'retry check mode, pipeline + build + job',
        'buildkite_job_retry',
        {'pipeline': scenario.PIPELINE, 'build': scenario.RETRY_BUILD, 'job': scenario.failed_job_id(1)},
        True,
        ('GET build', 1),
        ('GET build', 1),
    ),
    (
        'retry, job id',
        'buildkite_job_retry',
        {'job': scenario.failed_job_id(1)},
        False,
        ('PUT retry', 1),
        ('PUT retry refused + GET job + GET latest attempt', 3),
    ),
    (
        'retry, pipeline + build + step_key',
        'buildkite_job_retry',
        {'pipeline': scenario.PIPELINE, 'build': scenario.RETRY_BUILD, 'step_key': 'test-002'},
        False,
        ('GET build + PUT retry', 2),
        ('GET build', 1),
    ),
    (
        'unblock check mode, pipeline + build + job',
        'buildkite_job_unblock',
        {'pipeline': scenario.PIPELINE, 'build': scenario.gate_build_number(1), 'job': scenario.gate_job_id(1)},
        True,
        ('GET build', 1),
        ('GET build', 1),
    ),
    (
        'unblock, job id',
        'buildkite_job_unblock',
        {'job': scenario.gate_job_id(1)},
        False,
        ('PUT unblock', 1),
        ('PUT unblock refused + GET job', 2),
    ),
    (
        'info, job id',
        'buildkite_job_info',
        {'job': scenario.failed_job_id(3)},
        False,
        ('GET job', 1),
        ('GET job', 1),
    ),
    (
        'info, job id + include_env',
        'buildkite_job_info',
        {'job': scenario.failed_job_id(3), 'include_env': True},
        False,
        ('GET job + GET env', 2),
        ('GET job + GET env', 2),
    ),
    (
        'info, list the %d jobs of a build' % scenario.JOB_COUNT,
        'buildkite_job_info',
        {'pipeline': scenario.PIPELINE, 'build': scenario.RETRY_BUILD},
        False,
        ('GET jobs, one page of 100', 1),
        ('GET jobs, one page of 100', 1),
    ),
    (
        'env lookup, one job id',
        'lookup',
        {'jobs': [scenario.failed_job_id(3)]},
        False,
        ('GET env', 1),
        ('GET env', 1),
    ),
)

# The same for buildkite_job_log on the logs scenario's small log (175 bytes), without module and check
# mode. measure_requests fills in dest, and the deletion runs last.
LOG_CASES = (
    ('log, content (default)', {'job': SMALL_LOG_JOB}, ('GET log', 1), ('GET log', 1)),
    (
        'log, tail_lines: 100',
        {'job': SMALL_LOG_JOB, 'tail_lines': 100},
        ('GET log with Range', 1),
        ('GET log with Range', 1),
    ),
    ('log, dest', {'job': SMALL_LOG_JOB, 'dest': None}, ('GET log.txt', 1), ('GET log.txt', 1)),
    (
        'log, state: absent',
        {'job': SMALL_LOG_JOB, 'state': 'absent'},
        ('HEAD log + DELETE log', 2),
        ('HEAD log, 404', 1),
    ),
)


def count_requests(bench, module, options, check_mode):
    """Run one task; return whether it reported a change (None for the lookup), its requests and connections."""
    if module == 'lookup':
        bench.run_playbook('env_lookup.yml', options['jobs'])
        changed = None
    else:
        result, _rss, _seconds = bench.run_module(module, options, check_mode=check_mode)
        changed = result.get('changed')
    entries = logged_requests(bench)
    return {
        'changed': changed,
        'requests': [describe_request(entry) for entry in entries],
        'connections': len(set(entry['client_port'] for entry in entries)),
    }


# Check mode runs once before and once after the real task on the same job, so that its re-run
# sees the change applied. The other tasks run twice in a row.
REQUEST_ORDER = (
    ('retry check mode, pipeline + build + job', 'first'),
    ('retry, job id', 'first'),
    ('retry, job id', 'rerun'),
    ('retry check mode, pipeline + build + job', 'rerun'),
    ('retry, pipeline + build + step_key', 'first'),
    ('retry, pipeline + build + step_key', 'rerun'),
    ('unblock check mode, pipeline + build + job', 'first'),
    ('unblock, job id', 'first'),
    ('unblock, job id', 'rerun'),
    ('unblock check mode, pipeline + build + job', 'rerun'),
)


def measure_requests(bench):
    """Measure 1: requests per task on the first run and on the re-run, against the minimum."""
    cases = [
        {'task': label, 'module': module, 'options': options, 'check_mode': check_mode, 'minimum': minimum}
        for label, module, options, check_mode, *minimum in REQUEST_CASES
    ]
    by_label = dict((case['task'], case) for case in cases)
    order = list(REQUEST_ORDER)
    ordered = set(label for label, _run in order)
    order.extend((case['task'], run) for case in cases if case['task'] not in ordered for run in ('first', 'rerun'))

    bench.simulator.reset(SCENARIO)
    for label, run in order:
        case = by_label[label]
        case[run] = count_requests(bench, case['module'], case['options'], case['check_mode'])

    bench.simulator.reset('logs')
    dest = bench.scratch('small.log')
    for label, options, *minimum in LOG_CASES:
        options = dict(options)
        if 'dest' in options:
            options['dest'] = str(dest)
        case = {'task': label, 'module': 'buildkite_job_log', 'options': options, 'check_mode': False}
        case['minimum'] = minimum
        for run in ('first', 'rerun'):
            case[run] = count_requests(bench, case['module'], options, False)
        cases.append(case)
    return cases


def warm_up(bench, runs):
    """Run each playbook once on its first job and discard the time.

    The first run after a change compiles Python caches and fills Ansible's module cache, which
    would otherwise count against whichever variant runs first.
    """
    for playbook, jobs in runs:
        bench.simulator.reset(SCENARIO)
        bench.run_playbook(playbook, jobs[:1])


def measure_wall_time(bench, rounds):
    """Measure 2: 50 retry and 50 unblock tasks, collection against uri, interleaved."""
    retry_jobs = [scenario.failed_job_id(index) for index in range(1, TASK_COUNT + 1)]
    gate_jobs = [scenario.gate_job_id(index) for index in range(1, TASK_COUNT + 1)]
    workloads = (
        ('retry', retry_jobs, 'retry_collection.yml', 'retry_uri.yml', 'retry_job'),
        ('unblock', gate_jobs, 'unblock_collection.yml', 'unblock_uri.yml', 'unblock_job'),
    )
    warm_up(bench, [(collection, jobs) for _name, jobs, collection, _uri, _route in workloads])
    warm_up(bench, [(uri, jobs) for _name, jobs, _collection, uri, _route in workloads])
    results = {}
    for round_index in range(rounds):
        for name, jobs, collection, uri, route in workloads:
            variants = [('collection', collection), ('uri', uri)]
            if round_index % 2:
                variants.reverse()
            for variant, playbook in variants:
                bench.simulator.reset(SCENARIO)
                seconds = bench.run_playbook(playbook, jobs)
                entries = bench.simulator.requests()
                accepted = sum(1 for entry in entries if entry['route'] == route and entry['status'] == 200)
                if accepted != len(jobs):
                    raise SystemExit('%s: %d of %d %s requests succeeded' % (playbook, accepted, len(jobs), route))
                record = results.setdefault((name, variant), {'seconds': [], 'requests': []})
                record['seconds'].append(seconds)
                record['requests'].append(len(entries))
    rows = []
    for name, _jobs, _collection, _uri, _route in workloads:
        collection = results[(name, 'collection')]
        uri = results[(name, 'uri')]
        collection_median = statistics.median(collection['seconds'])
        uri_median = statistics.median(uri['seconds'])
        rows.append(
            {
                'workload': name,
                'tasks': TASK_COUNT,
                'collection_seconds': collection['seconds'],
                'uri_seconds': uri['seconds'],
                'collection_median': collection_median,
                'uri_median': uri_median,
                'ratio': collection_median / uri_median,
                'collection_requests': max(collection['requests']),
                'uri_requests': max(uri['requests']),
            }
        )
    return rows


def measure_env(bench, rounds):
    """Measure 3: the env lookup over 100 jobs against 100 uri GETs: wall time and connections."""
    jobs = [scenario.failed_job_id(index) for index in range(1, scenario.JOB_COUNT + 1)]
    jobs += [scenario.passed_job_id(index) for index in range(1, ENV_JOB_COUNT - scenario.JOB_COUNT + 1)]
    warm_up(bench, [('env_lookup.yml', jobs), ('env_uri.yml', jobs)])
    results = {}
    for round_index in range(rounds):
        variants = [('lookup', 'env_lookup.yml'), ('uri', 'env_uri.yml')]
        if round_index % 2:
            variants.reverse()
        for variant, playbook in variants:
            bench.simulator.reset(SCENARIO)
            seconds = bench.run_playbook(playbook, jobs)
            entries = bench.simulator.requests()
            record = results.setdefault(variant, {'seconds': [], 'requests': [], 'connections': []})
            record['seconds'].append(seconds)
            record['requests'].append(len(entries))
            record['connections'].append(len(set(entry['client_port'] for entry in entries)))
    summary = {}
    for variant, record in results.items():
        summary[variant] = dict(record, median=statistics.median(record['seconds']))
    summary['jobs'] = len(jobs)
    summary['ratio'] = summary['lookup']['median'] / summary['uri']['median']
    return summary


def transferred_bytes(bench, entries):
    """Return the response body bytes of the logged log requests, and the request descriptions.

    GET responses are measured by sending each request again (see Simulator.response_body_size);
    HEAD and DELETE responses have no body.
    """
    total = 0
    described = []
    for entry in entries:
        description = describe_request(entry)
        range_header = next((value for name, value in entry['headers'].items() if name.lower() == 'range'), None)
        if range_header:
            description += ' (Range: %s)' % range_header
        described.append(description)
        if entry['method'] == 'GET':
            total += bench.simulator.response_body_size(entry)
    return total, described


def measure_huge_log(bench):
    """Measure 4: buildkite_job_log on the 1 GiB huge_log: peak RSS and bytes transferred."""
    bench.simulator.reset('logs')
    size = bench.simulator.job('huge_log')['log_size']
    dest = bench.scratch('huge.log')
    cases = (
        ('dest', {'job': HUGE_LOG_JOB, 'dest': str(dest)}),
        ('content (default max_bytes: 1048576)', {'job': HUGE_LOG_JOB}),
        ('tail_lines: 100', {'job': HUGE_LOG_JOB, 'tail_lines': 100}),
    )
    rows = []
    for label, options in cases:
        bench.simulator.clear_requests()
        result, rss, seconds = bench.run_module('buildkite_job_log', options, time_it=True)
        entries = logged_requests(bench)
        total, described = transferred_bytes(bench, entries)
        bench.simulator.clear_requests()
        rows.append(
            {
                'case': label,
                'rss_kib': rss,
                'seconds': seconds,
                'bytes': total,
                'requests': described,
                'result_size': result.get('size'),
                'content_bytes': len(result['content'].encode('utf-8')) if 'content' in result else None,
            }
        )
        if dest.exists():
            dest.unlink()
    return {'log_size': size, 'rows': rows}


IMPORT_STATEMENTS = (
    ('Python start-up alone', 'pass'),
    ('requests', 'import requests'),
    ('ansible.module_utils.basic', 'import ansible.module_utils.basic'),
    ('ansible.module_utils.urls (what ansible.builtin.uri uses)', 'import ansible.module_utils.urls'),
    (
        "the collection's module_utils (_client, _jobs, _options, _logs)",
        'import ansible_collections.opskite.buildkite.plugins.module_utils._client, '
        'ansible_collections.opskite.buildkite.plugins.module_utils._jobs, '
        'ansible_collections.opskite.buildkite.plugins.module_utils._options, '
        'ansible_collections.opskite.buildkite.plugins.module_utils._logs',
    ),
    (
        'buildkite_job_retry with all its imports',
        'import ansible_collections.opskite.buildkite.plugins.modules.buildkite_job_retry',
    ),
)
# Top-level imports whose cumulative time python -X importtime reports.
IMPORTTIME_NAMES = (
    'requests',
    'urllib3',
    'ansible.module_utils.basic',
    'ansible_collections.opskite.buildkite.plugins.module_utils._client',
)


def measure_imports(bench):
    """Measure 5: start-up cost, as the median wall time of fresh interpreters and -X importtime."""
    seconds = dict((label, []) for label, _statement in IMPORT_STATEMENTS)
    for run_index in range(IMPORT_RUNS):
        statements = list(IMPORT_STATEMENTS)
        if run_index % 2:
            statements.reverse()
        for label, statement in statements:
            started = time.monotonic()
            subprocess.run(
                [sys.executable, '-c', statement], env=bench.env, check=True, timeout=RUN_TIMEOUT, capture_output=True
            )
            seconds[label].append(time.monotonic() - started)
    rows = [
        {'what': label, 'statement': statement, 'median': statistics.median(seconds[label])}
        for label, statement in IMPORT_STATEMENTS
    ]

    completed = subprocess.run(
        [sys.executable, '-X', 'importtime', '-c', IMPORT_STATEMENTS[-1][1]],
        env=bench.env,
        check=True,
        timeout=RUN_TIMEOUT,
        capture_output=True,
        text=True,
    )
    cumulative = {}
    for line in completed.stderr.splitlines():
        match = re.match(r'import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)$', line)
        if match and match.group(4) in IMPORTTIME_NAMES and match.group(4) not in cumulative:
            cumulative[match.group(4)] = int(match.group(2)) / 1e6
    return {'runs': IMPORT_RUNS, 'rows': rows, 'importtime': cumulative}


def machine_info(bench):
    cpu_model = 'unknown'
    with open('/proc/cpuinfo', encoding='utf-8') as handle:
        for line in handle:
            if line.startswith('model name'):
                cpu_model = line.split(':', 1)[1].strip()
                break
    ansible_version = subprocess.run(
        [str(BIN / 'ansible'), '--version'], env=bench.env, capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    requests_version = subprocess.run(
        [sys.executable, '-c', 'import requests; print(requests.__version__)'],
        env=bench.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {
        'nproc': os.cpu_count(),
        'cpu_model': cpu_model,
        'python': platform.python_version(),
        'ansible': ansible_version,
        'requests': requests_version,
        'system': '%s %s' % (platform.system(), platform.release()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=3, help='runs of each wall-time comparison (default 3)')
    parser.add_argument('--output', default=str(REPOSITORY / 'docs' / 'benchmarks.md'), help='report to write')
    parser.add_argument('--json', help='also write the raw figures to this JSON file')
    parser.add_argument('--render', metavar='JSON', help='only write the report from the figures in this JSON file')
    args = parser.parse_args()
    if args.render:
        results = json.loads(pathlib.Path(args.render).read_text(encoding='utf-8'))
        pathlib.Path(args.output).write_text(render_report(results), encoding='utf-8')
        return 0
    if args.rounds < 1:
        parser.error('--rounds must be at least 1')
    scenario_check = [sys.executable, str(REPOSITORY / 'benchmarks' / 'scenario.py'), '--check']
    if subprocess.run(scenario_check, check=False).returncode:
        return 1

    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix='opskite-bench-')
    simulator = Simulator(SCENARIO, workdir)
    try:
        bench = Bench(simulator, workdir)
        results = {'command': ' '.join(shlex.quote(part) for part in ['benchmarks/run.py', *sys.argv[1:]])}
        results['machine'] = machine_info(bench)
        steps = (
            ('requests', 'requests per task', lambda: measure_requests(bench)),
            ('wall_time', 'retry and unblock wall time', lambda: measure_wall_time(bench, args.rounds)),
            ('env', 'env lookup over %d jobs' % ENV_JOB_COUNT, lambda: measure_env(bench, args.rounds)),
            ('huge_log', 'buildkite_job_log on a 1 GiB log', lambda: measure_huge_log(bench)),
            ('imports', 'start-up cost', lambda: measure_imports(bench)),
        )
        for key, title, measure in steps:
            step_started = time.monotonic()
            print('=== %s' % title, flush=True)
            results[key] = measure()
            print('    done in %.1f s' % (time.monotonic() - step_started), flush=True)
    finally:
        simulator.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    results['total_seconds'] = time.monotonic() - started

    pathlib.Path(args.output).write_text(render_report(results), encoding='utf-8')
    print('wrote %s in %.0f s' % (args.output, results['total_seconds']))
    if args.json:
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1, default=str) + '\n', encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main())
