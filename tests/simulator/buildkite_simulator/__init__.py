"""A stateful simulator of Buildkite's REST API for jobs, serving on a loopback address.

Start it from Python with ``start_simulator()``, or from a shell with
``python -m buildkite_simulator``. The README beside this package describes the routes, the
control API under ``/_sim/`` and the scenario format.
"""

from .scenarios import ScenarioError, available_scenarios
from .server import RunningSimulator, start_simulator, validate_loopback_host
from .simulator import Simulator

__all__ = [
    "RunningSimulator",
    "ScenarioError",
    "Simulator",
    "available_scenarios",
    "start_simulator",
    "validate_loopback_host",
]
