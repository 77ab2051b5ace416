"""Settings that ``/_sim/config`` reads and changes, and that a scenario may preset."""

from dataclasses import dataclass, field

from .rate_limits import RateLimitConfig

# NOTE: Buildkite does not document the status of "Jobs can only be retried once"; a third-party
# guide reports 400, so 400 is the default and 422 can be chosen.
ALREADY_RETRIED_STATUSES = (400, 422)


@dataclass
class SimulatorConfig:
    already_retried_status: int = 400
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    time_scale: float = 1.0

    def to_json(self):
        return {
            "already_retried_status": self.already_retried_status,
            "rate_limit": self.rate_limit.to_json(),
            "time_scale": self.time_scale,
        }

    def updated(self, changes):
        """Return a copy with ``changes`` applied, or raise ValueError naming the invalid key."""
        if not isinstance(changes, dict):
            raise ValueError(f"config must be a JSON object, got {changes!r}")
        result = SimulatorConfig(self.already_retried_status, self.rate_limit, self.time_scale)
        for key, value in changes.items():
            if key == "already_retried_status":
                if value not in ALREADY_RETRIED_STATUSES or isinstance(value, bool):
                    raise ValueError(f"already_retried_status must be 400 or 422, got {value!r}")
                result.already_retried_status = value
            elif key == "rate_limit":
                result.rate_limit = result.rate_limit.updated(value)
            elif key == "time_scale":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValueError(f"time_scale must be a number, 0 (clock stopped) or more, got {value!r}")
                result.time_scale = float(value)
            else:
                raise ValueError(
                    f"unknown config key {key!r}; valid keys: already_retried_status, rate_limit, time_scale"
                )
        return result
