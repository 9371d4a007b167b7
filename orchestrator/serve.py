"""``python -m orchestrator serve``: a chat page on 127.0.0.1 that talks to the Lex handler.

For trying the agent in a browser on one's own machine: every message becomes a real Lex V2
FallbackIntent event, goes through ``handler.lambda_handler`` (memory, identity, response cards,
all as in Lambda) and comes back as the Lex response's messages plus the turn's record for the
page's "Show turn details" toggle. Standard library only (``http.server``); never part of the
Lambda package (the Makefile leaves this file and ``web/`` out).

    GET  /            the page (web/index.html, chat.css, chat.js, sigv4.js), under a strict CSP
    GET  /config.json {"mode": "local"}: the page posts to /api/turn (deployed, the config.json
                      beside the page says "lex" and the page calls Lex V2 directly)
    POST /api/turn    {"sessionId": "...", "text": "...", "requestAttributes": {...}}
                      -> {"messages": [...], "dialogAction": {...}, "record": {...}}

Requests are checked before anything runs: a JSON object of at most ``MAX_BODY_BYTES``, sent as
application/json from this page's own origin to a local Host (so another web site cannot post to
it, nor reach it by DNS rebinding), text a string of at most 1,024 characters, the session id as
Lex allows. Bad input is a 400 with ``{"error": "..."}``; nothing answers with a stack trace.
One log line per request, without the customer's words.
"""
from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Mapping, TextIO

from . import handler
from .lex import MAX_TRANSCRIPT_CHARS
from .turn import TurnRecord

HOST = "127.0.0.1"
DEFAULT_PORT = 8000
WEB_DIR = Path(__file__).resolve().parent / "web"
MAX_BODY_BYTES = 16 * 1024
MAX_TEXT_CHARS = MAX_TRANSCRIPT_CHARS  # what Lex takes per turn
SESSION_ID = re.compile(r"[0-9A-Za-z._:-]{2,100}")  # Lex V2's sessionId pattern and length
BOT = {"id": "LOCALCHAT0", "name": "LocalChatPage", "aliasId": "TSTALIASID", "aliasName": "TestBotAlias",
       "localeId": "en_US", "version": "DRAFT"}
REQUEST_TIMEOUT_S = 10  # a client that opens a connection and sends nothing is dropped after this

STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/chat.css": ("chat.css", "text/css; charset=utf-8"),
    "/chat.js": ("chat.js", "text/javascript; charset=utf-8"),
    "/sigv4.js": ("sigv4.js", "text/javascript; charset=utf-8"),
}
# The page's configuration here: the local API. (Deployed, a config.json with "mode": "lex" and the
# bot, pools and auth domain sits beside the page instead.)
LOCAL_CONFIG = {"mode": "local"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class RequestError(Exception):
    """What was wrong with a request, in words fit for the response (never customer data)."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------- the turn
class TurnRecorder:
    """An agent hook that keeps each thread's last ``TurnRecord``.

    ``handler.lambda_handler`` runs the agent on the calling thread, so the record a request's
    thread finds after the call is that request's own.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self, record: TurnRecord) -> None:
        self._local.record = record

    def take(self) -> TurnRecord | None:
        record = getattr(self._local, "record", None)
        self._local.record = None
        return record


RECORDER = TurnRecorder()
# The handler is written for Lambda, one event at a time per process (its agent and store are
# built lazily in module globals): turns here go through it one at a time too.
_TURN_LOCK = threading.Lock()


def lex_event(session_id: str, text: str, request_attributes: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Lex V2 event a typed message to a bot's FallbackIntent gives its fulfillment code hook."""
    intent = {"confirmationState": "None", "name": "FallbackIntent", "slots": {}, "state": "ReadyForFulfillment"}
    event: dict[str, Any] = {
        "sessionId": session_id,
        "inputTranscript": text,
        "interpretations": [{"intent": dict(intent), "interpretationSource": "Lex"}],
        "bot": dict(BOT),
        "responseContentType": "text/plain; charset=utf-8",
        "sessionState": {"sessionAttributes": {}, "activeContexts": [], "intent": dict(intent),
                         "originatingRequestId": str(uuid.uuid4())},
        "messageVersion": "1.0",
        "invocationSource": "FulfillmentCodeHook",
        "transcriptions": [{"transcription": text, "transcriptionConfidence": 1,
                            "resolvedContext": {"intent": "FallbackIntent"}, "resolvedSlots": {}}],
        "inputMode": "Text",
    }
    if request_attributes:
        event["requestAttributes"] = dict(request_attributes)
    return event


def record_for_page(record: TurnRecord | None) -> dict[str, Any]:
    """The developer view of a turn: tools called and their arguments, reason, latency per step.

    Without the customer's or the tools' words (answer, messages, state are left out)."""
    if record is None:  # the handler answered without a turn (a broken setting): nothing to show
        return {}
    data = record.to_dict(include_text=False)
    data["tools"] = [step["detail"].get("tool") for step in data.get("steps", [])
                     if step.get("name") == "tool" and step.get("detail", {}).get("tool")]
    return data


def run_turn(session_id: str, text: str, request_attributes: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One message through the Lex handler: the page's JSON answer."""
    event = lex_event(session_id, text, request_attributes)
    with _TURN_LOCK:
        agent = handler.get_agent()
        hooks = getattr(agent, "hooks", None)
        if isinstance(hooks, list) and RECORDER not in hooks:
            hooks.append(RECORDER)
        RECORDER.take()  # nothing left over from an earlier request on this thread
        response = handler.lambda_handler(event, None)
        record = RECORDER.take()
    state = response.get("sessionState") or {}
    page = {"messages": response.get("messages", []), "dialogAction": state.get("dialogAction"),
            "record": record_for_page(record)}
    return json.loads(json.dumps(page, default=str))  # whatever a record holds, the answer is plain JSON


def parse_turn(body: bytes) -> tuple[str, str, dict[str, str]]:
    """(sessionId, text, requestAttributes) from a request body, or RequestError saying what is wrong."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RequestError(HTTPStatus.BAD_REQUEST, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise RequestError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
    session_id, text = data.get("sessionId"), data.get("text")
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise RequestError(HTTPStatus.BAD_REQUEST,
                           "sessionId must be 2 to 100 characters of letters, digits and . _ : -")
    if not isinstance(text, str):
        raise RequestError(HTTPStatus.BAD_REQUEST, "text must be a string")
    if len(text) > MAX_TEXT_CHARS:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"text must be at most {MAX_TEXT_CHARS} characters")
    if not _is_unicode(text):
        raise RequestError(HTTPStatus.BAD_REQUEST, "text must be valid Unicode")
    attributes = data.get("requestAttributes", {})
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict) or not all(
            isinstance(k, str) and k and isinstance(v, str) and _is_unicode(k) and _is_unicode(v)
            for k, v in attributes.items()):
        raise RequestError(HTTPStatus.BAD_REQUEST, "requestAttributes must be an object of strings")
    return session_id, text, attributes


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape
        return False
    return True


# ---------------------------------------------------------------- HTTP
class ChatRequestHandler(BaseHTTPRequestHandler):
    server: "ChatServer"
    server_version = "lex-llm-agent-chat"

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT_S

    def setup(self) -> None:
        super().setup()
        self._started = time.perf_counter()

    # -- responses ----------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, *, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any, *, close: bool = False) -> None:
        self._send(status, json.dumps(data).encode("utf-8"), "application/json", close=close)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, unknown method) as JSON too."""
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._json(code, {"error": message or phrase}, close=True)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """One line per request: who, what, the status, how long. No body, no query string."""
        path = self.path.split("?", 1)[0] if isinstance(getattr(self, "path", None), str) else "-"
        took = (time.perf_counter() - getattr(self, "_started", time.perf_counter())) * 1000
        status = getattr(code, "value", code)
        self.server.log(f"{self.client_address[0]} {getattr(self, 'command', '-')} {path[:100]} {status} {took:.0f} ms")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # log_request writes the one line

    # -- methods ------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._started = time.perf_counter()
        path = self.path.split("?", 1)[0]
        if path == "/favicon.ico":
            self.send_response(HTTPStatus.NO_CONTENT)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == "/config.json":
            return self._json(HTTPStatus.OK, LOCAL_CONFIG)
        if path not in STATIC:
            return self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
        name, content_type = STATIC[path]
        try:
            body = (WEB_DIR / name).read_bytes()
        except OSError:
            return self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "the page is missing"})
        self._send(HTTPStatus.OK, body, content_type)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        self._started = time.perf_counter()
        if self.path.split("?", 1)[0] != "/api/turn":
            return self._json(HTTPStatus.NOT_FOUND, {"error": "not found"}, close=True)
        try:
            self._check_origin()
            body = self._read_body()
            session_id, text, attributes = parse_turn(body)
        except RequestError as exc:
            return self._json(exc.status, {"error": str(exc)}, close=True)
        try:
            answer = run_turn(session_id, text, attributes)
        except Exception as exc:  # noqa: BLE001 - the page gets a plain error, the log its type, nobody a trace
            self.server.log(f"turn failed: {type(exc).__name__}")
            return self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "the assistant failed to answer"})
        self._json(HTTPStatus.OK, answer)

    def do_PUT(self) -> None:
        self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method not allowed"}, close=True)

    do_DELETE = do_PATCH = do_OPTIONS = do_PUT

    # -- checks -------------------------------------------------------------------------------
    def _check_origin(self) -> None:
        """Only this page may post: a local Host (no DNS rebinding), the same Origin when the
        browser sends one, and a JSON content type (which a cross-site form cannot send without
        a CORS preflight, which is never granted)."""
        host = (self.headers.get("Host") or "").strip().lower()
        hostname = re.sub(r":\d+$", "", host)
        if hostname not in ("127.0.0.1", "localhost", "[::1]"):
            raise RequestError(HTTPStatus.FORBIDDEN, "requests must be addressed to 127.0.0.1 or localhost")
        origin = self.headers.get("Origin")
        if origin is not None and origin.strip().lower() not in (f"http://{host}",):
            raise RequestError(HTTPStatus.FORBIDDEN, "requests from another origin are refused")
        content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the body must be sent as application/json")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required")
        try:
            length = int(length_header)
        except ValueError:
            raise RequestError(HTTPStatus.BAD_REQUEST, "Content-Length must be a number") from None
        if length < 0:
            raise RequestError(HTTPStatus.BAD_REQUEST, "Content-Length must be a number")
        if length > MAX_BODY_BYTES:
            self._drain(length)
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"the body must be at most {MAX_BODY_BYTES} bytes")
        body = self.rfile.read(length)
        if len(body) < length:
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body ended early")
        return body


    def _drain(self, length: int, limit: int = 256 * 1024) -> None:
        """Read (a bounded part of) an oversized body, so the client sees the 413, not a reset."""
        left = min(length, limit)
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 64 * 1024))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = DEFAULT_PORT, log: TextIO | None = None) -> None:
        self._log = log if log is not None else sys.stderr
        self._log_lock = threading.Lock()
        self._open: set[Any] = set()  # connections being served (a browser keeps one open between requests)
        super().__init__((HOST, port), ChatRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._log_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._log_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        """Stop listening and end the connections still open: stopped means stopped for every client."""
        super().server_close()
        with self._log_lock:
            still_open, self._open = list(self._open), set()
        for connection in still_open:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def log(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        with self._log_lock:
            try:
                print(f"{stamp} {line}", file=self._log, flush=True)
            except (OSError, ValueError):
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke (the client left): one line, no traceback."""
        self.log(f"{client_address[0]} connection error: {type(sys.exc_info()[1]).__name__}")


def make_server(port: int = DEFAULT_PORT, log: TextIO | None = None) -> ChatServer:
    """A server on 127.0.0.1:``port`` (0: any free port), not yet serving."""
    return ChatServer(port, log)


def start_in_thread(port: int = 0, log: TextIO | None = None) -> tuple[ChatServer, threading.Thread]:
    """Serve from a background thread (tests, embedding); stop with ``stop(server, thread)``."""
    server = make_server(port, log)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                              name="chat-server")
    thread.start()
    return server, thread


def stop(server: ChatServer, thread: threading.Thread | None = None, timeout_s: float = 5.0) -> None:
    server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join(timeout_s)


def describe_stores(env: Mapping[str, str] | None = None) -> list[str]:
    """Where conversations and the tools' data live (the handler's own settings)."""
    import os

    from .memory import DEFAULT_PATH

    env = os.environ if env is None else env
    lines = []
    kind = (env.get("CONVERSATION_STORE") or "sqlite").strip().lower()
    where = (env.get("CONVERSATION_PATH") or "").strip() or os.path.expanduser(DEFAULT_PATH)
    lines.append(f"Conversations: {kind}" + (f" ({where})" if kind == "sqlite" else ""))
    backend = (env.get("STORE_BACKEND") or "sqlite").strip().lower()
    if backend == "sqlite" and (env.get("TOOL_TRANSPORT") or "inprocess") == "inprocess":
        from tools.store import default_sqlite_path

        lines.append(f"Tool data: sqlite ({env.get('STORE_PATH') or default_sqlite_path()})")
    return lines


def serve(port: int = DEFAULT_PORT, out: TextIO | None = None) -> int:
    """Serve until Ctrl-C. The agent and stores are whatever ``handler`` has (set them first)."""
    out = out or sys.stdout
    server = make_server(port)
    for line in describe_stores():
        print(line, file=out)
    print(f"Chat page: {server.url}  (Ctrl-C to stop)", file=out, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped", file=out, flush=True)
    finally:
        server.server_close()
    return 0
