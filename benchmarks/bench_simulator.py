# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Start the Buildkite simulator for the benchmarks and drive its control API (tests/simulator/README.md)."""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import subprocess
import sys
import time
from urllib.parse import urlsplit

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
SIMULATOR_ROOT = REPOSITORY / 'tests' / 'simulator'
START_TIMEOUT = 30
TOKEN = 'sim-token-full'
ORGANIZATION = 'acme'


class Simulator(object):
    """A simulator subprocess on 127.0.0.1 with a free port, and its control API."""

    def __init__(self, scenario, workdir):
        self.workdir = pathlib.Path(workdir)
        url_file = self.workdir / 'simulator.url'
        self.log_path = self.workdir / 'simulator.log'
        self._log = open(self.log_path, 'w', encoding='utf-8')  # pylint: disable=consider-using-with
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [
                sys.executable,
                '-m',
                'buildkite_simulator',
                '--host',
                '127.0.0.1',
                '--port',
                '0',
                '--scenario',
                str(scenario),
                '--url-file',
                str(url_file),
                '--pid-file',
                str(self.workdir / 'simulator.pid'),
            ],
            env=dict(os.environ, PYTHONPATH=str(SIMULATOR_ROOT)),
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not (url_file.exists() and url_file.read_text(encoding='utf-8').strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(
                    'The simulator did not start within %d s; its log:\n%s'
                    % (START_TIMEOUT, self.log_path.read_text(encoding='utf-8'))
                )
            time.sleep(0.05)
        self.api_url = url_file.read_text(encoding='utf-8').strip()
        parts = urlsplit(self.api_url)
        self.host, self.port = parts.hostname, parts.port

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def control(self, method, path, body=None):
        """Send one request to the control API under /_sim/ and return its decoded JSON response."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            payload = None if body is None else json.dumps(body)
            headers = {'Content-Type': 'application/json'} if payload is not None else {}
            connection.request(method, '/_sim/' + path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise RuntimeError('%s /_sim/%s failed with HTTP %s: %s' % (method, path, response.status, data[:300]))
        return json.loads(data)

    def reset(self, scenario, rate_limits=False):
        """Load ``scenario`` fresh (it clears the request log), with rate limits off unless asked."""
        self.control('POST', 'reset', {'scenario': str(scenario)})
        if not rate_limits:
            self.control('POST', 'config', {'rate_limit': {'enabled': False}})

    def requests(self):
        return self.control('GET', 'requests')['requests']

    def clear_requests(self):
        self.control('DELETE', 'requests')

    def job(self, alias):
        return self.control('GET', 'jobs/%s' % alias)

    def response_body_size(self, entry):
        """Return the body size of the response to a logged API request, by sending it again.

        The request goes out with the logged method, path, query, Accept and Range headers, and
        the size comes from Content-Length, so a streamed 1 GiB body is not read.
        """
        query = '&'.join('%s=%s' % (name, value) for name, values in entry['query'].items() for value in values)
        path = entry['path'] + ('?' + query if query else '')
        headers = {'Authorization': 'Bearer %s' % TOKEN}
        for name, value in entry['headers'].items():
            if name.lower() in ('accept', 'range'):
                headers[name] = value
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(entry['method'], path, headers=headers)
            response = connection.getresponse()
            length = response.getheader('Content-Length')
            if response.status != entry['status']:
                raise RuntimeError(
                    'the replay of %s %s got HTTP %s, not %s'
                    % (entry['method'], path, response.status, entry['status'])
                )
        finally:
            connection.close()
        return int(length) if length and length.isdigit() else 0
