"""Generated logs: exact sizes, same bytes per seed, fast suffix ranges, bounded-memory streaming, render limit."""

import json
import math
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from buildkite_simulator.log_content import GeneratedLog

SIMULATOR_ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
BIG_LOG_BYTES = 200 * MIB
HUGE_LOG_BYTES = 1024 * MIB


def log_path(job_id, suffix="log"):
    return f"/organizations/acme/jobs/{job_id}/{suffix}"


def generated_bytes(size, seed):
    log = GeneratedLog(size, seed)
    return b"".join(log.chunks(0, size))


@pytest.mark.parametrize(("alias", "size"), [("big_log", BIG_LOG_BYTES), ("huge_log", HUGE_LOG_BYTES)])
def test_generated_log_head_reports_size(api, log_aliases, alias, size):
    response = api.head(log_path(log_aliases[alias]))

    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(size)
    assert response.headers["Accept-Ranges"] == "bytes"


def test_huge_log_tail_is_fast(api, log_aliases):
    started = time.monotonic()
    response = api.get(log_path(log_aliases["huge_log"]), headers={"Accept": "text/plain", "Range": "bytes=-100"})
    elapsed = time.monotonic() - started

    assert response.status_code == 206
    assert len(response.content) == 100
    assert response.content.endswith(b"\n")
    assert response.headers["Content-Range"] == f"bytes {HUGE_LOG_BYTES - 100}-{HUGE_LOG_BYTES - 1}/{HUGE_LOG_BYTES}"
    assert elapsed < 1.0


def test_huge_log_tail_matches_generator(api, log_aliases):
    response = api.get(log_path(log_aliases["huge_log"], "log.txt"), headers={"Range": "bytes=-5000"})

    log = GeneratedLog(HUGE_LOG_BYTES, 1024)
    assert response.content == b"".join(log.chunks(HUGE_LOG_BYTES - 5000, HUGE_LOG_BYTES))


def test_generated_log_same_bytes_for_same_seed():
    assert generated_bytes(300_000, 7) == generated_bytes(300_000, 7)


def test_generated_log_seed_changes_bytes():
    assert generated_bytes(300_000, 7) != generated_bytes(300_000, 8)


@pytest.mark.parametrize("size", [0, 1, 50, 119, 120, 121, 1000, 65536, 300_001])
def test_generated_log_exact_size(size):
    data = generated_bytes(size, 3)

    assert len(data) == size
    assert size == 0 or data.endswith(b"\n")


def test_generated_log_lines_are_realistic():
    lines = generated_bytes(120 * 1024, 5).split(b"\n")[:-1]

    assert {len(line) for line in lines} == {119}
    assert all(line.startswith(b"\x1b_bk;t=") for line in lines)
    assert lines[0][21:].startswith(b"--- :pytest: tests/unit/test_module_0000.py")
    assert lines[512][21:].startswith(b"--- ")
    assert any(b"\x1b[32mPASSED\x1b[0m" in line for line in lines)
    assert any(b"\x1b[31mFAILED\x1b[0m" in line for line in lines)


def test_generated_log_splits_marker_at_64_kib():
    data = generated_bytes(200_000, 1)

    marker_start = data.rfind(b"\x1b_bk;t=", 0, 65536)
    marker_end = data.find(b"\x07", marker_start) + 1

    assert marker_start < 65536 < marker_end
    assert (marker_start, marker_end) == (65520, 65541)


@pytest.mark.parametrize("suffix_bytes", [1, 119, 120, 121, 65536, 99_999, 100_000, 250_000])
def test_generated_log_suffix_matches_whole_text(api, aliases, suffix_bytes):
    job_id = aliases["parallel_shard_1"]
    whole = api.get(log_path(job_id, "log.txt")).content

    response = api.get(log_path(job_id, "log.txt"), headers={"Range": f"bytes=-{suffix_bytes}"})

    assert len(whole) == 100_000
    assert response.content == whole[-suffix_bytes:]


def test_generated_log_header_times(api, aliases):
    body = api.get(log_path(aliases["parallel_shard_2"])).json()

    # 100000 bytes are 833 lines of 120 bytes, with a header on lines 0 and 512, 3 ms apart per line.
    assert body["header_times"] == [1_767_225_600_000_000_000, (1_767_225_600_000 + 512 * 3) * 1_000_000]


@pytest.mark.parametrize("suffix", ["log", "log.html"])
def test_rendered_log_above_limit_too_large(api, log_aliases, suffix):
    response = api.get(log_path(log_aliases["big_log"], suffix))

    assert response.status_code == 413
    assert response.json() == {
        "message": f"The log is {BIG_LOG_BYTES} bytes, more than the {64 * MIB} bytes that JSON and HTML "
        "responses render; read it as text from log.txt or with Accept: text/plain"
    }


def test_render_limit_configurable(api, control, log_aliases):
    control.configure(max_rendered_log_bytes=100)

    small = api.get(log_path(log_aliases["small_log"]))
    text = api.get(log_path(log_aliases["small_log"], "log.txt"))

    assert small.status_code == 413
    assert text.status_code == 200


def write_generated_scenario(tmp_path, size):
    job = {"alias": "generated", "id": "0199a1b2-3000-4000-8000-00000000c001", "log": {"generate": {"bytes": size}}}
    build = {"organization": "acme", "pipeline": "web", "number": 1, "id": "0199a1b2-2000-4000-8000-00000000c001"}
    path = tmp_path / "generated.json"
    path.write_text(json.dumps({"builds": [{**build, "jobs": [job]}]}))
    return str(path)


def test_large_json_log_streams_whole(api, control, tmp_path):
    # 5 MiB is above the 4 MiB up to which the simulator builds a body in memory.
    size = 5 * MIB
    job_id = control.reset(write_generated_scenario(tmp_path, size))["aliases"]["generated"]

    response = api.get(log_path(job_id))

    body = response.json()
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert body["size"] == size
    assert body["content"] == generated_bytes(size, 0).decode()
    assert len(body["header_times"]) == math.ceil(size // 120 / 512)


def test_truncated_json_fault_cuts_streamed_log(api, control, tmp_path):
    size = 5 * MIB
    job_id = control.reset(write_generated_scenario(tmp_path, size))["aliases"]["generated"]
    control.add_faults({"action": "truncated_json", "path": "/log$"})

    response = api.get(log_path(job_id))

    whole = api.get(log_path(job_id)).content
    assert int(response.headers["Content-Length"]) == len(response.content) == len(whole) // 2
    assert response.content == whole[: len(whole) // 2]


def test_large_html_log_streams_whole(api, control, tmp_path):
    size = 5 * MIB
    job_id = control.reset(write_generated_scenario(tmp_path, size))["aliases"]["generated"]

    response = api.get(log_path(job_id, "log.html"))

    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.text.startswith('<div class="term-container">--- :pytest: tests/unit/test_module_0000.py')
    assert response.text.endswith("</div>")
    assert response.text.count("\n") == size // 120


def start_simulator_process(scenario):
    """Start ``python -m buildkite_simulator`` and return ``(process, api_url)``."""
    environment = {**os.environ, "PYTHONPATH": str(SIMULATOR_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "buildkite_simulator", "--port", "0", "--scenario", scenario],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=environment,
        text=True,
    )
    if not select.select([process.stdout], [], [], 10)[0]:
        process.kill()
        pytest.fail("the simulator printed no URL within 10 s")
    return process, process.stdout.readline().strip()


def peak_resident_bytes(pid):
    """Return the peak resident set size of process ``pid`` (VmHWM in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc")
def test_big_log_txt_streams_in_bounded_memory():
    process, url = start_simulator_process("logs")
    try:
        headers = {"Authorization": "Bearer sim-token-full"}
        job_url = f"{url}/organizations/acme/jobs/0199a1b2-3000-4000-8000-000000003003"
        requests.get(f"{job_url}/log.txt", headers={**headers, "Range": "bytes=-1000"}, timeout=10)
        peak_before = peak_resident_bytes(process.pid)

        received = 0
        with requests.get(f"{job_url}/log.txt", headers=headers, stream=True, timeout=30) as response:
            content_length = int(response.headers["Content-Length"])
            for chunk in response.iter_content(chunk_size=MIB):
                received += len(chunk)
        peak_after = peak_resident_bytes(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert content_length == BIG_LOG_BYTES
    assert received == BIG_LOG_BYTES
    assert peak_after - peak_before < 32 * MIB
