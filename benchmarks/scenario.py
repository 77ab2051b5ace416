# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Generate benchmarks/scenarios/jobs.json, the simulator scenario of the benchmarks.

    python benchmarks/scenario.py [--check]

Organization acme, pipeline bench. Build #1 has JOB_COUNT failed command jobs to retry. Builds
#1001 to #1000+JOB_COUNT each have a passed command job and then a block step, so every block
step is unblockable as soon as the scenario loads. Rate limits are off, so that a benchmark
measures the client and not the 50-requests-a-minute user limit.
With --check, exit 1 when the file differs from what this script generates.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

JOB_COUNT = 60
ORGANIZATION = 'acme'
PIPELINE = 'bench'
RETRY_BUILD = 1
FIRST_GATE_BUILD = 1001
SCENARIO_PATH = pathlib.Path(__file__).resolve().parent / 'scenarios' / 'jobs.json'


def failed_job_id(index):
    return '0199a1b2-3000-4000-8000-%012d' % (9100000 + index)


def passed_job_id(index):
    return '0199a1b2-3000-4000-8000-%012d' % (9200000 + index)


def gate_job_id(index):
    return '0199a1b2-3000-4000-8000-%012d' % (9300000 + index)


def gate_build_number(index):
    return FIRST_GATE_BUILD + index - 1


def build_scenario():
    """Return the scenario as a dict, in the format of tests/simulator/README.md."""
    retry_jobs = [
        {
            'alias': 'failed_%03d' % index,
            'id': failed_job_id(index),
            'step_key': 'test-%03d' % index,
            'name': ':pytest: Tests %d' % index,
            'command': 'make test',
            'attempts': ['failed', 'passed'],
        }
        for index in range(1, JOB_COUNT + 1)
    ]
    builds = [
        {
            'organization': ORGANIZATION,
            'pipeline': PIPELINE,
            'number': RETRY_BUILD,
            'id': '0199a1b2-2000-4000-8000-%012d' % 9000001,
            'created_seconds_ago': 3600,
            'jobs': retry_jobs,
        }
    ]
    for index in range(1, JOB_COUNT + 1):
        number = gate_build_number(index)
        builds.append(
            {
                'organization': ORGANIZATION,
                'pipeline': PIPELINE,
                'number': number,
                'id': '0199a1b2-2000-4000-8000-%012d' % (9000000 + number),
                'created_seconds_ago': 600,
                'jobs': [
                    {
                        'alias': 'passed_%03d' % index,
                        'id': passed_job_id(index),
                        'step_key': 'build',
                        'name': ':package: Build',
                        'command': 'make build',
                        'attempts': ['passed'],
                    },
                    {
                        'alias': 'gate_%03d' % index,
                        'id': gate_job_id(index),
                        'type': 'manual',
                        'step_key': 'deploy-gate',
                        'name': ':rocket: Deploy?',
                        'state': 'blocked',
                    },
                ],
            }
        )
    return {
        'description': (
            'Benchmark jobs: %d failed command jobs in acme/bench #%d, and %d builds (#%d to #%d) each with a '
            'passed job and an unblockable block step. Rate limits are off.'
            % (JOB_COUNT, RETRY_BUILD, JOB_COUNT, FIRST_GATE_BUILD, gate_build_number(JOB_COUNT))
        ),
        'config': {'rate_limit': {'enabled': False}},
        'pipelines': [
            {
                'organization': ORGANIZATION,
                'slug': PIPELINE,
                'id': '0199a1b2-1000-4000-8000-000000009001',
                'name': 'Bench',
                'repository': 'git@github.com:acme/bench.git',
            }
        ],
        'builds': builds,
    }


def render():
    return json.dumps(build_scenario(), indent=1) + '\n'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true', help='exit 1 when the file is out of date, write nothing')
    args = parser.parse_args()
    text = render()
    if args.check:
        current = SCENARIO_PATH.read_text(encoding='utf-8') if SCENARIO_PATH.exists() else None
        if current != text:
            print('%s is out of date; run python benchmarks/scenario.py' % SCENARIO_PATH, file=sys.stderr)
            return 1
        return 0
    SCENARIO_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCENARIO_PATH.write_text(text, encoding='utf-8')
    print('wrote %s' % SCENARIO_PATH)
    return 0


if __name__ == '__main__':
    sys.exit(main())
