"""Make ``buildkite_simulator`` importable for the tests, whatever pytest's import mode."""

import sys
from pathlib import Path

SIMULATOR_ROOT = str(Path(__file__).resolve().parent)
if SIMULATOR_ROOT not in sys.path:
    sys.path.insert(0, SIMULATOR_ROOT)
