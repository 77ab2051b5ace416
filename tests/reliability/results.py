"""Collect the reliability suite's results as JSON lines, one file per pytest worker.

A test that is one cell of a table in docs/reliability.md calls ``record(table, row)``.
render_report.py reads every file in the results directory and writes the page.
"""

import json
import os
from pathlib import Path

TABLES = ("faults", "double_action", "token", "bad_input", "load")

# The Makefile sets RELIABILITY_RESULTS; a run without it writes next to the other scratch files.
DEFAULT_DIRECTORY = Path(__file__).resolve().parents[2] / ".tmp" / "reliability"


def results_directory():
    """Return the directory that holds the results files, creating it if needed."""
    directory = Path(os.environ.get("RELIABILITY_RESULTS") or DEFAULT_DIRECTORY)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def results_file():
    """Return this process's results file; pytest-xdist names each worker in PYTEST_XDIST_WORKER."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return results_directory() / ("results-%s-%d.jsonl" % (worker, os.getpid()))


def record(table, row):
    """Append one row to ``table``.

    ``row`` is a flat dict of short strings, ints, bools or lists of strings (such as the request
    sequence, "PUT /v2/.../retry"). Keep timings and random values out of it: the page must be
    the same on every run.
    """
    if table not in TABLES:
        raise ValueError("unknown reliability table %r; use one of %s" % (table, ", ".join(TABLES)))
    for key, value in row.items():
        if not isinstance(key, str):
            raise TypeError("reliability row keys must be strings, got %r" % (key,))
        if isinstance(value, (list, tuple)):
            if not all(isinstance(item, str) for item in value):
                raise TypeError("reliability row %r: list values must be strings" % key)
        elif value is not None and not isinstance(value, (str, int, bool)):
            raise TypeError("reliability row %r: %r is not a string, int, bool or list" % (key, value))
    line = json.dumps({"table": table, "row": dict(row)}, sort_keys=True)
    with results_file().open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def read_results(directory=None):
    """Return {table: [row, ...]} from every results file in ``directory``."""
    directory = Path(directory) if directory else results_directory()
    tables = {}
    for path in sorted(directory.glob("results-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                tables.setdefault(entry["table"], []).append(entry["row"])
    return tables
