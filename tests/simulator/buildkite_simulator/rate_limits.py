"""Buildkite's two REST rate limits: one per organization and one per user, in fixed windows.

The defaults are the documented ones (200 requests per organization and 50 per user per
60-second window). Windows run on the simulated clock, so advancing the clock ends them.
"""

import math
import threading
from dataclasses import asdict, dataclass

from .errors import ApiError


@dataclass
class RateLimitConfig:
    enabled: bool = True
    org: int = 200
    user: int = 50
    window: float = 60.0

    def to_json(self):
        return asdict(self)

    def updated(self, changes):
        """Return a copy with ``changes`` applied, or raise ValueError naming the invalid key."""
        if not isinstance(changes, dict):
            raise ValueError(f"rate_limit must be an object, got {changes!r}")
        values = asdict(self)
        for key, value in changes.items():
            if key not in values:
                raise ValueError(f"unknown rate_limit key {key!r}; valid keys: {', '.join(values)}")
            if key == "enabled" and not isinstance(value, bool):
                raise ValueError(f"rate_limit.enabled must be true or false, got {value!r}")
            if key in ("org", "user") and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"rate_limit.{key} must be an integer of at least 1, got {value!r}")
            if key == "window" and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ValueError(f"rate_limit.window must be a number of seconds greater than 0, got {value!r}")
            values[key] = value
        return RateLimitConfig(**values)


@dataclass
class _Window:
    started_at: float
    count: int = 0


@dataclass
class _Usage:
    limit: int
    count: int
    reset_seconds: int

    @property
    def remaining(self):
        return max(0, self.limit - self.count)


class RateLimiter:
    """Counts API requests per organization and per user, and decides when to respond with 429."""

    def __init__(self):
        self._lock = threading.Lock()
        self._windows = {}

    def clear(self):
        with self._lock:
            self._windows.clear()

    def check(self, config, organization, user_key, now):
        """Count one request and return its ``RateLimit-*`` headers; raise a 429 ApiError past a limit.

        ``organization`` is the slug from the request path ("" when the path names none) and
        ``user_key`` identifies the token's user. With limits disabled nothing is counted.
        Requests that get a 429 still count, so ``current`` in the 429 body can exceed ``limit``.
        """
        with self._lock:
            org_usage = self._count(("rest", organization), config.org, config, now)
            user_usage = self._count(("rest_user", user_key), config.user, config, now)
        headers = self._headers(org_usage, user_usage)

        if config.enabled and user_usage.count > user_usage.limit:
            raise self._exceeded("rest_user", user_usage, headers)
        if config.enabled and org_usage.count > org_usage.limit:
            raise self._exceeded("rest", org_usage, headers)
        return headers

    def _count(self, key, limit, config, now):
        window = self._windows.get(key)
        if window is None or now >= window.started_at + config.window:
            window = _Window(started_at=now)
            self._windows[key] = window
        if config.enabled:
            window.count += 1
        reset_seconds = max(0, math.ceil(window.started_at + config.window - now))
        return _Usage(limit=limit, count=window.count, reset_seconds=reset_seconds)

    @staticmethod
    def _headers(org_usage, user_usage):
        headers = {
            "RateLimit-Scope": "rest",
            "RateLimit-Remaining": str(org_usage.remaining),
            "RateLimit-Limit": str(org_usage.limit),
            "RateLimit-Reset": str(org_usage.reset_seconds),
            "RateLimit-User-Scope": "rest_user",
            "RateLimit-User-Remaining": str(user_usage.remaining),
            "RateLimit-User-Limit": str(user_usage.limit),
            "RateLimit-User-Reset": str(user_usage.reset_seconds),
        }
        # NOTE: Buildkite documents these two headers but not their values; this text is the simulator's own.
        if org_usage.remaining == 0:
            headers["RateLimit-Warning"] = _exhausted_warning("organization", org_usage)
        if user_usage.remaining == 0:
            headers["RateLimit-User-Warning"] = _exhausted_warning("user", user_usage)
        return headers

    @staticmethod
    def _exceeded(scope, usage, headers):
        message = (
            "You have exceeded your API rate limit. "
            f"Please wait {usage.reset_seconds} seconds before making more requests."
        )
        extra_body = {"scope": scope, "limit": usage.limit, "current": usage.count, "reset": usage.reset_seconds}
        return ApiError(429, message, extra_body=extra_body, headers=headers)


def _exhausted_warning(kind, usage):
    return f"The {kind} rate limit of {usage.limit} requests is used up; it resets in {usage.reset_seconds} seconds"
