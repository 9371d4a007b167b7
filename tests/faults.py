"""Stub servers on 127.0.0.1 that the real botocore and urllib code paths reach, with injectable faults.

Three protocols: ``sagemaker`` (runtime ``invoke_endpoint``), ``lambda`` (``invoke``) and ``openai``
(``/v1/chat/completions``). Every response carries ``Connection: close``, so each call opens a new
connection and a fault set between calls (``stub.fault = ...``) applies to the very next call, even
to a client that pools connections.

``never_connect`` works on the stub's own listening socket: ``listen(0)`` again (Linux lets a
listening socket change its backlog in place), then the stub connects to itself until one connect
times out. Linux queues backlog + 1 = 1 unaccepted connection and drops every further SYN while
that queue is full, so clients sit in SYN_SENT until their connect timeout. Setting another fault
closes the fillers and restores the backlog. Loopback only; verified on Linux 6.x.
"""
from __future__ import annotations

import collections
import functools
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable

_COMMON = ["ok", "hang", "trickle", "never_connect", "http_500", "http_503", "throttle",
           "malformed_json", "empty_body", "deep_json", "huge_body"]
FAULTS: dict[str, list[str]] = {
    "sagemaker": _COMMON + ["empty_list", "empty_text"],
    "lambda": _COMMON + ["error_text", "function_error"],
    "openai": _COMMON + ["empty_list", "empty_text"],
}

LEAKED_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders"
# What a careless tool or endpoint leaks: tests assert none of it reaches a customer.
LEAKED_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/var/task/app/handler.py", line 42, in lambda_handler\n'
    "    item = table.get_item(Key={'order_id': order_id})['Item']\n"
    "botocore.exceptions.ClientError: An error occurred (AccessDeniedException) when calling the "
    f"GetItem operation: User is not authorized to perform dynamodb:GetItem on resource: {LEAKED_ARN}\n"
)
HUGE_TEXT = (LEAKED_TRACE * (1_000_000 // len(LEAKED_TRACE) + 1))[:1_000_000]
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000  # json.loads: RecursionError

TRICKLE_BODY_BYTES = 1500   # at 0.2 s a byte: five minutes for the whole body
MAX_WAIT_S = 600.0          # the longest a hung or trickling handler lives if nobody stops it
MAX_LIFETIME_S = 1800.0     # the accept loop's own bound
MAX_CONNECTIONS = 512       # handler threads over a stub's life
MAX_FILLERS = 16            # never_connect: self-connections tried before giving up
POLL_S = 0.05               # accept loop: how often it looks at the stop flag
ACCEPT_BACKLOG = 64

_PATHS = {
    "sagemaker": re.compile(r"^/endpoints/[^/]+/invocations$"),
    "lambda": re.compile(r"^/2015-03-31/functions/[^/]+/invocations(\?.*)?$"),
    "openai": re.compile(r"^(/v1)?/chat/completions$"),
}
DEFAULT_RESPONDERS: dict[str, Callable[[Any], Any]] = {
    "sagemaker": lambda request: {"generated_texts": ["ok"]},
    "lambda": lambda request: {"statusCode": 200, "body": "ok", "data": {}},
    "openai": lambda request: "ok",  # the assistant message's content
}
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
}


def _shaped(protocol: str, request: Any, text: str) -> Any:
    """A healthy answer carrying ``text``; SageMaker's in the request's format (TGI if it sent ``inputs``)."""
    if protocol == "openai":
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
    if protocol == "lambda":
        return {"statusCode": 200, "body": text, "data": {}}
    return [{"generated_text": text}] if _is_tgi(request) else {"generated_texts": [text]}


def _is_tgi(request: Any) -> bool:
    return isinstance(request, dict) and "inputs" in request


Response = tuple[int, dict[str, str], bytes]  # status, extra headers, body


def _error(protocol: str, status: int, code: str, message: str, **extra: Any) -> Response:
    if protocol == "openai":
        return status, {}, json.dumps({"error": {"message": message, "type": code, "code": None}}).encode()
    # rest-json errors: botocore reads the code from x-amzn-ErrorType, else from the body's __type.
    return status, {"x-amzn-ErrorType": code}, json.dumps({"__type": code, "message": message, **extra}).encode()


_ERRORS: dict[tuple[str, str], tuple[Any, ...]] = {  # (fault, protocol): status, error code, message
    ("http_500", "sagemaker"): (500, "InternalFailure", "An internal error occurred."),
    ("http_500", "lambda"): (500, "ServiceException", "An internal error occurred."),
    ("http_500", "openai"): (500, "server_error", "Internal server error"),
    ("http_503", "sagemaker"): (503, "ServiceUnavailable", "Service is unavailable."),
    ("http_503", "lambda"): (503, "ServiceUnavailableException", "Service is unavailable."),
    ("http_503", "openai"): (503, "server_error", "Model is loading, retry later"),
    ("throttle", "sagemaker"): (400, "ThrottlingException", "Rate exceeded"),
    ("throttle", "lambda"): (429, "TooManyRequestsException", "Rate Exceeded."),
    ("throttle", "openai"): (429, "requests", "Rate limit reached, retry after 1s"),
}


def healthy_body(protocol: str, respond: Callable[[Any], Any], request: Any) -> bytes:
    answer = respond(request)
    return json.dumps(_shaped(protocol, request, answer) if protocol == "openai" else answer).encode()


def fault_response(protocol: str, fault: str, request: Any, respond: Callable[[Any], Any]) -> Response:
    """Status, extra headers and body for every fault answered in one go (not hang, trickle, never_connect)."""
    if fault == "ok":
        return 200, {}, healthy_body(protocol, respond, request)
    if (fault, protocol) in _ERRORS:
        extra = {"Type": "User", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"} \
            if (fault, protocol) == ("throttle", "lambda") else {}
        status, headers, body = _error(protocol, *_ERRORS[fault, protocol], **extra)
        return status, {**headers, "Retry-After": "1"} if fault == "throttle" else headers, body
    if fault == "malformed_json":  # a healthy answer cut in half: never valid JSON
        whole = json.dumps(_shaped(protocol, request, "Your order has shipped.")).encode()
        return 200, {}, whole[: len(whole) // 2]
    if fault == "error_text":
        return 200, {}, json.dumps({"statusCode": 400, "body": LEAKED_TRACE, "data": {}}).encode()
    if fault == "function_error":
        error = {"errorMessage": f"User is not authorized to perform dynamodb:GetItem on resource: {LEAKED_ARN}",
                 "errorType": "ClientError", "requestId": "c0ffee00-0000-4000-8000-000000000000",
                 "stackTrace": LEAKED_TRACE.splitlines()[1:3]}
        return 200, {"X-Amz-Function-Error": "Unhandled"}, json.dumps(error).encode()
    bodies: dict[str, Callable[[], Any]] = {
        "empty_body": lambda: b"",
        "deep_json": lambda: DEEP_JSON,
        "huge_body": lambda: _shaped(protocol, request, HUGE_TEXT),
        "empty_list": lambda: ({"choices": []} if protocol == "openai"
                               else [] if _is_tgi(request) else {"generated_texts": []}),
        "empty_text": lambda: _shaped(protocol, request, ""),
    }
    if fault not in bodies:
        raise ValueError(f"no canned response for fault {fault!r}")
    body = bodies[fault]()
    return 200, {}, body if isinstance(body, bytes) else json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "StubServer"  # not a socketserver: the stub hands itself in

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        stub = self.server
        raw = self.rfile.read(min(int(self.headers.get("Content-Length") or 0), 10_000_000))
        try:
            request: Any = json.loads(raw)
        except ValueError:
            request = raw
        stub.requests.append((self.path, request))
        fault = stub._next_fault()
        if not _PATHS[stub.protocol].match(self.path):
            return self._send(404, {}, json.dumps({"message": f"no route for {self.path}"}).encode())
        if fault == "hang":  # read the request, answer nothing until the stub stops
            stub._stopping.wait(MAX_WAIT_S)
            self.close_connection = True
            return
        if fault == "trickle":
            return self._trickle(healthy_body(stub.protocol, stub.respond, request))
        self._send(*fault_response(stub.protocol, fault, request, stub.respond))

    def _headers(self, status: int, headers: dict[str, str], length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        if self.server.protocol == "sagemaker":
            self.send_header("x-Amzn-Invoked-Production-Variant", "AllTraffic")
        if self.server.protocol == "lambda" and status == 200:
            self.send_header("X-Amz-Executed-Version", "$LATEST")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")  # one call per connection: faults apply to the next call
        self.end_headers()

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self._headers(status, headers, len(body))
        self.wfile.write(body)

    def _trickle(self, body: bytes) -> None:
        """A valid body padded with leading blanks, one byte at a time: each read is quick, the whole is not."""
        body = b" " * max(0, TRICKLE_BODY_BYTES - len(body)) + body
        self._headers(200, {}, len(body))
        self.wfile.flush()
        deadline = time.monotonic() + MAX_WAIT_S
        for i in range(len(body)):
            self.wfile.write(body[i:i + 1])
            self.wfile.flush()
            if self.server._stopping.wait(self.server.trickle_interval_s) or time.monotonic() > deadline:
                self.close_connection = True
                return


class StubServer:
    """``with StubServer("sagemaker", respond=fn, fault="ok") as stub:`` a server at ``stub.url``.

    ``stub.fault`` is the fault for every call; ``stub.queue(*faults)`` sets faults for the next
    calls, one each, before ``stub.fault`` applies again. ``stub.requests`` lists (path, JSON or
    raw bytes) of every request seen. ``respond(request_json)`` gives the healthy answer: the JSON
    object for sagemaker and lambda, the message content (a str) for openai.
    """

    def __init__(self, protocol: str, respond: Callable[[Any], Any] | None = None, fault: str = "ok", *,
                 trickle_interval_s: float = 0.2) -> None:
        if protocol not in FAULTS:
            raise ValueError(f"protocol must be one of {sorted(FAULTS)}, not {protocol!r}")
        self.protocol = protocol
        self.respond = respond or DEFAULT_RESPONDERS[protocol]
        self.trickle_interval_s = trickle_interval_s
        self.requests: list[tuple[str, Any]] = []
        self.host, self.port, self.url = "127.0.0.1", 0, ""
        self._check(fault)
        self._fault, self._initial_fault = "ok", fault
        self._queued: collections.deque[str] = collections.deque()
        self._lock = threading.Lock()          # fault, queue, connection set
        self._accept_lock = threading.Lock()   # held around each accept, so clogging can't race one
        self._stopping = threading.Event()     # hung and trickling handlers wait on it
        self._clogged = False
        self._fillers: list[socket.socket] = []
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None

    @property
    def base_url(self) -> str:
        """What OPENAI_BASE_URL should be (the client appends /chat/completions)."""
        return self.url + "/v1"

    def _check(self, fault: str) -> None:
        if fault not in FAULTS[self.protocol]:
            raise ValueError(f"{self.protocol} faults are {FAULTS[self.protocol]}, not {fault!r}")

    @property
    def fault(self) -> str:
        return self._fault

    @fault.setter
    def fault(self, fault: str) -> None:
        self._check(fault)
        with self._lock:
            if fault == "never_connect" and not self._clogged:
                self._clog()
            elif fault != "never_connect" and self._clogged:
                self._unclog()
            self._fault = fault

    def queue(self, *faults: str) -> None:
        for fault in faults:
            self._check(fault)
            if fault == "never_connect":
                raise ValueError("never_connect is a state of the listener: set stub.fault instead")
        with self._lock:
            self._queued.extend(faults)

    def _next_fault(self) -> str:
        with self._lock:
            fault = self._queued.popleft() if self._queued else self._fault
        # A connection accepted before the listener was clogged is served normally.
        return "ok" if fault == "never_connect" else fault

    def _clog(self) -> None:
        assert self._listener is not None, "set never_connect inside the with block"
        with self._accept_lock:
            self._clogged = True
            self._listener.listen(0)
            for _ in range(MAX_FILLERS):
                filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                filler.settimeout(0.2)
                try:
                    filler.connect((self.host, self.port))
                except OSError:  # this SYN was dropped: the accept queue is full
                    filler.close()
                    return
                self._fillers.append(filler)
        self._unclog()
        raise RuntimeError(f"never_connect: {MAX_FILLERS} connects all completed; this kernel does not drop SYNs")

    def _unclog(self) -> None:
        with self._accept_lock:
            for filler in self._fillers:
                filler.close()  # the accept loop picks up their server ends, which read EOF and end
            self._fillers.clear()
            if self._listener is not None:
                self._listener.listen(ACCEPT_BACKLOG)
            self._clogged = False

    def __enter__(self) -> "StubServer":
        self._listener = socket.create_server((self.host, 0), backlog=ACCEPT_BACKLOG)
        self._listener.settimeout(POLL_S)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        accept_thread = threading.Thread(target=self._accept_loop, name=f"stub-{self.protocol}-accept", daemon=True)
        self._threads.append(accept_thread)
        accept_thread.start()
        self.fault = self._initial_fault
        return self

    def _accept_loop(self) -> None:
        deadline = time.monotonic() + MAX_LIFETIME_S
        while not self._stopping.is_set() and time.monotonic() < deadline and len(self._threads) <= MAX_CONNECTIONS:
            connection = None
            with self._accept_lock:
                if not self._clogged and self._listener is not None:
                    try:
                        connection, address = self._listener.accept()
                    except TimeoutError:
                        pass
                    except OSError:  # the listener was closed: the stub is stopping
                        return
            if connection is None:
                if self._clogged:
                    self._stopping.wait(POLL_S)
                continue
            connection.settimeout(MAX_WAIT_S)
            with self._lock:
                self._connections.add(connection)
            worker = threading.Thread(target=self._serve, args=(connection, address),
                                      name=f"stub-{self.protocol}-conn", daemon=True)
            self._threads.append(worker)
            worker.start()

    def _serve(self, connection: socket.socket, address: Any) -> None:
        try:
            _Handler(connection, address, self)  # type: ignore[arg-type]
        except (OSError, ValueError):  # the client went away, or the stub closed the socket under it
            pass
        finally:
            with self._lock:
                self._connections.discard(connection)
            connection.close()

    def close(self, join_timeout_s: float = 0.5) -> None:
        self._stopping.set()
        with self._lock:
            sockets = [s for s in (self._listener, *self._fillers, *self._connections) if s is not None]
            self._fillers.clear()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a handler blocked in recv or send
            except OSError:
                pass
            sock.close()
        deadline = time.monotonic() + join_timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def stub_env(*, sagemaker: StubServer | None = None, lambda_: StubServer | None = None,
             openai: StubServer | None = None) -> dict[str, str]:
    """Environment that points botocore (and the OpenAI backend) at the stubs, with fake credentials."""
    urls = {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": sagemaker and sagemaker.url,
            "AWS_ENDPOINT_URL_LAMBDA": lambda_ and lambda_.url, "OPENAI_BASE_URL": openai and openai.base_url}
    return {**FAKE_AWS_ENV, **{name: url for name, url in urls.items() if url}}


def use_stubs(monkeypatch: Any, **stubs: StubServer | None) -> dict[str, str]:
    """``stub_env`` applied with pytest's monkeypatch. The orchestrator's cached boto3 clients are set
    aside for the test, as botocore reads the endpoint variables only when it makes a client."""
    env = stub_env(**stubs)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from orchestrator import aws
    uncached = getattr(aws._client, "__wrapped__", None)
    if uncached is not None:  # a client cache of the test's own; monkeypatch restores the old one after
        monkeypatch.setattr(aws, "_client", functools.lru_cache(maxsize=16)(uncached))
    else:
        aws._client.cache_clear()
    return env
