"""Requests, responses and the route table shared by the API and the control API."""

import json
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from .errors import ApiError

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    query: dict
    headers: object
    body: bytes
    client_host: str
    client_port: int
    params: dict = field(default_factory=dict)

    def query_value(self, name, default=None):
        """Return the first value of query parameter ``name``, or ``default`` when it is absent."""
        values = self.query.get(name)
        return values[0] if values else default

    def json_body(self):
        """Parse the body as JSON; an empty body is ``{}``. Raise a 400 ApiError for invalid JSON."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ApiError(400, f"The request body is not valid JSON: {error}") from error


class StreamedBody:
    """A response body that ``make_chunks()`` yields in byte chunks, so that it never sits in memory whole.

    When ``length`` is not given, the first use of ``length`` counts the bytes of one run of
    ``make_chunks``, so it must yield the same bytes every time. The server reads the length
    after the simulator's lock is released.
    """

    def __init__(self, make_chunks, length=None):
        self._make_chunks = make_chunks
        self._length = length

    @property
    def length(self):
        if self._length is None:
            self._length = sum(len(chunk) for chunk in self._make_chunks())
        return self._length

    def __iter__(self):
        return iter(self._make_chunks())


@dataclass
class Response:
    """An HTTP response with its body in ``body``, or in ``stream`` (a StreamedBody) when it is large.

    ``content_length`` lets a HEAD response announce a length without a body.
    """

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict = field(default_factory=dict)
    # The name of the API route that produced the response, for the request log.
    route_name: str | None = None
    stream: StreamedBody | None = None
    content_length: int | None = None

    @property
    def length(self):
        if self.content_length is not None:
            return self.content_length
        if self.stream is not None:
            return self.stream.length
        return len(self.body)


def json_response(status, payload, headers=None):
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status=status, body=body, content_type=JSON_CONTENT_TYPE, headers=dict(headers or {}))


def error_response(error):
    return json_response(error.status, error.body(), error.headers)


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: object
    name: str
    scope: str | None = None


class Router:
    """Routes with ``{name}`` placeholders for one path segment each, for example ``/jobs/{job_id}``."""

    def __init__(self):
        self.routes = []

    def add(self, method, template, handler, name, scope=None):
        # Literal parts are escaped, so the "." of "log.txt" matches only a dot.
        parts = re.split(r"\{(\w+)\}", template)
        regex = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)" for index, part in enumerate(parts))
        self.routes.append(Route(method, re.compile(f"{regex}/?"), handler, name, scope))

    def match(self, method, path):
        """Return ``(route, params)`` for the request, or raise 404 (unknown path) or 405 (wrong method).

        HEAD falls back to the GET route of the same path, as in Rails.
        """
        allowed = []
        for route in self.routes:
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            allowed.append(route.method)
            if route.method == method:
                return route, {name: unquote(value) for name, value in found.groupdict().items()}
        if method == "HEAD" and "GET" in allowed:
            return self.match("GET", path)
        if allowed:
            raise ApiError(405, "Method Not Allowed", headers={"Allow": ", ".join(sorted(set(allowed)))})
        raise ApiError(404, "Not Found")
