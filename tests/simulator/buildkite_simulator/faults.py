"""Injected faults: responses and connection failures that tests request through ``/_sim/faults``.

A fault matches a request by method and by a regular expression searched in the path
(without the query string). The first matching fault applies; its ``times`` counts down and
the fault is removed when it reaches 0 (``"times": null`` never runs out).
"""

import json
import re
import threading
from dataclasses import dataclass, field

# Each action and its effect. "No effect" means the request never reaches the API handler.
ACTIONS = {
    "status": "respond with the given status, body and headers; the request has no effect",
    "delay": "sleep, then handle the request normally",
    "drop": "close the connection without a response; the request has no effect",
    "reset_mid_response": "handle the request, send the headers and half the body, then close",
    "apply_then_drop": "handle the request, then close without a response",
    "apply_then_status": "handle the request, then respond with the given status and body instead",
    "apply_then_delay": "handle the request, then sleep before responding",
    "truncated_json": "handle the request, then send its JSON body cut in half as a complete response",
    "non_json": "respond 200 with an HTML page; the request has no effect",
    "redirect": "respond with a redirect to the given location; the request has no effect",
}

REDIRECT_STATUSES = (301, 302, 303, 307, 308)

DEFAULT_HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>"
    "<body><h1>Service Unavailable</h1><p>The simulator injected this page.</p></body></html>\n"
)

_FIELDS = ("action", "method", "path", "times", "status", "body", "content_type", "headers", "seconds", "location")


@dataclass
class Fault:
    id: int
    action: str
    method: str | None = None
    path: str | None = None
    times: int | None = 1
    status: int | None = None
    body: object = None
    content_type: str | None = None
    headers: dict = field(default_factory=dict)
    seconds: float = 0.0
    location: str | None = None
    path_pattern: re.Pattern | None = field(default=None, repr=False)

    def matches(self, method, path):
        if self.method is not None and self.method != method:
            return False
        return self.path_pattern is None or self.path_pattern.search(path) is not None

    def to_json(self):
        body = {"id": self.id}
        body.update({name: getattr(self, name) for name in _FIELDS})
        return body


def parse_fault(spec, fault_id):
    """Return the Fault that the JSON object ``spec`` describes, or raise ValueError naming the invalid key."""
    if not isinstance(spec, dict):
        raise ValueError(f"each fault must be an object, got {spec!r}")
    unknown = sorted(set(spec) - set(_FIELDS))
    if unknown:
        raise ValueError(f"unknown fault keys {unknown}; valid keys: {', '.join(_FIELDS)}")

    action = spec.get("action")
    if action not in ACTIONS:
        raise ValueError(f"fault action must be one of {', '.join(ACTIONS)}, got {action!r}")
    fault = Fault(id=fault_id, action=action)

    method = spec.get("method")
    if method is not None and not isinstance(method, str):
        raise ValueError(f"fault method must be a string such as \"PUT\", got {method!r}")
    fault.method = method.upper() if method else None

    fault.path = spec.get("path")
    if fault.path is not None:
        try:
            fault.path_pattern = re.compile(fault.path)
        except (re.error, TypeError) as error:
            raise ValueError(f"fault path must be a valid regular expression, got {fault.path!r}: {error}") from error

    fault.times = spec.get("times", 1)
    if fault.times is not None and (
        isinstance(fault.times, bool) or not isinstance(fault.times, int) or fault.times < 1
    ):
        raise ValueError(f"fault times must be an integer of at least 1, or null for no limit, got {fault.times!r}")

    fault.status = spec.get("status")
    if action == "redirect":
        fault.status = 302 if fault.status is None else fault.status
        if fault.status not in REDIRECT_STATUSES:
            raise ValueError(f"redirect status must be one of {REDIRECT_STATUSES}, got {fault.status!r}")
        fault.location = spec.get("location")
        if not isinstance(fault.location, str) or not fault.location:
            raise ValueError("a redirect fault needs a location, for example \"http://127.0.0.1:9/v2/...\"")
    elif action in ("status", "apply_then_status"):
        if isinstance(fault.status, bool) or not isinstance(fault.status, int) or not 100 <= fault.status <= 599:
            raise ValueError(f"a {action} fault needs a status between 100 and 599, got {fault.status!r}")
    elif action == "non_json":
        fault.status = 200 if fault.status is None else fault.status
    elif fault.status is not None:
        raise ValueError(f"a {action} fault takes no status")

    fault.body = spec.get("body")
    if fault.body is not None and not isinstance(fault.body, (dict, list, str)):
        raise ValueError(f"fault body must be a JSON object, a list, a string or null, got {fault.body!r}")
    fault.content_type = spec.get("content_type")
    if fault.content_type is not None and not isinstance(fault.content_type, str):
        raise ValueError(f"fault content_type must be a string, got {fault.content_type!r}")

    fault.headers = spec.get("headers") or {}
    if not isinstance(fault.headers, dict) or not all(
        isinstance(name, str) and isinstance(value, (str, int)) for name, value in fault.headers.items()
    ):
        raise ValueError(f"fault headers must be an object of header names to strings, got {fault.headers!r}")

    fault.seconds = spec.get("seconds", 0.0)
    if isinstance(fault.seconds, bool) or not isinstance(fault.seconds, (int, float)) or fault.seconds < 0:
        raise ValueError(f"fault seconds must be a number of 0 or more, got {fault.seconds!r}")
    if action in ("delay", "apply_then_delay") and "seconds" not in spec:
        raise ValueError(f"a {action} fault needs seconds, the time to sleep")
    return fault


def encode_fault_body(fault):
    """Return ``(body_bytes, content_type)`` for a fault's ``body``: JSON for objects, text for strings."""
    if fault.body is None or fault.body == "":
        return b"", fault.content_type
    if isinstance(fault.body, str):
        return fault.body.encode(), fault.content_type or "text/plain; charset=utf-8"
    return json.dumps(fault.body).encode(), fault.content_type or "application/json; charset=utf-8"


class FaultList:
    """The active faults, in the order they were added."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []
        self._next_id = 1

    def add(self, specs):
        """Validate every spec, then append them all and return the new faults.

        Raises ValueError for the first invalid spec, and then adds none of them.
        """
        if not isinstance(specs, list):
            raise ValueError(f"faults must be a list, got {specs!r}")
        with self._lock:
            faults = [parse_fault(spec, self._next_id + index) for index, spec in enumerate(specs)]
            self._next_id += len(faults)
            self._faults.extend(faults)
        return faults

    def take(self, method, path):
        """Return the first fault that matches the request and count one use of it, or None."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def clear(self):
        with self._lock:
            self._faults.clear()

    def to_json(self):
        with self._lock:
            return [fault.to_json() for fault in self._faults]
