"""Settings that ``/_sim/config`` reads and changes, and that a scenario may preset."""

import dataclasses
from dataclasses import dataclass, field

from .rate_limits import RateLimitConfig

# NOTE: Buildkite does not document the status of "Jobs can only be retried once"; a third-party
# guide reports 400, so 400 is the default and 422 can be chosen.
ALREADY_RETRIED_STATUSES = (400, 422)

# NOTE: Buildkite does not document the status of "The job's state must be blocked" (an unblock
# of a job that is not blocked); 400 is the default and 422 can be chosen.
ALREADY_UNBLOCKED_STATUSES = (400, 422)

# NOTE: Buildkite does not document its response to an unblock of a block step whose earlier
# steps still run. This status and message are the simulator's choice; any 4xx can be set.
NOT_UNBLOCKABLE_STATUS = 422
NOT_UNBLOCKABLE_MESSAGE = "This job cannot be unblocked until the steps before it have finished"

# NOTE: Buildkite does not document what reading a deleted log returns. "not_found" (404 "No log
# found", and 404 for a second DELETE) is the default because a client that handles it also
# handles "empty" (200 with no content), which can be chosen.
DELETED_LOG_RESPONSES = ("not_found", "empty")

# Logs larger than this get a 413 in JSON and HTML, because the simulator renders those twice to
# stream them. The raw text, ranges and HEAD have no limit.
MAX_RENDERED_LOG_BYTES = 64 * 1024 * 1024

_KEYS = (
    "already_retried_status",
    "already_unblocked_status",
    "not_unblockable_status",
    "not_unblockable_message",
    "unblock_accepts_arrays",
    "deleted_log_response",
    "max_rendered_log_bytes",
    "rate_limit",
    "time_scale",
)


@dataclass
class SimulatorConfig:
    already_retried_status: int = 400
    already_unblocked_status: int = 400
    not_unblockable_status: int = NOT_UNBLOCKABLE_STATUS
    not_unblockable_message: str = NOT_UNBLOCKABLE_MESSAGE
    # Whether an unblock may send a multi-select field's values as a JSON array (joined with
    # newlines); when false such a value gets a 422. Buildkite has not confirmed either way.
    unblock_accepts_arrays: bool = True
    deleted_log_response: str = "not_found"
    # None removes the limit.
    max_rendered_log_bytes: int | None = MAX_RENDERED_LOG_BYTES
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    time_scale: float = 1.0

    def to_json(self):
        return {
            "already_retried_status": self.already_retried_status,
            "already_unblocked_status": self.already_unblocked_status,
            "not_unblockable_status": self.not_unblockable_status,
            "not_unblockable_message": self.not_unblockable_message,
            "unblock_accepts_arrays": self.unblock_accepts_arrays,
            "deleted_log_response": self.deleted_log_response,
            "max_rendered_log_bytes": self.max_rendered_log_bytes,
            "rate_limit": self.rate_limit.to_json(),
            "time_scale": self.time_scale,
        }

    def updated(self, changes):
        """Return a copy with ``changes`` applied, or raise ValueError naming the invalid key."""
        if not isinstance(changes, dict):
            raise ValueError(f"config must be a JSON object, got {changes!r}")
        result = dataclasses.replace(self)
        for key, value in changes.items():
            if key == "already_retried_status":
                if value not in ALREADY_RETRIED_STATUSES or isinstance(value, bool):
                    raise ValueError(f"already_retried_status must be 400 or 422, got {value!r}")
                result.already_retried_status = value
            elif key == "already_unblocked_status":
                if value not in ALREADY_UNBLOCKED_STATUSES or isinstance(value, bool):
                    raise ValueError(f"already_unblocked_status must be 400 or 422, got {value!r}")
                result.already_unblocked_status = value
            elif key == "not_unblockable_status":
                if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 499:
                    raise ValueError(f"not_unblockable_status must be a 4xx status code, got {value!r}")
                result.not_unblockable_status = value
            elif key == "not_unblockable_message":
                if not isinstance(value, str) or not value:
                    raise ValueError(f"not_unblockable_message must be a non-empty string, got {value!r}")
                result.not_unblockable_message = value
            elif key == "unblock_accepts_arrays":
                if not isinstance(value, bool):
                    raise ValueError(f"unblock_accepts_arrays must be true or false, got {value!r}")
                result.unblock_accepts_arrays = value
            elif key == "deleted_log_response":
                if value not in DELETED_LOG_RESPONSES:
                    raise ValueError(f'deleted_log_response must be "not_found" or "empty", got {value!r}')
                result.deleted_log_response = value
            elif key == "max_rendered_log_bytes":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                    raise ValueError(
                        f"max_rendered_log_bytes must be a number of bytes, 0 or more, or null, got {value!r}"
                    )
                result.max_rendered_log_bytes = value
            elif key == "rate_limit":
                result.rate_limit = result.rate_limit.updated(value)
            elif key == "time_scale":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValueError(f"time_scale must be a number, 0 (clock stopped) or more, got {value!r}")
                result.time_scale = float(value)
            else:
                raise ValueError(f"unknown config key {key!r}; valid keys: {', '.join(_KEYS)}")
        return result
