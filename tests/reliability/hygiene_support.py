# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures and helpers of the token hygiene, bad input and load tests.

Test modules import the fixtures they use from here, so that pytest finds them. Each pytest
process (each xdist worker) starts its own simulator on 127.0.0.1 with a free port.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
from pathlib import Path
from unittest import mock

import pytest
import requests

REPOSITORY = Path(__file__).resolve().parents[2]
SIMULATOR_ROOT = str(REPOSITORY / 'tests' / 'simulator')
if SIMULATOR_ROOT not in sys.path:
    sys.path.insert(0, SIMULATOR_ROOT)

# Plain pytest imports the collection as a namespace package; the plugin loader, which the
# lookup needs, works only once Ansible's collection finder is installed.
import ansible_collections  # noqa: E402
from ansible.utils.collection_loader import AnsibleCollectionConfig  # noqa: E402
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder  # noqa: E402

if AnsibleCollectionConfig.collection_finder is None:
    _AnsibleCollectionFinder(paths=[os.path.dirname(path) for path in ansible_collections.__path__])._install()

from ansible.module_utils import _internal as module_utils_internal  # noqa: E402
from ansible.module_utils.basic import FILE_COMMON_ARGUMENTS  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402
from ansible.plugins.loader import lookup_loader  # noqa: E402

from buildkite_simulator import start_simulator  # noqa: E402

MODULES = ('buildkite_job_retry', 'buildkite_job_unblock', 'buildkite_job_log', 'buildkite_job_info')
LOOKUP = 'opskite.buildkite.buildkite_job_env'
ORGANIZATION = 'acme'
# The scopes of the simulator's sim-token-full, which every route of the collection needs.
FULL_SCOPES = ['read_builds', 'write_builds', 'read_build_logs', 'write_build_logs', 'read_job_env']
BUILDKITE_VARIABLES = (
    'BUILDKITE_API_TOKEN',
    'BUILDKITE_API_URL',
    'BUILDKITE_ORGANIZATION_SLUG',
    'BUILDKITE_VALIDATE_CERTS',
    'BUILDKITE_CA_PATH',
    'BUILDKITE_TIMEOUT',
    'BUILDKITE_API_RETRIES',
)


def random_token():
    """Return a long random token in the form of a Buildkite user token (bkua_ and 80 hex digits)."""
    return 'bkua_' + secrets.token_hex(40)


def collections_path():
    """Return the directory that holds ansible_collections/opskite/buildkite, for ANSIBLE_COLLECTIONS_PATH."""
    for entry in ansible_collections.__path__:
        if os.path.isdir(os.path.join(entry, 'opskite', 'buildkite')):
            return os.path.dirname(entry)
    raise RuntimeError('opskite.buildkite is not importable; put its collections directory on PYTHONPATH')


class Simulator(object):
    """A running simulator and a client of its control API under /_sim."""

    def __init__(self, running):
        self.running = running
        self.url = running.url
        self.control_url = running.control_url
        self.session = requests.Session()

    def control(self, method, path, payload=None):
        response = self.session.request(method, self.control_url + path, json=payload, timeout=30)
        response.raise_for_status()
        return response.json()

    def reset(self, scenario='retry'):
        return self.control('POST', '/reset', {'scenario': scenario})

    def configure(self, **changes):
        return self.control('POST', '/config', changes)

    def add_token(self, token, scopes=None):
        """Register ``token`` for the scenario's first user with ``scopes`` (all of them by default)."""
        spec = {'token': token, 'scopes': scopes or FULL_SCOPES, 'organizations': None, 'user': 'sim'}
        return self.control('POST', '/tokens', spec)

    def add_faults(self, *faults):
        return self.control('POST', '/faults', {'faults': list(faults)})

    def requests(self):
        return self.control('GET', '/requests')['requests']

    def clear_requests(self):
        self.control('DELETE', '/requests')

    def job(self, alias_or_id):
        """Return the simulator's internal view of a job."""
        return self.control('GET', '/jobs/%s' % alias_or_id)

    def aliases(self):
        return self.control('GET', '/scenario')['aliases']


@pytest.fixture(name='simulator', scope='module')
def simulator_fixture():
    """One simulator per test module (and so per xdist worker), on 127.0.0.1 and a free port."""
    running = start_simulator('retry')
    try:
        yield Simulator(running)
    finally:
        running.stop()


@pytest.fixture(name='clean_environment')
def clean_environment_fixture(monkeypatch):
    """Remove the Buildkite variables of the shell that runs the tests, so only the options count."""
    for name in BUILDKITE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def plugin_module(name):
    return importlib.import_module('ansible_collections.opskite.buildkite.plugins.modules.%s' % name)


class ArgspecCaptured(Exception):
    """Raised by the stand-in for AnsibleModule once it has the module's keyword arguments."""


def module_options(name):
    """Return the names of the options a module accepts, read from the argument spec main() builds."""
    module = plugin_module(name)
    captured = {}

    def capture(**kwargs):
        captured.update(kwargs)
        raise ArgspecCaptured()

    with mock.patch.object(module, 'AnsibleModule', capture):
        try:
            module.main()
        except ArgspecCaptured:
            pass
    options = set(captured['argument_spec'])
    if captured.get('add_file_common_args'):
        options.update(FILE_COMMON_ARGUMENTS)
    return options


def lookup_options():
    lookup = lookup_loader.get(LOOKUP)
    return set(lookup.option_definitions)


def run_module(name, args, check_mode=False):
    """Run the module's main() in this process with ``args``; return (exit status, result).

    The module sends real HTTP requests to wherever ``api_url`` points.
    """
    module = plugin_module(name)
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    output = io.StringIO()
    status = None
    # A module runs in its own process, where warnings go into the result. Once controller code
    # such as the lookup plugin is imported, ansible-core 2.19 sends them to the display instead.
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(module_utils_internal, 'is_controller', False))
        stack.enter_context(patch_module_args(args))
        stack.enter_context(contextlib.redirect_stdout(output))
        try:
            module.main()
        except SystemExit as exc:
            status = exc.code
    return status, json.loads(output.getvalue())


def run_lookup(terms, **kwargs):
    """Run the lookup as Ansible's templar does, with no play variables; return its result."""
    lookup = lookup_loader.get(LOOKUP)
    return lookup.run(terms, variables={}, **kwargs)


class SilentListener(object):
    """A TCP listener on 127.0.0.1 that records each connection it accepts and sends nothing back.

    It stands for "another host" in redirect tests: nothing may ever connect to it.
    """

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(('127.0.0.1', 0))
        self.socket.listen(8)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = []
        self.received = b''
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stopped.is_set():
            try:
                connection, address = self.socket.accept()
            except OSError:
                continue
            self.connections.append(address)
            connection.settimeout(0.5)
            with contextlib.suppress(OSError):
                self.received += connection.recv(65536)
            connection.close()

    def stop(self):
        self._stopped.set()
        self._thread.join(timeout=5)
        self.socket.close()


@pytest.fixture(name='silent_listener', scope='module')
def silent_listener_fixture():
    listener = SilentListener()
    try:
        yield listener
    finally:
        listener.stop()


def ansible_playbook(playbook, inventory, env_extra=None, extra_args=(), cwd=None, timeout=600):
    """Run ansible-playbook from the interpreter's own bin directory; return the CompletedProcess."""
    env = dict(os.environ)
    for name in BUILDKITE_VARIABLES:
        env.pop(name, None)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=collections_path(),
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_FORCE_COLOR='0',
        ANSIBLE_HOST_KEY_CHECKING='False',
        ANSIBLE_RETRY_FILES_ENABLED='False',
        ANSIBLE_LOCALHOST_WARNING='False',
        ANSIBLE_INVENTORY_UNPARSED_WARNING='False',
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    env.update(env_extra or {})
    command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inventory)]
    command.extend(extra_args)
    command.append(str(playbook))
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def safe_repr(value, limit=40, replacements=()):
    """Return a short, printable description of a test value for the results table.

    ``replacements`` are (text, stand-in) pairs applied first, such as the simulator's address,
    whose port changes from run to run.
    """
    if isinstance(value, str) and len(value) > limit and len(set(value)) == 1:
        return '%d x %r' % (len(value), value[:1])
    text = repr(value)
    for old, new in replacements:
        text = text.replace(old, new)
    if isinstance(value, str) and len(value) > limit:
        return '%d characters: %s...' % (len(value), text[:limit])
    return text if len(text) <= limit else text[:limit] + '...'
