"""The command ``python -m buildkite_simulator``: URL on stdout, URL and pid files, loopback only, clean stop."""

import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

SIMULATOR_ROOT = Path(__file__).resolve().parents[1]
DEMO_BUILD = "/organizations/acme/pipelines/shop/builds/1234"


def start_command(*arguments):
    environment = {**os.environ, "PYTHONPATH": str(SIMULATOR_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "buildkite_simulator", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        text=True,
    )


def read_url(process, timeout=10):
    """Return the first stdout line of ``process``, failing the test if none arrives in ``timeout`` seconds."""
    ready = select.select([process.stdout], [], [], timeout)[0]
    if not ready:
        process.kill()
        pytest.fail(f"the simulator printed no URL within {timeout} s; stderr: {process.stderr.read()}")
    return process.stdout.readline().strip()


def stop(process, signal_number):
    process.send_signal(signal_number)
    try:
        return process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the simulator did not stop within 10 s of the signal")


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_command_serves_and_stops_on_signal(tmp_path, signal_number):
    url_file = tmp_path / "url"
    pid_file = tmp_path / "pid"
    process = start_command(
        "--port", "0", "--scenario", "demo", "--url-file", str(url_file), "--pid-file", str(pid_file)
    )

    url = read_url(process)
    url_file_text = url_file.read_text()
    pid_file_text = pid_file.read_text()
    response = requests.get(url + DEMO_BUILD, headers={"Authorization": "Bearer sim-token-full"}, timeout=10)
    exit_code = stop(process, signal_number)

    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/v2")
    assert url_file_text == url + "\n"
    assert pid_file_text == f"{process.pid}\n"
    assert response.status_code == 200
    assert exit_code == 0
    assert process.stdout.read() == ""
    assert not url_file.exists()
    assert not pid_file.exists()


def test_command_listens_on_given_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = start_command("--port", str(port))

    url = read_url(process)
    stop(process, signal.SIGTERM)

    assert url == f"http://127.0.0.1:{port}/v2"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_command_rejects_non_loopback_host(host):
    process = start_command("--host", host)

    stderr = process.communicate(timeout=10)[1]

    assert process.returncode == 2
    assert "loopback" in stderr


def test_command_rejects_unknown_scenario():
    process = start_command("--scenario", "nope")

    stdout, stderr = process.communicate(timeout=10)

    assert process.returncode == 2
    assert stdout == ""
    assert "unknown scenario 'nope'" in stderr
