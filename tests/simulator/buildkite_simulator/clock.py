"""Simulated clock that jobs and rate limits read their time from."""

import threading
import time
from datetime import datetime, timezone


class SimulatedClock:
    """Wall-clock time, scaled by ``time_scale`` and moved forward by ``advance``.

    Simulated time starts at the real time when the clock is created and never runs
    backwards: changing the scale rebases the clock at the current simulated time.
    """

    def __init__(self, time_scale=1.0):
        self._lock = threading.Lock()
        self._anchor_simulated = time.time()
        self._anchor_monotonic = time.monotonic()
        self._time_scale = float(time_scale)
        self._advanced_seconds = 0.0

    @property
    def time_scale(self):
        return self._time_scale

    @property
    def advanced_seconds(self):
        """Total seconds added by ``advance`` since the clock was created."""
        return self._advanced_seconds

    def now(self):
        """Return the simulated time as seconds since the Unix epoch."""
        with self._lock:
            return self._now_unlocked()

    def _now_unlocked(self):
        elapsed = time.monotonic() - self._anchor_monotonic
        return self._anchor_simulated + elapsed * self._time_scale

    def advance(self, seconds):
        """Move simulated time forward by ``seconds`` (0 or more)."""
        if seconds < 0:
            raise ValueError(f"cannot move the clock backwards by {seconds} seconds")
        with self._lock:
            self._anchor_simulated += seconds
            self._advanced_seconds += seconds

    def set_time_scale(self, time_scale):
        """Make simulated time run ``time_scale`` times as fast as wall-clock time from now on; 0 stops it."""
        if time_scale < 0:
            raise ValueError(f"time_scale must be 0 or more, got {time_scale}")
        with self._lock:
            self._anchor_simulated = self._now_unlocked()
            self._anchor_monotonic = time.monotonic()
            self._time_scale = float(time_scale)


def format_timestamp(epoch_seconds):
    """Format a Unix time as Buildkite does: ISO 8601 UTC with milliseconds (``2026-12-04T10:00:00.123Z``).

    Returns None for None, so optional timestamps serialize as JSON null.
    """
    if epoch_seconds is None:
        return None
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
