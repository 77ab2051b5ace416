"""The HTTP server: HTTP/1.1 with keep-alive on a loopback address, injected faults, and a Python API to start it."""

import ipaddress
import logging
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .api import handle_api_request
from .control import handle_control_request
from .errors import ApiError
from .faults import DEFAULT_HTML_PAGE, encode_fault_body
from .routing import Request, Response, StreamedBody, error_response
from .simulator import DEFAULT_SCENARIO, Simulator

logger = logging.getLogger("buildkite_simulator")

CONTROL_PREFIX = "/_sim"

# Request bodies above this size get a 413; the API takes at most small JSON bodies.
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024


def validate_loopback_host(host):
    """Return ``host`` as an IP address string, or raise ValueError if it is not a loopback address.

    "localhost" means 127.0.0.1.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError as error:
        raise ValueError(f"host must be a loopback IP address such as 127.0.0.1 or ::1, got {host!r}") from error
    if not address.is_loopback:
        raise ValueError(
            f"host must be a loopback address; {host} is not one, and the simulator never listens beyond this machine"
        )
    return str(address)


class SimulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server bound to a loopback address, one thread per connection."""

    daemon_threads = True

    def __init__(self, host, port, simulator):
        host = validate_loopback_host(host)
        self.address_family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
        super().__init__((host, port), SimulatorRequestHandler)
        self.simulator = simulator

    def server_bind(self):
        # HTTPServer.server_bind looks up the host's fully qualified name, a DNS query that can
        # stall without a network; a loopback server needs no name.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def base_url(self):
        host, port = self.server_address[:2]
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    @property
    def api_base(self):
        """The API base URL, ``http://127.0.0.1:PORT/v2``."""
        return f"{self.base_url}/v2"


class SimulatorRequestHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections open between requests, so every response has a Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "BuildkiteSimulator/1.0"

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes. Without TCP_NODELAY, Nagle's algorithm delays
        # the body until the client's delayed ACK of the headers, about 40 ms per response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self._handle()

    do_HEAD = do_GET
    do_POST = do_GET
    do_PUT = do_GET
    do_PATCH = do_GET
    do_DELETE = do_GET
    do_OPTIONS = do_GET

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        logger.debug("%s:%s %s", self.client_address[0], self.client_address[1], format % args)

    def _handle(self):
        try:
            body = self._read_body()
        except ApiError as error:
            logger.info("rejected the body of %s %s: %s", self.command, self.path, error.message)
            self.close_connection = True
            self._send(error_response(error))
            return

        parsed = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parsed.path,
            query_string=parsed.query,
            query=parse_qs(parsed.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            client_host=self.client_address[0],
            client_port=self.client_address[1],
        )
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            self._send(handle_control_request(self.server.simulator, request, self.server.api_base))
        else:
            self._handle_api(request)

    def _read_body(self):
        """Read the request body from Content-Length or chunked transfer coding, so the connection stays usable."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError as error:
                    raise ApiError(400, f"Invalid chunk size line {size_line!r}") from error
                if size == 0:
                    # Skip trailer fields up to the empty line that ends the body.
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_REQUEST_BODY_BYTES:
                    raise ApiError(413, f"The request body is larger than {MAX_REQUEST_BODY_BYTES} bytes")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        if not length_header.strip().isdigit():
            raise ApiError(400, f"Invalid Content-Length {length_header!r}")
        length = int(length_header)
        if length > MAX_REQUEST_BODY_BYTES:
            raise ApiError(413, f"The request body is larger than {MAX_REQUEST_BODY_BYTES} bytes")
        return self.rfile.read(length)

    def _handle_api(self, request):
        """Respond to an API request, applying the first matching fault and logging the request."""
        simulator = self.server.simulator
        entry = simulator.request_log.start(request, simulator.now())
        fault = simulator.faults.take(request.method, request.path)
        fault_json = fault.to_json() if fault else None
        action = fault.action if fault else None
        if fault:
            logger.info("fault %s (%s) applies to %s %s", fault.id, action, request.method, request.path)

        try:
            if action == "drop":
                simulator.request_log.finish(entry, None, fault_json)
                self.close_connection = True
                return
            if action in ("status", "non_json", "redirect"):
                response = fault_response(fault)
                simulator.request_log.finish(entry, response.status, fault_json)
                self._send(response)
                return
            if action == "delay":
                time.sleep(fault.seconds)

            response = handle_api_request(simulator, request, self.server.api_base)

            if action == "apply_then_drop":
                simulator.request_log.finish(entry, None, fault_json, response.route_name)
                self.close_connection = True
                return
            if action == "apply_then_status":
                route_name = response.route_name
                response = fault_response(fault)
                response.route_name = route_name
            if action == "apply_then_delay":
                time.sleep(fault.seconds)
            if action == "truncated_json":
                cut_length = response.length // 2
                if response.stream is not None:
                    full_body = response.stream
                    response.stream = StreamedBody(lambda: limit_stream(full_body, cut_length), cut_length)
                else:
                    response.body = response.body[:cut_length]
            simulator.request_log.finish(entry, response.status, fault_json, response.route_name)
            self._send(response, cut_body=action == "reset_mid_response")
        except Exception:
            logger.exception("internal error while handling %s %s", request.method, request.path)
            simulator.request_log.finish(entry, 500, fault_json)
            self._send(error_response(ApiError(500, "Internal simulator error; see the simulator's log")))

    def _send(self, response, cut_body=False):
        """Write ``response``; with ``cut_body``, send the full Content-Length but only half the body, then close.

        A streamed body is written chunk by chunk, so its size does not matter. A 204 has no
        Content-Length, as RFC 9110 requires.
        """
        length = response.length
        sent_length = length // 2 if cut_body else length
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, str(value))
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            if response.status != 204:
                self.send_header("Content-Length", str(length))
            if cut_body:
                # Announce the close, so a client never sends its next request on this connection:
                # after a HEAD, which has no body to cut, it would otherwise race the close.
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and response.status != 204:
                if response.stream is not None:
                    self._write_stream(response.stream, sent_length)
                else:
                    self.wfile.write(response.body[:sent_length])
            if cut_body:
                self.wfile.flush()
                self.close_connection = True
        except OSError as error:
            # The client went away, for example after its read timeout fired during a delay fault.
            logger.info(
                "could not send the response to %s:%s: %s", self.client_address[0], self.client_address[1], error
            )
            self.close_connection = True

    def _write_stream(self, chunks, length):
        """Write the first ``length`` bytes of ``chunks``; close the connection if they are fewer.

        The headers are gone by now, so an error here can only cut the body short, and the
        client sees a body shorter than its Content-Length.
        """
        written = 0
        try:
            for chunk in limit_stream(chunks, length):
                self.wfile.write(chunk)
                written += len(chunk)
        except OSError:
            # The client went away; _send logs it.
            raise
        except Exception:
            logger.exception("internal error while streaming the body of %s %s", self.command, self.path)
        if written != length:
            logger.error("sent %s of %s body bytes for %s %s; closing", written, length, self.command, self.path)
            self.close_connection = True


def limit_stream(chunks, length):
    """Yield the first ``length`` bytes of the byte chunks ``chunks``."""
    remaining = length
    for chunk in chunks:
        if remaining <= 0:
            break
        yield chunk[:remaining]
        remaining -= len(chunk)


def fault_response(fault):
    """Return the response a ``status``, ``apply_then_status``, ``non_json`` or ``redirect`` fault sends."""
    if fault.action == "redirect":
        return Response(status=fault.status, headers={**fault.headers, "Location": fault.location})
    if fault.action == "non_json":
        page = fault.body if isinstance(fault.body, str) else DEFAULT_HTML_PAGE
        content_type = fault.content_type or "text/html; charset=utf-8"
        return Response(status=fault.status, body=page.encode(), content_type=content_type, headers=dict(fault.headers))
    body, content_type = encode_fault_body(fault)
    return Response(status=fault.status, body=body, content_type=content_type, headers=dict(fault.headers))


class RunningSimulator:
    """A simulator serving in a background thread; ``stop()`` shuts it down. Also a context manager."""

    def __init__(self, server, thread):
        self.server = server
        self.thread = thread

    @property
    def simulator(self):
        return self.server.simulator

    @property
    def url(self):
        """The API base URL, ``http://127.0.0.1:PORT/v2``."""
        return self.server.api_base

    @property
    def base_url(self):
        return self.server.base_url

    @property
    def control_url(self):
        return f"{self.server.base_url}{CONTROL_PREFIX}"

    @property
    def port(self):
        return self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        logger.info("simulator on %s stopped", self.url)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


def start_simulator(scenario=DEFAULT_SCENARIO, host="127.0.0.1", port=0):
    """Start a simulator with ``scenario`` in a background thread and return it once it is listening.

    ``port`` 0 picks a free port; read it back from ``.url`` or ``.port``. Raises ValueError for
    a host that is not a loopback address and ScenarioError for an unknown or invalid scenario.
    """
    server = SimulatorHTTPServer(host, port, Simulator(scenario))
    thread = threading.Thread(target=server.serve_forever, name="buildkite-simulator", daemon=True)
    thread.start()
    logger.info("simulator serving %s with scenario %s", server.api_base, server.simulator.world.scenario_name)
    return RunningSimulator(server, thread)
