"""Fixtures: one simulator per test session on a free port, reset to the retry scenario before each test."""

import pytest
import requests

from buildkite_simulator import start_simulator

FULL_TOKEN = "sim-token-full"
READ_TOKEN = "sim-token-read"
_DEFAULT = object()


class ApiClient:
    """Sends API requests to the simulator; paths are relative to the ``/v2`` base URL."""

    def __init__(self, running, token=FULL_TOKEN):
        self.url = running.url
        self.token = token
        self.session = requests.Session()

    def request(self, method, path, token=_DEFAULT, headers=None, **kwargs):
        token = self.token if token is _DEFAULT else token
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.url + path, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def head(self, path, **kwargs):
        return self.request("HEAD", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


class ControlClient:
    """Calls the control API under ``/_sim/`` and raises on any error status."""

    def __init__(self, running):
        self.url = running.control_url
        self.session = requests.Session()

    def call(self, method, path, payload=None):
        response = self.session.request(method, self.url + path, json=payload, timeout=10)
        response.raise_for_status()
        return response.json()

    def reset(self, scenario="retry"):
        return self.call("POST", "/reset", {"scenario": scenario})

    def configure(self, **changes):
        return self.call("POST", "/config", changes)

    def stop_clock(self):
        """Stop simulated time, so job states change only through ``advance``."""
        return self.configure(time_scale=0)

    def advance(self, seconds):
        return self.call("POST", "/clock", {"advance": seconds})

    def add_faults(self, *faults):
        return self.call("POST", "/faults", {"faults": list(faults)})

    def add_token(self, **spec):
        return self.call("POST", "/tokens", spec)

    def requests(self):
        return self.call("GET", "/requests")["requests"]

    def job(self, id_or_alias):
        return self.call("GET", f"/jobs/{id_or_alias}")


@pytest.fixture(scope="session")
def running_simulator():
    with start_simulator("retry") as running:
        yield running


@pytest.fixture
def control(running_simulator):
    client = ControlClient(running_simulator)
    client.reset("retry")
    return client


@pytest.fixture
def aliases(control):
    """Job UUIDs of the retry scenario by alias, for example ``aliases["flaky_test"]``."""
    return control.call("GET", "/scenario")["aliases"]


@pytest.fixture
def api(running_simulator, control):
    return ApiClient(running_simulator)


@pytest.fixture
def read_api(running_simulator, control):
    return ApiClient(running_simulator, token=READ_TOKEN)


@pytest.fixture
def log_aliases(control):
    """Job UUIDs of the logs scenario by alias, loaded with the clock stopped."""
    aliases = control.reset("logs")["aliases"]
    control.stop_clock()
    return aliases
