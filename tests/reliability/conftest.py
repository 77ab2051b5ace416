# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures of the reliability suite: one Buildkite simulator per pytest worker, plugins run in-process.

Modules run through their ``main()`` with patched arguments and the lookup through Ansible's
plugin loader, so a cell costs milliseconds instead of an ansible-playbook start. Their HTTP
requests are real and go to the simulator on 127.0.0.1. Only time is replaced: the client's
sleep, clock and jitter run on a fake clock, so a 429 that requests a 7 s wait is waited out at
once, and the waits in messages are exact and the same on every run.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
SIMULATOR_ROOT = REPOSITORY / 'tests' / 'simulator'
if str(SIMULATOR_ROOT) not in sys.path:
    sys.path.insert(0, str(SIMULATOR_ROOT))
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

# The collection loader must be installed before the collection is first imported, so the
# lookup can be loaded by name (tests/unit/plugins/conftest.py explains why).
import ansible_collections  # noqa: E402
from ansible.utils.collection_loader import AnsibleCollectionConfig  # noqa: E402
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder  # noqa: E402

if AnsibleCollectionConfig.collection_finder is None:
    _AnsibleCollectionFinder(paths=[os.path.dirname(path) for path in ansible_collections.__path__])._install()

from ansible.errors import AnsibleError  # noqa: E402
from ansible.module_utils.common import warnings as module_warnings  # noqa: E402
from ansible.plugins.loader import lookup_loader  # noqa: E402
from matrix import ORGANIZATION, TOKEN  # noqa: E402

# Importing controller code marks the process as the controller, so it happens here, before
# run_module marks it as a module process for each test.
from ansible_collections.opskite.buildkite.plugins.lookup import buildkite_job_env  # noqa: E402
from ansible_collections.opskite.buildkite.plugins.module_utils import _options  # noqa: E402
from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteClient  # noqa: E402
from buildkite_simulator import start_simulator  # noqa: E402

SCENARIO = 'retry'
# Short enough that a read-timeout cell costs under a second, long enough for a loaded 2-core machine.
TIMEOUT = 0.5
API_RETRIES = 2
# Fault actions after which a request's log entry keeps no status.
DROPPING = ('drop', 'apply_then_drop')
CONNECTION_VARIABLES = (
    'BUILDKITE_API_TOKEN',
    'BUILDKITE_API_URL',
    'BUILDKITE_ORGANIZATION_SLUG',
    'BUILDKITE_TIMEOUT',
    'BUILDKITE_API_RETRIES',
)


class FakeTime(object):
    """A monotonic clock that only ``sleep`` advances; it records each sleep."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class SimulatorControl(object):
    """The simulator's control API under /_sim, as used by the cells."""

    def __init__(self, running):
        self.running = running
        self.url = running.url

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.running.control_url + path, data=data, method=method, headers={'Content-Type': 'application/json'}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def reset(self, scenario=SCENARIO):
        summary = self.call('POST', '/reset', {'scenario': scenario})
        self.call('DELETE', '/faults')
        self.call('DELETE', '/requests')
        self.aliases = summary['aliases']
        return summary

    def add_faults(self, *faults):
        self.call('POST', '/faults', {'faults': list(faults)})

    def configure(self, **changes):
        self.call('POST', '/config', changes)

    def requests(self):
        """Return the requests the simulator saw, as "METHOD /v2/..." strings in arrival order."""
        entries = sorted(self.call('GET', '/requests')['requests'], key=lambda entry: entry['seq'])
        return ['%s %s' % (entry['method'], entry['path']) for entry in entries]

    def job(self, alias):
        """Return the simulator's internal view of a job (times_retried, times_unblocked, ...)."""
        return self.call('GET', '/jobs/%s' % alias)

    def times_applied(self, way):
        """Return how often the simulator applied the retry or unblock of ``way``, or None for a read."""
        if way.changes is None:
            return None
        job = self.job(way.changes)
        return job['times_retried'] if way.name == 'retry' else job['times_unblocked']

    def wait_for_requests(self, timeout=5.0):
        """Wait until the simulator has finished every request, such as one it delays past the client's timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entries = self.call('GET', '/requests')['requests']
            if all(
                entry['status'] is not None or (entry['fault'] or {}).get('action') in DROPPING for entry in entries
            ):
                return
            time.sleep(0.05)
        raise AssertionError('the simulator still handles a request after %s s' % timeout)


@pytest.fixture(scope='session')
def simulator_server():
    running = start_simulator(SCENARIO)
    yield running
    running.stop()


@pytest.fixture
def simulator(simulator_server):
    control = SimulatorControl(simulator_server)
    control.reset()
    return control


@pytest.fixture(scope='session')
def refused_url():
    """Return an API URL on a loopback port that nothing listens on, so connections are refused."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    return 'http://127.0.0.1:%d/v2' % port


@pytest.fixture
def fake_time(monkeypatch):
    """Run every client this test creates on a fake clock with no jitter."""
    fake = FakeTime()

    def client_on_fake_time(*args, **kwargs):
        kwargs.setdefault('sleep', fake.sleep)
        kwargs.setdefault('clock', fake.clock)
        kwargs.setdefault('jitter', lambda: 0.0)
        return BuildkiteClient(*args, **kwargs)

    monkeypatch.setattr(_options, 'BuildkiteClient', client_on_fake_time)
    return fake


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Keep the shell's Buildkite variables (a with_simulator.py run sets them) out of the cells."""
    for name in CONNECTION_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def warning_texts(warnings):
    """Return warning texts; ansible-core 2.19 returns each warning as an event object."""
    return [item['event']['msg'] if isinstance(item, dict) else item for item in warnings or []]


@pytest.fixture
def run_module(capsys, monkeypatch, fake_time):
    """Return a runner of a module's main() that returns (failed, result) with warnings as texts."""
    import importlib

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

    try:
        from ansible.module_utils import _internal as module_utils_internal
    except ImportError:  # ansible-core before 2.19
        module_utils_internal = None
    # A module runs in its own process, where warnings go into the result. Once controller code
    # such as the lookup plugin is imported, ansible-core 2.19 sends them to the display instead.
    if getattr(module_utils_internal, 'is_controller', None) is not None:
        monkeypatch.setattr(module_utils_internal, 'is_controller', False)

    def run(name, args):
        module = importlib.import_module('ansible_collections.opskite.buildkite.plugins.modules.%s' % name)
        # Warnings are process-wide and deduplicated; a real module process starts with none.
        module_warnings._global_warnings.clear()
        capsys.readouterr()
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                module.main()
        result = json.loads(capsys.readouterr().out)
        result['warnings'] = warning_texts(result.get('warnings'))
        return bool(result.get('failed')), result

    return run


@pytest.fixture
def run_lookup(monkeypatch, fake_time):
    """Return a runner of the buildkite_job_env lookup that returns (failed, result).

    ``result`` has ``env`` (the lookup's value) or ``msg`` (the AnsibleError text), and
    ``warnings``, the texts the lookup sent to the display.
    """

    def run(terms, options):
        warnings = []
        lookup = lookup_loader.get('opskite.buildkite.buildkite_job_env')
        # Display is a process-wide singleton, so its warning is replaced only while the lookup runs.
        with monkeypatch.context() as patched:
            patched.setattr(buildkite_job_env.display, 'warning', lambda msg, *args, **kwargs: warnings.append(msg))
            try:
                values = lookup.run(terms, variables={}, **options)
            except AnsibleError as exc:
                return True, {'msg': str(exc), 'warnings': warnings}
        return False, {'env': values[0] if values else None, 'warnings': warnings}

    return run


def connection_options(api_url):
    return {
        'api_url': api_url,
        'api_token': TOKEN,
        'organization': ORGANIZATION,
        'timeout': TIMEOUT,
        'api_retries': API_RETRIES,
    }


@pytest.fixture
def run_way(run_module, run_lookup, tmp_path):
    """Return a runner of a matrix Way against ``api_url`` that returns (failed, result).

    ``result['value']`` is what the run produced for comparison with a run without faults:
    the job's id and state, the log's content or saved text, or the environment.
    """

    def run(way, api_url, directory=None):
        directory = directory or tmp_path
        if way.lookup:
            failed, result = run_lookup([way.happy_requests[0].split('/')[5]], connection_options(api_url))
            result['value'] = result.get('env')
            return failed, result

        options = dict(connection_options(api_url))
        for name, value in way.options.items():
            options[name] = value.format(tmp=directory) if isinstance(value, str) else value
        failed, result = run_module(way.plugin, options)
        if 'dest' in options:
            dest = Path(options['dest'])
            result['value'] = dest.read_text(encoding='utf-8') if dest.exists() else None
        elif way.plugin == 'buildkite_job_log':
            result['value'] = (result.get('changed'), result.get('content'))
        else:
            job = result.get('job') or {}
            result['value'] = (result.get('changed'), job.get('id'), job.get('state'))
        return failed, result

    return run


@pytest.fixture(scope='session')
def happy_results():
    return {}


@pytest.fixture
def happy_result(simulator, run_way, happy_results, tmp_path):
    """Return a runner that gives a Way's result value without faults, computed once per worker."""

    def value(way):
        if way.name not in happy_results:
            simulator.reset()
            directory = tmp_path / 'happy'
            directory.mkdir(exist_ok=True)
            failed, result = run_way(way, simulator.url, directory)
            assert not failed, result
            assert simulator.requests() == list(way.happy_requests)
            happy_results[way.name] = result['value']
        return happy_results[way.name]

    return value
