"""The emulator's HTTP layer: a threaded server on 127.0.0.1, a route table, Databricks-shaped errors, faults.

Every emulated service registers its routes on a :class:`Router`; the server owns sockets, authentication
and the fault switches, so services only turn a :class:`Request` into a :class:`Response`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_logger = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
HOLD_CHECK_SECONDS = 0.05
"""How often a held request checks whether the emulator is stopping."""


class ApiError(Exception):
    """A Databricks REST error: serialized as ``{"error_code": ..., "message": ...}`` with an HTTP status."""

    def __init__(self, status: int, error_code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": self.message, **self.details}


def not_found(what: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"{what} does not exist.")


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            value = json.loads(self.body)
        except ValueError as exc:
            raise ApiError(400, "MALFORMED_REQUEST", f"Invalid JSON given in the body of the request: {exc}") from None
        if not isinstance(value, dict):
            raise ApiError(400, "MALFORMED_REQUEST", "The body of the request must be a JSON object.")
        return value

    def arg(self, name: str, default: str | None = None) -> str | None:
        """A query-string argument, or the same key of a JSON body (the SDK sends GET args as query strings)."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    truncate_at: int | None = None
    """Send only this many bytes of the body, then drop the connection (set by a :class:`Fault`)."""

    @classmethod
    def of_json(cls, value: Any, status: int = 200) -> Response:
        return cls(status=status, body=json.dumps(value, separators=(",", ":")).encode())


Handler = Callable[[Request], "Response | dict[str, Any] | list[Any] | None"]


@dataclass
class Fault:
    """What a fault switch does to matching requests: an HTTP error, a delay, or a broken body.

    ``status``: answer with this HTTP status and a Databricks error body. ``delay``: seconds to wait before
    answering (cut short when the emulator stops). ``body``: answer 200 with these bytes instead (``b""``: close
    the connection without any answer). ``truncate_at``: serve the request normally but send only the first
    ``truncate_at`` bytes of the body, under the full ``Content-Length``, then close the connection (a server
    that dies mid-response). ``times``: how many requests it applies to (``None``: all). ``hits`` counts the
    requests it applied to and ``reached`` is set at the first, so a test can act while a request is held.
    ``hold``: keep each matching request waiting until the test calls :meth:`release` (or the emulator stops),
    then answer as the other fields say: a Databricks endpoint that hangs for exactly as long as the test wants::

        fault = Fault(hold=True)
        ws.faults.add(r"/events$", fault)
        ...                     # the client's request is held here
        fault.release()
    """

    status: int | None = None
    delay: float = 0.0
    body: bytes | None = None
    times: int | None = None
    truncate_at: int | None = None
    hold: bool = False
    hits: int = 0
    reached: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    released: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def release(self) -> None:
        """Let the requests ``hold`` keeps waiting (and any later one) go on."""
        self.released.set()


def _compile(template: str) -> re.Pattern[str]:
    parts, position = [], 0
    for found in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[position : found.start()]))
        parts.append(f"(?P<{found.group(1)}>[^/]+)")
        position = found.end()
    parts.append(re.escape(template[position:]))
    return re.compile("^" + "".join(parts) + "$")


@dataclass
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """Maps ``(method, path template)`` to handlers; templates name their parameters as ``{name}``."""

    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], _Route] = {}
        self._patterns: list[_Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        route = _Route(method.upper(), template, _compile(template), handler)
        if "{" in template:
            self._patterns.append(route)
        else:
            self._exact[(route.method, template)] = route

    def route(self, method: str, template: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(method, template, handler)
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        route = self._exact.get((method, path))
        if route is not None:
            return route, {}
        for route in self._patterns:
            if route.method == method:
                found = route.pattern.match(path)
                if found:
                    return route, found.groupdict()
        return None

    def allowed_methods(self, path: str) -> set[str]:
        methods = {m for (m, p) in self._exact if p == path}
        methods.update(r.method for r in self._patterns if r.pattern.match(path))
        return methods


class Faults:
    """Per-route fault switches, for tests of what the client does when Databricks misbehaves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[tuple[str, re.Pattern[str], Fault]] = []

    def add(self, path_regex: str, fault: Fault, method: str = "*") -> None:
        with self._lock:
            self._faults.append((method.upper(), re.compile(path_regex), fault))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for index, (fault_method, regex, fault) in enumerate(self._faults):
                if fault_method in ("*", method) and regex.search(path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            del self._faults[index]
                    fault.hits += 1
                    fault.reached.set()
                    return fault
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: HttpApp) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._open_lock:
            self._open.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a timeout, a dropped or truncated fault) is routine here: logged at debug
        level, not printed as a traceback. Anything else is still reported."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            _logger.debug("client %s went away", client_address, exc_info=True)
            return
        super().handle_error(request, client_address)

    def close_open_connections(self) -> None:
        """Drop kept-alive client connections too, so a stopped emulator is gone like a dead server."""
        with self._open_lock:
            connections, self._open = list(self._open), set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug("%s " + format, self.address_string(), *args)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            params={},
            query=parse_qs(url.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        response = self.server.app.dispatch(request)
        if response is None:
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if response.truncate_at is None:
            self.wfile.write(response.body)
            return
        self.wfile.write(response.body[: response.truncate_at])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class HttpApp:
    """Routes, authentication and faults behind one listening socket."""

    def __init__(self, token: str | None) -> None:
        self.router = Router()
        self.faults = Faults()
        self.token = token
        self.requests_served = 0
        self.public_prefixes: list[str] = ["/.well-known/", "/oidc/"]
        """Paths served without a token: discovery, and links whose unguessable token is the credential."""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def dispatch(self, request: Request) -> Response | None:
        self.requests_served += 1
        fault = self.faults.take(request.method, request.path)
        if fault is not None:
            if fault.delay and self._stopping.wait(fault.delay):
                return None
            if fault.hold and not self._held_until_released(fault):
                return None
            if fault.status is not None:
                error = ApiError(fault.status, "TEMPORARILY_UNAVAILABLE", "Injected fault: the service is unavailable.")
                return Response.of_json(error.body(), fault.status)
            if fault.body is not None:
                if fault.body == b"":
                    return None
                return Response(body=fault.body)
        found = self.router.match(request.method, request.path)
        if found is None:
            if self.router.allowed_methods(request.path):
                error = ApiError(405, "BAD_REQUEST", f"{request.method} is not allowed on {request.path}.")
            else:
                error = ApiError(
                    501, "NOT_IMPLEMENTED", f"The emulator does not implement '{request.method} {request.path}'."
                )
            return Response.of_json(error.body(), error.status)
        route, request.params = found
        if not self._authorized(request):
            error = ApiError(401, "UNAUTHENTICATED", "Credential was not sent or was of an unsupported type.")
            response = Response.of_json(error.body(), 401)
            response.headers["X-Databricks-Reason-Phrase"] = "Invalid access token"
            return response
        try:
            result = route.handler(request)
        except ApiError as error:
            return Response.of_json(error.body(), error.status)
        except Exception as exc:  # an emulator bug must look like a server error, not a dropped connection
            _logger.exception("emulator handler for %s %s failed", request.method, route.template)
            error = ApiError(500, "INTERNAL_ERROR", f"The emulator failed to handle the request: {exc}")
            return Response.of_json(error.body(), 500)
        response = result if isinstance(result, Response) else Response.of_json({} if result is None else result)
        if fault is not None and fault.truncate_at is not None:
            response.truncate_at = fault.truncate_at
        return response

    def _held_until_released(self, fault: Fault) -> bool:
        """``True`` once the test released the fault, ``False`` when the emulator stopped first."""
        while not fault.released.wait(HOLD_CHECK_SECONDS):
            if self._stopping.is_set():
                return False
        return True

    def _authorized(self, request: Request) -> bool:
        if self.token is None or request.path.startswith(tuple(self.public_prefixes)):
            return True
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def start(self, port: int = 0) -> int:
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", port), self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="databricks-emulator", daemon=True)
        self._thread.start()
        return self._server.server_address[1]

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_open_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
