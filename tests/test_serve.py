"""The chat page's HTTP API (``python -m orchestrator serve``), without a browser."""
import http.client
import io
import json
import re
import threading

import pytest

from orchestrator import cli, serve


@pytest.fixture
def server(local_handler):
    """The page's server on a free 127.0.0.1 port, over this test's own tool and conversation stores."""
    log = io.StringIO()
    srv, thread = serve.start_in_thread(0, log)
    srv.log_text = log
    yield srv
    serve.stop(srv, thread)
    assert not thread.is_alive()


def request(srv, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def turn(srv, payload, headers=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    status, head, data = request(srv, "POST", "/api/turn", body,
                                 {"Content-Type": "application/json", **(headers or {})})
    return status, head, json.loads(data) if data else None


def test_the_page_is_served_under_a_strict_content_security_policy(server):
    status, head, body = request(server, "GET", "/")
    assert status == 200 and head["Content-Type"].startswith("text/html")
    assert head["Content-Security-Policy"].startswith("default-src 'self'")
    assert head["X-Content-Type-Options"] == "nosniff"
    page = body.decode()
    assert 'role="log"' in page and 'aria-live="polite"' in page and 'for="message"' in page
    assert "http://" not in page and "https://" not in page  # no CDN, no external font
    assert page.index('src="sigv4.js"') < page.index('src="chat.js"')  # the signer first
    assert "<script>" not in page and "style=" not in page and "<style" not in page  # nothing inline
    for path, kind in (("/chat.js", "text/javascript"), ("/sigv4.js", "text/javascript"), ("/chat.css", "text/css")):
        status, head, body = request(server, "GET", path)
        assert status == 200 and head["Content-Type"].startswith(kind) and body
        assert b"http://" not in body and b"eval(" not in body and b"new Function" not in body
        # No CDN: the only absolute URLs are the deployed mode's AWS endpoints, built from the region.
        urls = re.findall(rb"https://[^\s\"'`)]*", body)
        assert set(urls) <= {b"https://cognito-identity.", b"https://runtime-v2-lex."}, urls


def test_the_local_config_keeps_the_page_on_the_local_api(server):
    status, head, body = request(server, "GET", "/config.json")
    assert status == 200 and head["Content-Type"] == "application/json"
    assert json.loads(body) == {"mode": "local"}
    assert head["Content-Security-Policy"].startswith("default-src 'self'")


@pytest.mark.parametrize("path", ["/nope", "/../serve.py", "/web/chat.js", "/%2e%2e/handler.py", "/api/turn"])
def test_nothing_else_is_served(server, path):
    status, head, body = request(server, "GET", path)
    assert status == 404 and json.loads(body) == {"error": "not found"}


def test_a_turn_answers_with_the_lex_messages_and_the_record(server):
    status, head, data = turn(server, {"sessionId": "s-1", "text": "Could you tell me if order 123456 has shipped?"})
    assert status == 200 and head["Content-Type"] == "application/json"
    assert set(data) == {"messages", "dialogAction", "record"}
    [message] = data["messages"]
    assert message["contentType"] == "PlainText" and "Herbal Handsoap" in message["content"]
    assert data["dialogAction"] == {"type": "Close"}
    record = data["record"]
    assert record["tool"] == "order_inquiry" and record["tools"] == ["order_inquiry"]
    assert record["arguments"] == {"order_id": "123456"} and record["reason"] == "found"
    assert record["latency_ms"] > 0 and any(step["name"] == "tool" and step["ms"] >= 0 for step in record["steps"])
    assert not {"answer", "messages", "state", "note"} & set(record)  # the developer view, not the words


def test_the_conversation_continues_in_the_same_session_only(server):
    status, _, data = turn(server, {"sessionId": "s-2", "text": "Where is my order?"})
    assert data["dialogAction"] == {"type": "ElicitIntent"} and "order number" in data["messages"][0]["content"]
    status, _, data = turn(server, {"sessionId": "s-2", "text": "123456"})
    assert "Herbal Handsoap" in data["messages"][0]["content"]
    status, _, other = turn(server, {"sessionId": "s-3", "text": "123456"})
    assert "Herbal Handsoap" not in other["messages"][0]["content"] or other["record"]["reason"] != "follow_up"


def test_request_attributes_reach_the_handler(server, monkeypatch):
    seen = []
    real = serve.handler.lambda_handler

    def spy(event, context=None):
        seen.append(event)
        return real(event, context)

    monkeypatch.setattr(serve.handler, "lambda_handler", spy)
    status, _, _ = turn(server, {"sessionId": "s-4", "text": "hi", "requestAttributes": {"channel": "web"}})
    assert status == 200
    [event] = seen
    assert event["requestAttributes"] == {"channel": "web"} and event["inputMode"] == "Text"
    assert event["sessionId"] == "s-4" and event["inputTranscript"] == "hi"
    assert event["bot"]["aliasId"] == "TSTALIASID" and event["bot"]["localeId"] == "en_US"
    assert event["sessionState"]["intent"]["name"] == "FallbackIntent"
    assert event["invocationSource"] == "FulfillmentCodeHook"


@pytest.mark.parametrize("raw, error", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b'["a list"]', "JSON object"),
    (b'{"sessionId": "s-5"}', "text must be a string"),
    (b'{"sessionId": "s-5", "text": 42}', "text must be a string"),
    (json.dumps({"sessionId": "s-5", "text": "x" * 1025}).encode(), "at most 1024"),
    (b'{"sessionId": "s-5", "text": "\\ud800"}', "valid Unicode"),
    (b'{"text": "hi"}', "sessionId"),
    (b'{"sessionId": "x", "text": "hi"}', "sessionId"),
    (b'{"sessionId": "a b", "text": "hi"}', "sessionId"),
    (b'{"sessionId": "../../etc", "text": "hi"}', "sessionId"),
    (json.dumps({"sessionId": "s" * 101, "text": "hi"}).encode(), "sessionId"),
    (b'{"sessionId": "s-5", "text": "hi", "requestAttributes": {"a": 1}}', "requestAttributes"),
    (b'{"sessionId": "s-5", "text": "hi", "requestAttributes": ["a"]}', "requestAttributes"),
])
def test_bad_input_is_a_400_that_says_what_was_wrong(server, raw, error):
    status, head, data = turn(server, None, raw=raw)
    assert status == 400 and head["Content-Type"] == "application/json"
    assert list(data) == ["error"] and error in data["error"]


def test_an_oversized_body_is_refused_unread(server):
    status, _, data = turn(server, None, raw=json.dumps({"sessionId": "s-6", "text": "x" * 20_000}).encode())
    assert status == 413 and "16384" in data["error"]


def test_only_json_from_this_page_is_taken(server):
    body = json.dumps({"sessionId": "s-7", "text": "hi"}).encode()
    status, _, data = request(server, "POST", "/api/turn", body, {"Content-Type": "text/plain"})
    assert status == 415  # what a cross-site form could send without a CORS preflight
    status, _, _ = turn(server, {"sessionId": "s-7", "text": "hi"}, {"Origin": "https://evil.example"})
    assert status == 403
    status, _, _ = turn(server, {"sessionId": "s-7", "text": "hi"}, {"Host": "evil.example:80"})
    assert status == 403  # DNS rebinding: a name that resolves to us is still not our page
    port = server.server_address[1]
    status, _, _ = turn(server, {"sessionId": "s-7", "text": "hi"}, {"Origin": f"http://127.0.0.1:{port}"})
    assert status == 200


def test_other_methods_and_paths_are_refused_in_json(server):
    status, _, body = request(server, "PUT", "/api/turn", b"{}", {"Content-Type": "application/json"})
    assert status == 405 and "error" in json.loads(body)
    status, _, body = request(server, "POST", "/api/other", b"{}", {"Content-Type": "application/json"})
    assert status == 404
    status, _, body = request(server, "BREW", "/")
    assert status == 501 and "error" in json.loads(body)


def test_a_failure_inside_is_a_plain_500_without_a_trace(server, monkeypatch):
    def broken(event, context=None):
        raise RuntimeError("secret internals at /var/task/orchestrator/handler.py line 3")

    monkeypatch.setattr(serve.handler, "lambda_handler", broken)
    status, _, data = turn(server, {"sessionId": "s-8", "text": "hi"})
    assert status == 500 and data == {"error": "the assistant failed to answer"}
    assert "Traceback" not in server.log_text.getvalue() and "secret" not in server.log_text.getvalue()


def test_each_thread_gets_its_own_turn_record(server):
    asked = {"order_inquiry": ("Could you tell me if order 123456 has shipped?", "Herbal Handsoap"),
             "returns_inquiry": ("Is my return rtn003 processed?", "rtn003")}
    results = []

    def ask(n, tool):
        results.append((tool, turn(server, {"sessionId": f"s-9-{n}", "text": asked[tool][0]})[2]))

    threads = [threading.Thread(target=ask, args=(n, tool)) for n in range(4) for tool in asked]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 8
    for tool, data in results:
        assert data["record"]["tools"] == [tool] and asked[tool][1] in data["messages"][0]["content"]


def test_the_record_hook_sees_the_turn_on_the_calling_thread(local_handler):
    """The premise of the per-thread record: the handler runs the agent on the caller's thread."""
    seen = []
    agent = local_handler.get_agent()
    agent.hooks.append(lambda record: seen.append(threading.get_ident()))
    result = {}

    def call():
        result["thread"] = threading.get_ident()
        serve.run_turn("s-10", "hi")

    worker = threading.Thread(target=call)
    worker.start()
    worker.join(30)
    assert seen == [result["thread"]]


def test_one_log_line_per_request_without_the_customers_words(server):
    turn(server, {"sessionId": "s-11", "text": "My email is mary_major@example.com"})
    turn(server, None, raw=b"{bad")
    request(server, "GET", "/")
    lines = server.log_text.getvalue().splitlines()
    assert len(lines) == 3
    assert "POST /api/turn 200" in lines[0] and "POST /api/turn 400" in lines[1] and "GET / 200" in lines[2]
    assert "mary" not in server.log_text.getvalue() and "s-11" not in server.log_text.getvalue()


def test_the_cli_has_a_serve_command_with_the_agent_flags():
    args = cli.build_parser().parse_args(["serve", "--port", "0", "--model-adapter", "embedded", "--planner", "router"])
    assert args.run is cli.cmd_serve and args.port == 0 and args.model == "embedded" and args.planner == "router"
    assert cli.build_parser().parse_args(["serve"]).port == 8000


def test_a_port_out_of_range_is_an_error(capsys):
    assert cli.main(["serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


def test_the_server_listens_on_localhost_only(server):
    assert server.server_address[0] == "127.0.0.1" and server.url.startswith("http://127.0.0.1:")


def test_the_serve_command_prints_its_url_and_stops_cleanly_on_ctrl_c(tmp_path):
    import signal
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    child = subprocess.Popen([sys.executable, "-m", "orchestrator", "serve", "--port", "0"], cwd=root,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             # SIGINT as a terminal's Ctrl-C sends it (a child may inherit it ignored)
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    watchdog = threading.Timer(60, child.kill)  # a hung start cannot hang the suite
    watchdog.start()
    try:
        url = None
        for _ in range(10):  # the store lines, then the URL: a few lines at most
            line = child.stdout.readline()
            if not line or line.startswith("Chat page: "):
                url = line.split()[2] if line else None
                break
        assert url and url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        watchdog.cancel()
        if child.poll() is None:
            child.kill()
            child.communicate(timeout=10)
    assert child.returncode == 0 and "stopped" in out
    assert "Traceback" not in err and "GET / 200" in err
