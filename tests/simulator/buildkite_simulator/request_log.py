"""The log of API requests that ``GET /_sim/requests`` returns."""

import copy
import threading
import time

from .clock import format_timestamp

# Request bodies above this size are cut in the log.
MAX_LOGGED_BODY_BYTES = 65536


class RequestLog:
    """API requests in arrival order. Control requests under ``/_sim/`` are not logged.

    An entry is added when a request arrives and completed when its response is sent, so a
    request that is still being delayed shows ``"status": null``. So does a request whose
    connection was closed without a response.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []
        self._next_seq = 1

    def start(self, request, simulated_now):
        """Add an entry for ``request`` and return it, to be completed with ``finish``."""
        headers = {}
        for name, value in request.headers.items():
            if name.lower() == "authorization":
                value = "<redacted>"
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        body = request.body[:MAX_LOGGED_BODY_BYTES].decode("utf-8", errors="replace") if request.body else None
        entry = {
            "time": time.time(),
            "simulated_time": format_timestamp(simulated_now),
            "method": request.method,
            "path": request.path,
            "query": {name: list(values) for name, values in request.query.items()},
            "headers": headers,
            "body": body,
            "client_port": request.client_port,
            "route": None,
            "status": None,
            "fault": None,
        }
        with self._lock:
            entry["seq"] = self._next_seq
            self._next_seq += 1
            self._entries.append(entry)
        return entry

    def finish(self, entry, status=None, fault=None, route=None):
        with self._lock:
            entry["status"] = status
            entry["fault"] = fault
            entry["route"] = route

    def entries(self):
        with self._lock:
            return copy.deepcopy(self._entries)

    def clear(self):
        with self._lock:
            self._entries.clear()
