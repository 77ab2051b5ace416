"""Command line: serve the simulator until SIGTERM or SIGINT.

Usage: ``PYTHONPATH=tests/simulator python -m buildkite_simulator --port 0 --scenario retry``.
It prints one line, the API base URL ``http://127.0.0.1:PORT/v2``, to stdout and logs to stderr.
"""

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from .scenarios import ScenarioError, available_scenarios
from .server import start_simulator, validate_loopback_host
from .simulator import DEFAULT_SCENARIO

logger = logging.getLogger("buildkite_simulator")


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="python -m buildkite_simulator",
        description="Serve a stateful simulator of Buildkite's REST API for jobs on a loopback address.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="loopback address to listen on: 127.0.0.1 (default), another 127.x.y.z address, ::1 or localhost",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port to listen on; 0 (default) picks a free port")
    parser.add_argument(
        "--scenario",
        default=DEFAULT_SCENARIO,
        help=f"bundled scenario name ({', '.join(available_scenarios())}) or path to a scenario JSON file "
        f"(default: {DEFAULT_SCENARIO})",
    )
    parser.add_argument("--url-file", type=Path, help="write the API base URL to this file once the server listens")
    parser.add_argument("--pid-file", type=Path, help="write the process id to this file once the server listens")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    arguments = parser.parse_args(argv)
    try:
        arguments.host = validate_loopback_host(arguments.host)
    except ValueError as error:
        parser.error(str(error))
    if not 0 <= arguments.port <= 65535:
        parser.error(f"--port must be between 0 and 65535, got {arguments.port}")
    return arguments


def write_file_atomically(path, text):
    """Write ``text`` to ``path`` through a temporary file, so a reader never sees a partial file."""
    temporary = path.with_name(f"{path.name}.tmp{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def main(argv=None):
    arguments = parse_arguments(argv)
    logging.basicConfig(
        level=logging.DEBUG if arguments.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )

    try:
        running = start_simulator(arguments.scenario, arguments.host, arguments.port)
    except ScenarioError as error:
        logger.error("cannot load the scenario: %s", error)
        return 2
    except OSError as error:
        logger.error("cannot listen on %s port %s: %s", arguments.host, arguments.port, error)
        return 1

    stop_requested = threading.Event()

    def request_stop(signal_number, _frame):
        logger.info("received %s, stopping", signal.Signals(signal_number).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    written_files = []
    try:
        # The files come first, so a reader who sees the URL on stdout finds them in place.
        if arguments.url_file:
            write_file_atomically(arguments.url_file, running.url + "\n")
            written_files.append(arguments.url_file)
        if arguments.pid_file:
            write_file_atomically(arguments.pid_file, f"{os.getpid()}\n")
            written_files.append(arguments.pid_file)
        print(running.url, flush=True)
        # A timeout keeps the wait short, so the signal handler's flag is seen promptly.
        while not stop_requested.wait(0.5):
            pass
    finally:
        running.stop()
        for path in written_files:
            path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
