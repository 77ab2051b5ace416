# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures for the module_utils tests: a mocked Buildkite API, a fake clock and recorded responses.

The client runs on a real requests.Session. ``responses`` replaces only the transport adapter, so
auth, headers, redirects and exceptions go through the same code as against Buildkite.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import responses

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteClient

FIXTURES = Path(__file__).parent / 'fixtures'
API_URL = 'https://api.buildkite.com/v2'


class FakeTime(object):
    """Monotonic clock that only ``sleep`` advances, and that records every delay (in seconds) in ``sleeps``."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def token():
    """A long random API token, so that any copy of it in a message is found by a substring search."""
    return secrets.token_urlsafe(48)


@pytest.fixture
def api():
    """Mocked Buildkite API that fails the test unless every registered response was requested."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def warnings_sent():
    """The warnings the client passed to its ``warn`` callback, in order."""
    return []


@pytest.fixture
def make_client(token, fake_time, warnings_sent):
    """Return a factory of BuildkiteClient objects that never wait, with ``jitter`` as the fixed jitter value."""

    def make(jitter=0.0, api_url=API_URL, **options):
        options.setdefault('api_retries', 5)
        return BuildkiteClient(
            token,
            api_url,
            warn=warnings_sent.append,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
            jitter=lambda: jitter,
            **options,
        )

    return make


@pytest.fixture
def load_fixture():
    """Return a loader of recorded responses: decoded JSON for ``.json`` files, text otherwise."""

    def load(name):
        text = (FIXTURES / name).read_text(encoding='utf-8')
        if name.endswith('.json'):
            return json.loads(text)
        return text

    return load
