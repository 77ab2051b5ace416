# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run a command while the Buildkite simulator serves on 127.0.0.1, then stop the simulator.

    python tests/utils/with_simulator.py --scenario demo [--integration-config FILE] -- COMMAND ...

The command gets BUILDKITE_API_URL, BUILDKITE_API_TOKEN and BUILDKITE_ORGANIZATION_SLUG
pointing at the simulator (replacing any real values), and BUILDKITE_SIMULATOR_URL for its
control API. With --integration-config, the same values are written as the ansible-test
integration variables file. The exit status is the command's.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

SIMULATOR_ROOT = pathlib.Path(__file__).resolve().parents[1] / 'simulator'
START_TIMEOUT = 30
SIMULATOR_TOKEN = 'sim-token-full'
SIMULATOR_ORGANIZATION = 'acme'


def start_simulator(scenario, workdir):
    url_file = pathlib.Path(workdir) / 'simulator.url'
    log_file = open(pathlib.Path(workdir) / 'simulator.log', 'w', encoding='utf-8')  # pylint: disable=consider-using-with
    env = dict(os.environ, PYTHONPATH=str(SIMULATOR_ROOT))
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [
            sys.executable,
            '-m',
            'buildkite_simulator',
            '--port',
            '0',
            '--scenario',
            scenario,
            '--url-file',
            str(url_file),
        ],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if url_file.exists() and url_file.read_text(encoding='utf-8').strip():
            return process, url_file.read_text(encoding='utf-8').strip()
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    log_file.close()
    raise SystemExit(
        'the simulator did not start within %d s; its output:\n%s'
        % (START_TIMEOUT, (pathlib.Path(workdir) / 'simulator.log').read_text(encoding='utf-8'))
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scenario', default='demo')
    parser.add_argument('--integration-config', help='write the simulator variables to this YAML file')
    parser.add_argument('command', nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ['--'] else args.command
    if not command:
        parser.error('give the command to run after --')

    with tempfile.TemporaryDirectory(prefix='buildkite-simulator-') as workdir:
        process, api_url = start_simulator(args.scenario, workdir)
        control_url = api_url[: -len('/v2')] if api_url.endswith('/v2') else api_url
        try:
            if args.integration_config:
                pathlib.Path(args.integration_config).write_text(
                    'buildkite_api_url: %s\nbuildkite_simulator_url: %s\nbuildkite_api_token: %s\n'
                    'buildkite_organization: %s\n' % (api_url, control_url, SIMULATOR_TOKEN, SIMULATOR_ORGANIZATION),
                    encoding='utf-8',
                )
            env = dict(
                os.environ,
                BUILDKITE_API_URL=api_url,
                BUILDKITE_API_TOKEN=SIMULATOR_TOKEN,
                BUILDKITE_ORGANIZATION_SLUG=SIMULATOR_ORGANIZATION,
                BUILDKITE_SIMULATOR_URL=control_url,
            )
            print(
                'Buildkite simulator (scenario %s) serving at %s; BUILDKITE_API_URL, BUILDKITE_API_TOKEN and '
                'BUILDKITE_ORGANIZATION_SLUG point at it for the command' % (args.scenario, api_url),
                flush=True,
            )
            return subprocess.call(command, env=env)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == '__main__':
    sys.exit(main())
