"""The simulator's state: the loaded scenario, tokens, config, clock, rate limits, faults and request log."""

import logging
import threading

from .auth import TokenStore
from .clock import SimulatedClock
from .config import SimulatorConfig
from .faults import FaultList
from .rate_limits import RateLimiter
from .representations import build_api_url, build_web_url
from .request_log import RequestLog
from .scenarios import instantiate, read_scenario

logger = logging.getLogger("buildkite_simulator")

DEFAULT_SCENARIO = "retry"


class Simulator:
    """All mutable state of one simulator. ``lock`` serializes every read and change of the world."""

    def __init__(self, scenario=DEFAULT_SCENARIO):
        self.lock = threading.RLock()
        self.clock = SimulatedClock()
        self.rate_limiter = RateLimiter()
        self.faults = FaultList()
        self.request_log = RequestLog()
        self.scenario_source = scenario
        self.reset(scenario)

    def now(self):
        return self.clock.now()

    def reset(self, scenario=None):
        """Load ``scenario``, or reload the current one, with its tokens and config and no faults or logged requests.

        The clock keeps running, so simulated time never goes backwards; only its scale is reset.
        Raises ScenarioError for an unknown or invalid scenario, leaving the previous state in place.
        """
        source = scenario or self.scenario_source
        with self.lock:
            loaded = instantiate(read_scenario(source), self.clock.now())
            config = SimulatorConfig().updated(loaded.config_changes)
            tokens = TokenStore()
            for token in loaded.tokens:
                tokens.add(token)

            self.scenario_source = source
            self.world = loaded.world
            self.description = loaded.description
            self.tokens = tokens
            self.config = config
            self.clock.set_time_scale(config.time_scale)
            self.rate_limiter.clear()
            self.faults.clear()
            self.request_log.clear()
        logger.info("loaded scenario %s", self.world.scenario_name)

    def update_config(self, changes):
        """Apply ``changes`` to the config and return the new config; raise ValueError for invalid ones."""
        with self.lock:
            config = self.config.updated(changes)
            self.config = config
            self.clock.set_time_scale(config.time_scale)
            return config

    def scenario_summary(self, api_base):
        """Return the loaded scenario's aliases and builds, the body of ``/_sim/reset`` and ``/_sim/scenario``."""
        with self.lock:
            now = self.clock.now()
            builds = []
            for build in self.world.builds.values():
                builds.append(
                    {
                        "organization": build.organization,
                        "pipeline": build.pipeline.slug,
                        "number": build.number,
                        "id": build.id,
                        "url": build_api_url(api_base, build),
                        "web_url": build_web_url(build),
                        "state": build.state_at(now),
                        "jobs": [
                            {
                                "alias": job.alias,
                                "id": job.id,
                                "type": job.type,
                                "step_key": job.definition.step_key,
                                "state": job.state_at(now),
                                "retried": job.retried,
                            }
                            for job in build.ordered_jobs()
                        ],
                    }
                )
            return {
                "scenario": self.world.scenario_name,
                "description": self.description,
                "aliases": dict(self.world.aliases),
                "builds": builds,
            }
