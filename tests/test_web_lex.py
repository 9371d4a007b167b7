"""The chat page deployed ("lex" mode): Cognito sign-in, identity-pool credentials, SigV4 to Lex V2.

In headless Chromium (the fixtures of tests/test_browser.py), against stubs on 127.0.0.1 only:

* ``site``: serves orchestrator/web/* and a config.json in "lex" mode, under the deployed CSP
  (``connect-src 'self'`` plus the stub), as S3 + CloudFront will;
* ``aws``: on another port (so every call is cross-origin, with CORS, as in AWS), the Cognito hosted
  UI's /oauth2/authorize (signs the customer straight in), /oauth2/token (checks the PKCE verifier
  against the challenge), /logout, Cognito Identity's GetId and GetCredentialsForIdentity (check the
  Logins map holds the issued ID token), and Lex V2 RecognizeText, which verifies the SigV4
  signature with botocore (the credentials it issued) and the idToken request attribute, then
  answers through the real ``orchestrator.handler.lambda_handler``.

Embedded (``shop``): a shop's page on yet another port holds ``<iframe src>`` to the chat page (the
stack's WebPageEmbedSnippet). The hosted UI cannot load in a frame, so the frame signs in through a
popup on its own page, which hands the ID token back with postMessage.

Also the signer alone (sigv4.js): AWS's SigV4 test suite "get-vanilla" and a RecognizeText POST
signed by botocore, byte for byte.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from unittest import mock
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest

from orchestrator import handler, serve
from tests.test_browser import (  # noqa: F401 - fixtures and helpers shared with the local page's tests
    OFFLINE, agent, chromium, console_errors, driver, entries, quick_replies, until)

WEB_DIR = Path(serve.__file__).resolve().parent / "web"
REGION = "us-east-1"
USER_POOL = "us-east-1_TestPool1"
CLIENT_ID = "testclient1234567890abcdef"
IDENTITY_POOL = "us-east-1:11111111-2222-3333-4444-555555555555"
BOT_ID = "BOTID12345"
ALIAS_ID = "TSTALIASID"
EMAIL = "terry_whitlock@example.com"
LOGIN_KEY = f"cognito-idp.{REGION}.amazonaws.com/{USER_POOL}"
LEX_PATH = re.compile(r"/bots/([^/]+)/botAliases/([^/]+)/botLocales/([^/]+)/sessions/([^/]+)/text")
AUTHORIZATION = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/,]+)/(\d{8})/([^/,]+)/([^/,]+)/aws4_request, "
                           r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})")
SIGN_IN_FIRST = "Please sign in to chat."

# AWS's SigV4 test suite, "get-vanilla" (docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-test-suite.html):
# GET / with Host example.amazonaws.com (the suite's host: with any other the signature differs).
EXAMPLE_CREDENTIALS = {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
EXAMPLE_DATE = "20150830T123600Z"
GET_VANILLA = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
               "SignedHeaders=host;x-amz-date, "
               "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")


# ---------------------------------------------------------------- botocore, the reference signer
_BOTOCORE_CLOCK = threading.Lock()  # add_auth reads the clock: one fixed-time signing at a time


def botocore_authorization(method, url, headers, body, access_key, secret_key, token, region, service, amz_date):
    """The Authorization header botocore's SigV4Auth gives this request at ``amz_date``."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    with _BOTOCORE_CLOCK, mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(Credentials(access_key, secret_key, token), service, region).add_auth(request)
    return request.headers["Authorization"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def id_token(email: str) -> str:
    """JWT-shaped, with the claims the page shows (the stub's signature is not checked by anyone here)."""
    now = int(time.time())
    header = {"alg": "RS256", "kid": "stub-key", "typ": "JWT"}
    claims = {"sub": str(uuid.uuid4()), "email": email, "email_verified": True, "token_use": "id",
              "aud": CLIENT_ID, "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{USER_POOL}",
              "iat": now, "exp": now + 3600}
    return ".".join(b64url(json.dumps(part).encode()) for part in (header, claims)) + "." + b64url(b"stub-signature")


# ---------------------------------------------------------------- the stubs
class Stub:
    """What the AWS stub issued and saw; ``problems`` lists every request it refused."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.codes: dict[str, dict] = {}
        self.id_tokens: set[str] = set()
        self.identities: dict[str, str] = {}  # id token -> identity id
        self.credentials: dict[str, dict] = {}  # access key id -> issued
        self.credential_lifetime_s = 3600
        self.calls: list[str] = []
        self.turns: list[dict] = []
        self.problems: list[str] = []
        self.site_origin = ""
        self.redirect_uri = ""
        self.interactive = False  # True: /oauth2/authorize shows a page whose "Sign in" link goes on
        self.pending: dict[str, str] = {}  # ticket -> where /oauth2/approve sends the customer


def _server(handler_class, stub):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    server.daemon_threads = True
    server.stub = stub
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server, thread


def _stop(server, thread):
    server.shutdown()
    server.server_close()
    thread.join(5)
    assert not thread.is_alive()


class _Quiet(BaseHTTPRequestHandler):
    timeout = 10

    def log_message(self, format, *args):  # noqa: A002
        pass

    def reply(self, status, body=b"", content_type="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class SiteHandler(_Quiet):
    """S3 + CloudFront: the page's files and its config.json, under the deployed CSP."""

    FILES = {"/": "index.html", "/index.html": "index.html", "/chat.css": "chat.css", "/chat.js": "chat.js",
             "/sigv4.js": "sigv4.js"}
    TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
             ".js": "text/javascript; charset=utf-8"}

    def do_GET(self):
        path = urlsplit(self.path).path
        ancestors = getattr(self.server, "frame_ancestors", None) or "'none'"  # a shop's origin, when embedded
        csp = (f"default-src 'self'; connect-src 'self' {self.server.aws_url}; "
               f"base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}")
        headers = {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
        if path == "/favicon.ico":
            return self.reply(204, headers=headers)
        if path == "/config.json":
            return self.reply(200, self.server.config, headers=headers)
        if path not in self.FILES:
            return self.reply(404, {"error": "not found"}, headers=headers)
        name = self.FILES[path]
        self.reply(200, (WEB_DIR / name).read_bytes(), self.TYPES[Path(name).suffix], headers)


class ShopHandler(_Quiet):
    """A shop's own page, on another origin, embedding the chat page as WebPageEmbedSnippet does."""

    def do_GET(self):
        if urlsplit(self.path).path != "/":
            return self.reply(404, b"", "text/plain")
        page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A shop</title></head>'
                f'<body><h1>A shop</h1><iframe src="{self.server.chat_url}" title="Order support chat" '
                f'style="border:0;width:380px;height:560px" allow="clipboard-write"></iframe></body></html>')
        self.reply(200, page.encode(), "text/html; charset=utf-8")


class AwsHandler(_Quiet):
    """The hosted UI, Cognito Identity and the Lex V2 runtime, as far as the page uses them."""

    @property
    def stub(self) -> Stub:
        return self.server.stub

    def cors(self):
        origin = self.headers.get("Origin")
        return {"Access-Control-Allow-Origin": origin} if origin == self.stub.site_origin else {}

    def refuse(self, status, kind, message):
        with self.stub.lock:
            self.stub.problems.append(f"{self.command} {urlsplit(self.path).path}: {message}")
        self.reply(status, {"__type": kind, "message": message}, "application/x-amz-json-1.1", self.cors())

    def do_OPTIONS(self):  # CORS preflight, as the AWS endpoints grant it
        if self.headers.get("Origin") != self.stub.site_origin:
            return self.refuse(403, "Forbidden", "preflight from another origin")
        self.reply(204, headers={
            **self.cors(), "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": self.headers.get("Access-Control-Request-Headers", ""),
            "Access-Control-Max-Age": "600"})

    def do_GET(self):
        parts = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        with self.stub.lock:
            self.stub.calls.append(parts.path)
        if parts.path == "/oauth2/authorize":
            return self.authorize(query)
        if parts.path == "/oauth2/approve":  # the hosted UI's Sign in, in interactive mode
            with self.stub.lock:
                location = self.stub.pending.pop(query.get("ticket", ""), None)
            if location is None:
                return self.refuse(400, "BadRequest", "unknown ticket")
            return self.reply(302, headers={"Location": location})
        if parts.path == "/logout":
            if query.get("client_id") != CLIENT_ID or query.get("logout_uri") != self.stub.redirect_uri:
                return self.refuse(400, "BadRequest", f"bad logout {query}")
            return self.reply(302, headers={"Location": query["logout_uri"]})
        self.refuse(404, "NotFound", "no such path")

    def authorize(self, query):
        expected = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": self.stub.redirect_uri,
                    "scope": "openid email", "code_challenge_method": "S256"}
        wrong = {name: query.get(name) for name, value in expected.items() if query.get(name) != value}
        challenge, state = query.get("code_challenge", ""), query.get("state", "")
        if wrong or not re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge) or len(state) < 16:
            return self.refuse(400, "BadRequest", f"bad authorize request {wrong or query}")
        code = secrets.token_urlsafe(16)
        with self.stub.lock:
            self.stub.codes[code] = {"challenge": challenge, "redirect_uri": query["redirect_uri"]}
        # The customer signs in on the hosted UI: back to the page with the code and the same state.
        location = query["redirect_uri"] + "?" + urlencode({"code": code, "state": state})
        if self.stub.interactive:  # a page first, with a link that signs in
            ticket = secrets.token_urlsafe(8)
            with self.stub.lock:
                self.stub.pending[ticket] = location
            page = (f'<!doctype html><html lang="en"><head><title>Sign in</title><link rel="icon" href="data:,"></head><body>'
                    f'<a id="hosted-sign-in" href="/oauth2/approve?ticket={ticket}">Sign in</a></body></html>')
            return self.reply(200, page.encode(), "text/html; charset=utf-8")
        self.reply(302, headers={"Location": location})

    def do_POST(self):
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        with self.stub.lock:
            self.stub.calls.append(target.split(".")[-1] if parts.path == "/" else parts.path)
        if parts.path == "/oauth2/token":
            return self.token(body)
        if parts.path == "/" and target.startswith("AWSCognitoIdentityService."):
            return self.identity(target.split(".", 1)[1], body)
        match = LEX_PATH.fullmatch(parts.path)
        if match:
            return self.recognize_text(match, parts, body)
        self.refuse(404, "NotFound", "no such path")

    def token(self, body):
        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        if self.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
            return self.refuse(400, "invalid_request", "not form-encoded")
        with self.stub.lock:
            issued = self.stub.codes.pop(form.get("code", ""), None)  # a code works once
        if (issued is None or form.get("grant_type") != "authorization_code" or form.get("client_id") != CLIENT_ID
                or form.get("redirect_uri") != issued["redirect_uri"]):
            return self.refuse(400, "invalid_grant", f"bad token request {sorted(form)}")
        verifier = form.get("code_verifier", "")
        if not (43 <= len(verifier) <= 128) or b64url(hashlib.sha256(verifier.encode()).digest()) != issued["challenge"]:
            return self.refuse(400, "invalid_grant", "the PKCE verifier does not match the challenge")
        token = id_token(EMAIL)
        with self.stub.lock:
            self.stub.id_tokens.add(token)
        self.reply(200, {"id_token": token, "access_token": "stub-access", "refresh_token": "stub-refresh",
                         "token_type": "Bearer", "expires_in": 3600}, headers=self.cors())

    def identity(self, action, body):
        if self.headers.get("Content-Type") != "application/x-amz-json-1.1":
            return self.refuse(400, "SerializationException", "wrong content type")
        data = json.loads(body)
        logins = data.get("Logins") or {}
        token = logins.get(LOGIN_KEY)
        if set(logins) != {LOGIN_KEY} or token not in self.stub.id_tokens:
            return self.refuse(400, "NotAuthorizedException", "the Logins map does not hold an issued ID token")
        if action == "GetId":
            if data.get("IdentityPoolId") != IDENTITY_POOL:
                return self.refuse(400, "ResourceNotFoundException", "wrong identity pool")
            with self.stub.lock:
                identity = self.stub.identities.setdefault(token, f"{REGION}:{uuid.uuid4()}")
            return self.reply(200, {"IdentityId": identity}, "application/x-amz-json-1.1", self.cors())
        if action == "GetCredentialsForIdentity":
            if data.get("IdentityId") != self.stub.identities.get(token):
                return self.refuse(400, "NotAuthorizedException", "wrong identity")
            access_key = "ASIA" + secrets.token_hex(8).upper()
            issued = {"secret": secrets.token_urlsafe(30), "token": secrets.token_urlsafe(60), "id_token": token,
                      "expiration": time.time() + self.stub.credential_lifetime_s}
            with self.stub.lock:
                self.stub.credentials[access_key] = issued
            return self.reply(200, {"IdentityId": data["IdentityId"], "Credentials": {
                "AccessKeyId": access_key, "SecretKey": issued["secret"], "SessionToken": issued["token"],
                "Expiration": issued["expiration"]}}, "application/x-amz-json-1.1", self.cors())
        self.refuse(400, "UnknownOperationException", action)

    def recognize_text(self, match, parts, body):
        bot, alias, locale, session = match.groups()
        problem = self.sigv4_problem(parts, body)
        if problem:
            return self.refuse(403, "InvalidSignatureException", problem)
        if (bot, alias, locale) != (BOT_ID, ALIAS_ID, "en_US"):
            return self.refuse(404, "ResourceNotFoundException", "no such bot")
        session_id = unquote(session)
        data = json.loads(body)
        attributes = data.get("requestAttributes") or {}
        issued = self.stub.credentials[AUTHORIZATION.match(self.headers["Authorization"]).group(1)]
        if attributes.get("idToken") != issued["id_token"]:
            return self.refuse(400, "ValidationException", "requestAttributes.idToken is not the signed-in token")
        with self.stub.lock:
            self.stub.turns.append({"sessionId": session_id, "text": data.get("text"), "attributes": attributes})
        response = handler.lambda_handler(serve.lex_event(session_id, data["text"], attributes), None)
        self.reply(200, {"messages": response.get("messages", []), "sessionState": response.get("sessionState", {}),
                         "requestAttributes": attributes, "sessionId": session_id}, headers=self.cors())

    def sigv4_problem(self, parts, body):
        """What is wrong with the request's signature, recomputed by botocore; None when it is right."""
        found = AUTHORIZATION.fullmatch(self.headers.get("Authorization", ""))
        if not found:
            return "no SigV4 Authorization header"
        access_key, day, region, service, signed, signature = found.groups()
        issued = self.stub.credentials.get(access_key)
        if issued is None:
            return "unknown access key"
        if issued["expiration"] < time.time():
            return "expired credentials"
        if (region, service) != (REGION, "lex"):
            return f"wrong scope {region}/{service}"
        names = signed.split(";")
        if not {"host", "x-amz-date", "x-amz-security-token", "content-type"} <= set(names):
            return f"not signed: {signed}"
        if self.headers.get("X-Amz-Security-Token") != issued["token"]:
            return "wrong session token"
        amz_date = self.headers.get("X-Amz-Date", "")
        try:
            when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        except ValueError:
            return "bad X-Amz-Date"
        if amz_date[:8] != day or abs((when - datetime.now(timezone.utc).replace(tzinfo=None)).total_seconds()) > 300:
            return "X-Amz-Date out of range"
        headers = {name: self.headers[name] for name in names if self.headers.get(name) is not None}
        url = f"http://{self.headers['Host']}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        expected = botocore_authorization("POST", url, headers, body, access_key, issued["secret"], issued["token"],
                                          REGION, "lex", amz_date)
        if not hmac.compare_digest(expected, self.headers["Authorization"]):
            return "signature mismatch"
        return None


# ---------------------------------------------------------------- fixtures
@pytest.fixture
def stub():
    return Stub()


@pytest.fixture
def aws(stub, agent, tmp_path, monkeypatch):  # noqa: F811 - the agent fixture imported above
    """The AWS stub, its Lex turns answered by the real handler over this test's own stores."""
    monkeypatch.setenv("STORE_PATH", str(tmp_path / "tools.sqlite3"))
    monkeypatch.setenv("CONVERSATION_STORE", "sqlite")
    monkeypatch.setenv("CONVERSATION_PATH", str(tmp_path / "conversations.sqlite3"))
    for name in ("COGNITO_ISSUER", "COGNITO_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    handler.set_agent(agent)
    handler.set_store(None)
    server, thread = _server(AwsHandler, stub)
    yield server
    _stop(server, thread)
    handler.set_agent(None)
    handler.set_store(None)


@pytest.fixture
def site(stub, aws):
    """The deployed page: the three files, sigv4.js and a config.json in "lex" mode pointing at the stub."""
    server, thread = _server(SiteHandler, stub)
    server.aws_url = aws.url
    stub.site_origin = server.url
    stub.redirect_uri = server.url + "/"
    server.config = {
        "mode": "lex", "region": REGION, "botId": BOT_ID, "botAliasId": ALIAS_ID, "localeId": "en_US",
        "identityPoolId": IDENTITY_POOL, "userPoolId": USER_POOL, "userPoolClientId": CLIENT_ID,
        "authDomain": aws.url, "redirectUri": stub.redirect_uri,
        "cognitoIdentityEndpoint": aws.url + "/", "lexEndpoint": aws.url,
    }
    yield server
    _stop(server, thread)


@pytest.fixture
def lex_page(driver, site):  # noqa: F811
    """The deployed page, freshly loaded, nobody signed in."""
    from selenium.webdriver.common.by import By

    driver.get(site.url + "/")
    driver.execute_script("window.sessionStorage.clear();")
    driver.get(site.url + "/")
    until(driver, lambda d: d.find_element(By.ID, "sign-in").is_displayed())
    driver.get_log("browser")
    return driver


# ---------------------------------------------------------------- helpers
def who(driver):
    return driver.find_element("id", "who").text


def sign_in(driver):
    """Click Sign in: through the (stub) hosted UI and back, signed in."""
    driver.find_element("id", "sign-in").click()
    until(driver, lambda d: EMAIL in who(d))


def type_and_enter(driver, text):
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element("id", "message")
    box.clear()
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def say(driver, text):
    before = len(entries(driver))
    type_and_enter(driver, text)
    until(driver, lambda d: len(entries(d)) > before and d.find_element("id", "log").get_attribute("aria-busy") != "true")
    return " ".join(entries(driver)[before:])


def sign(driver, request, credentials, region, service, date):
    """SigV4.sign in the page: the headers it returns."""
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.SigV4.sign(arguments[0], arguments[1], arguments[2], arguments[3], arguments[4])"
        "  .then(done, function (e) { done({error: String(e)}); });",
        request, credentials, region, service, date)
    assert "error" not in result, result
    return result


# ---------------------------------------------------------------- a. the signer alone
def test_sigv4_signs_the_aws_test_suites_get_vanilla(lex_page):
    headers = sign(lex_page, {"method": "GET", "url": "https://example.amazonaws.com/",
                              "headers": {"Host": "example.amazonaws.com"}, "body": ""},
                   EXAMPLE_CREDENTIALS, "us-east-1", "service", EXAMPLE_DATE)
    assert headers["authorization"] == GET_VANILLA
    assert headers["x-amz-date"] == EXAMPLE_DATE and "x-amz-security-token" not in headers
    # botocore agrees with the documented signature too (the reference the next test relies on).
    assert botocore_authorization("GET", "https://example.amazonaws.com/", {"Host": "example.amazonaws.com"}, b"",
                                  "AKIDEXAMPLE", EXAMPLE_CREDENTIALS["secretAccessKey"], None,
                                  "us-east-1", "service", EXAMPLE_DATE) == GET_VANILLA


@pytest.mark.parametrize("session_id", ["web-0f8e3c2a-5b1d-4c6e-9a7b-3d2e1f0a9b8c", "connect:chat.42_x-y"])
def test_sigv4_signs_a_lex_recognize_text_post_exactly_as_botocore(lex_page, session_id):
    url = (f"https://runtime-v2-lex.us-east-1.amazonaws.com/bots/{BOT_ID}/botAliases/{ALIAS_ID}"
           f"/botLocales/en_US/sessions/{session_id.replace(':', '%3A')}/text")
    body = json.dumps({"text": "Où est ma commande 32057 ?  ", "requestAttributes": {"idToken": id_token(EMAIL)}})
    credentials = {**EXAMPLE_CREDENTIALS, "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE//+sessiontoken=="}
    headers = sign(lex_page, {"method": "POST", "url": url, "headers": {"content-type": "application/json"},
                              "body": body}, credentials, "us-east-1", "lex", EXAMPLE_DATE)
    expected = botocore_authorization("POST", url, {"Content-Type": "application/json"}, body.encode(),
                                      "AKIDEXAMPLE", credentials["secretAccessKey"], credentials["sessionToken"],
                                      "us-east-1", "lex", EXAMPLE_DATE)
    assert headers["authorization"] == expected
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in expected
    assert headers["x-amz-security-token"] == credentials["sessionToken"]
    assert headers["host"] == "runtime-v2-lex.us-east-1.amazonaws.com"
    if ":" in session_id:  # already percent-encoded in the URL, encoded again in the canonical URI
        assert lex_page.execute_script(
            "return SigV4.canonicalUri(arguments[0])", urlsplit(url).path).endswith("/sessions/connect%253Achat.42_x-y/text")


# ---------------------------------------------------------------- b. deployed, end to end
def test_a_signed_in_customer_chats_with_lex(lex_page, stub, site):
    assert who(lex_page) == "Not signed in"
    assert not lex_page.find_element("id", "details-toggle").is_displayed()  # Lex sends no turn record
    sign_in(lex_page)
    assert who(lex_page) == f"Signed in as {EMAIL}"
    status = lex_page.find_element("id", "who")
    assert status.get_attribute("role") == "status" and status.get_attribute("aria-label")
    assert lex_page.current_url == site.url + "/"  # the code and state are gone from the address bar
    assert lex_page.find_element("id", "sign-out").is_displayed()
    assert not lex_page.find_element("id", "sign-in").is_displayed()
    stored = lex_page.execute_script("return JSON.parse(sessionStorage.getItem('chat.auth'))")
    assert stored["idToken"] in stub.id_tokens and stored["email"] == EMAIL
    assert lex_page.execute_script("return sessionStorage.getItem('chat.pkce')") is None
    assert lex_page.execute_script("return localStorage.length") == 0  # tokens in this tab only
    # A Lex session id with ':' (an encoded path segment, signed encoded twice).
    lex_page.execute_script("sessionStorage.setItem('chat.sessionId', 'web:e2e-' + Date.now())")

    reply = say(lex_page, "Where is order 32057?")
    assert "Backpack" in reply and "shipped" in reply
    assert lex_page.find_element("id", "message").get_attribute("value") == ""
    assert stub.problems == []
    [turn] = stub.turns
    assert turn["text"] == "Where is order 32057?" and turn["sessionId"].startswith("web:e2e-")
    assert turn["attributes"] == {"idToken": stored["idToken"]}
    assert stub.calls == ["/oauth2/authorize", "/oauth2/token", "GetId", "GetCredentialsForIdentity",
                          f"/bots/{BOT_ID}/botAliases/{ALIAS_ID}/botLocales/en_US/sessions/"
                          f"{turn['sessionId'].replace(':', '%3A')}/text"]
    # The next turn reuses the credentials (valid for an hour) and continues the same Lex session.
    say(lex_page, "Is my return rtn003 processed?")
    assert stub.calls.count("GetCredentialsForIdentity") == 1 and len(stub.turns) == 2
    assert stub.turns[1]["sessionId"] == turn["sessionId"]
    assert console_errors(lex_page) == []  # nothing broke the deployed CSP, nothing failed to load
    assert stub.problems == []


def test_a_confirmation_shows_yes_and_no_buttons_and_yes_answers_it(lex_page, stub):
    sign_in(lex_page)
    assert "email" in say(lex_page, "I want to cancel order 37129")
    reply = say(lex_page, "My email is mary_major@example.com and my username is mary_major")
    assert "Cancel order 37129: 2 x Sunglasses, $99.98? Say yes to confirm." in reply
    buttons = quick_replies(lex_page)
    assert [b.text for b in buttons] == ["Yes", "No"]
    assert all(b.tag_name == "button" and b.get_attribute("type") == "button" and b.is_enabled() for b in buttons)
    before = len(entries(lex_page))
    buttons[0].click()
    until(lex_page, lambda d: len(entries(d)) > before and d.find_element("id", "log").get_attribute("aria-busy") != "true")
    assert "Order 37129 has been cancelled." in " ".join(entries(lex_page)[before:])
    assert stub.turns[-1]["text"] == "yes"  # the button sent its value
    assert quick_replies(lex_page) == []
    assert stub.problems == [] and console_errors(lex_page) == []


def test_not_signed_in_the_page_asks_to_sign_in_and_sends_nothing(lex_page, stub):
    text = "Where is order 32057?"
    type_and_enter(lex_page, text)
    until(lex_page, lambda d: d.find_elements("css selector", "#log .msg.notice"))
    notice = lex_page.find_element("css selector", "#log .msg.notice")
    assert SIGN_IN_FIRST in notice.text
    [button] = notice.find_elements("tag name", "button")
    assert button.text == "Sign in" and button.get_attribute("type") == "button"
    assert lex_page.find_element("id", "message").get_attribute("value") == text  # kept, to send once signed in
    assert lex_page.find_elements("css selector", "#log .msg.user") == []
    lex_page.execute_script("arguments[0].dataset.first = '1'", notice)
    type_and_enter(lex_page, text)  # again: the notice is replaced (one only), still nothing sent
    until(lex_page, lambda d: not d.find_elements("css selector", "#log .msg.notice[data-first]"))
    [notice] = lex_page.find_elements("css selector", "#log .msg.notice")
    assert stub.calls == [] and stub.turns == []
    notice.find_element("tag name", "button").click()  # the notice's button signs in too
    until(lex_page, lambda d: EMAIL in who(d))
    assert "Backpack" in say(lex_page, text)
    assert stub.problems == [] and console_errors(lex_page) == []


def test_a_forged_sign_in_return_is_refused(lex_page, stub, site):
    lex_page.get(site.url + "/?code=stolen-code&state=forged-state")
    until(lex_page, lambda d: who(d) == "Sign-in failed. Please try again.")
    assert lex_page.current_url == site.url + "/"
    assert "/oauth2/token" not in stub.calls  # the state did not match: the code is never exchanged
    assert lex_page.execute_script("return sessionStorage.getItem('chat.auth')") is None
    assert lex_page.find_element("id", "sign-in").is_displayed()


def test_credentials_about_to_expire_are_renewed_before_a_turn(lex_page, stub):
    stub.credential_lifetime_s = 120  # inside the page's five-minute margin: renewed every turn
    sign_in(lex_page)
    assert "Backpack" in say(lex_page, "Where is order 32057?")
    assert "rtn003" in say(lex_page, "Is my return rtn003 processed?")
    assert stub.calls.count("GetId") == 1 and stub.calls.count("GetCredentialsForIdentity") == 2
    assert len(stub.credentials) == 2 and stub.problems == []


def test_a_signature_lex_refuses_shows_the_offline_note_then_new_credentials_work(lex_page, stub):
    sign_in(lex_page)
    assert "Backpack" in say(lex_page, "Where is order 32057?")
    for issued in stub.credentials.values():  # the stub no longer agrees on the secret: 403, as AWS would
        issued["secret"] = "not-the-secret-the-page-holds"
    text = "Is my return rtn003 processed?"
    assert OFFLINE in say(lex_page, text)
    assert len(stub.problems) == 1 and stub.problems[0].endswith("signature mismatch")  # botocore checks for real
    assert lex_page.find_element("id", "message").get_attribute("value") == text
    stub.problems.clear()
    assert "rtn003" in say(lex_page, text)  # after a 403 the page asks the identity pool again
    assert stub.calls.count("GetCredentialsForIdentity") == 2 and stub.problems == []


def test_sign_out_clears_the_tokens_and_the_conversation(lex_page, stub, site):
    sign_in(lex_page)
    say(lex_page, "Where is order 32057?")
    lex_page.find_element("id", "sign-out").click()
    until(lex_page, lambda d: "/logout" in stub.calls and d.current_url == site.url + "/"
          and d.find_element("id", "sign-in").is_displayed())
    assert who(lex_page) == "Not signed in"
    assert lex_page.execute_script(
        "return ['chat.auth', 'chat.history', 'chat.sessionId', 'chat.pkce']"
        ".filter(k => sessionStorage.getItem(k) && k !== 'chat.sessionId')") == []
    assert lex_page.find_elements("css selector", "#log .msg") == []
    assert stub.problems == []


def test_an_expired_sign_in_asks_again_and_sends_nothing(lex_page, stub):
    sign_in(lex_page)
    lex_page.execute_script(
        "const a = JSON.parse(sessionStorage.getItem('chat.auth')); a.exp = Math.floor(Date.now() / 1000) - 10;"
        "sessionStorage.setItem('chat.auth', JSON.stringify(a));")
    type_and_enter(lex_page, "Where is order 32057?")
    until(lex_page, lambda d: d.find_elements("css selector", "#log .msg.notice"))
    assert "Your sign-in has expired. Please sign in to chat." in lex_page.find_element(
        "css selector", "#log .msg.notice").text
    assert who(lex_page) == "Not signed in" and stub.turns == []


# ---------------------------------------------------------------- c. embedded in a shop's page
@pytest.fixture
def shop(lex_page, site):
    """The shop's page (another origin) with the chat page in an iframe; the driver is in the frame."""
    server, thread = _server(ShopHandler, None)
    server.chat_url = site.url + "/"
    site.frame_ancestors = server.url  # the stack's WebPageFrameAncestors
    driver = lex_page
    main = driver.current_window_handle
    server.main_window = main
    try:
        driver.get(server.url + "/")
        frame = until(driver, lambda d: d.find_element("css selector", "iframe"))
        driver.switch_to.frame(frame)
        until(driver, lambda d: d.find_element("id", "sign-in").is_displayed())
        assert driver.execute_script("return window.top !== window.self && location.origin") == site.url
        driver.get_log("browser")
        yield server
    finally:
        for handle in driver.window_handles:  # a popup left open by a failing test
            if handle != main:
                driver.switch_to.window(handle)
                driver.close()
        driver.switch_to.window(main)
        driver.switch_to.default_content()
        _stop(server, thread)


def into_frame(driver, shop):
    driver.switch_to.window(shop.main_window)
    driver.switch_to.default_content()
    driver.switch_to.frame(driver.find_element("css selector", "iframe"))


def popup_handle(driver, shop):
    handles = until(driver, lambda d: [h for h in d.window_handles if h != shop.main_window] or None)
    assert len(handles) == 1
    return handles[0]


def popup_closes(driver, shop):
    until(driver, lambda d: d.window_handles == [shop.main_window])
    into_frame(driver, shop)


def signed_in_message(email, type_=None, token=None):
    return {"type": type_ or "lex-chat-signed-in", "idToken": token if token is not None else id_token(email),
            "email": email, "expiresAt": int(time.time()) + 3600}


def frame_auth(driver):
    return driver.execute_script("return sessionStorage.getItem('chat.auth')")


def test_in_a_shops_iframe_sign_in_goes_through_a_popup(shop, lex_page, stub, aws):
    page = lex_page  # the same driver, inside the shop's iframe
    stub.interactive = True
    assert who(page) == "Not signed in"
    page.find_element("id", "sign-in").click()
    page.switch_to.window(popup_handle(page, shop))
    link = until(page, lambda d: d.find_element("id", "hosted-sign-in"))  # the hosted UI, top-level in the popup
    assert page.current_url.startswith(aws.url + "/oauth2/authorize?")
    assert page.execute_script("return window.top === window.self && window.opener !== null")
    link.click()  # signed in: back to the chat page in the popup, which posts the token and closes
    popup_closes(page, shop)
    until(page, lambda d: who(d) == f"Signed in as {EMAIL}")
    assert page.find_element("id", "sign-out").is_displayed() and not page.find_element("id", "sign-in").is_displayed()
    stored = json.loads(frame_auth(page))
    assert stored["idToken"] in stub.id_tokens and stored["email"] == EMAIL and stored["exp"] > time.time()
    assert page.execute_script("return sessionStorage.getItem('chat.pkce')") is None  # the popup held it
    assert "Backpack" in say(page, "Where is order 32057?")
    [turn] = stub.turns
    assert turn["attributes"] == {"idToken": stored["idToken"]}
    assert stub.calls[:4] == ["/oauth2/authorize", "/oauth2/approve", "/oauth2/token", "GetId"]
    assert stub.problems == [] and console_errors(page) == []


def test_in_a_frame_only_the_popups_own_message_signs_in(shop, lex_page, stub, site):
    page = lex_page
    stub.interactive = True  # the popup waits on the hosted UI while messages come from elsewhere
    page.find_element("id", "sign-in").click()
    popup = popup_handle(page, shop)

    def still_signed_out():
        time.sleep(0.4)  # time for a message to arrive and (wrongly) be taken
        into_frame(page, shop)
        assert frame_auth(page) is None and page.find_element("id", "sign-in").is_displayed()
        assert EMAIL not in who(page) and "mallory" not in who(page)

    # From the shop's page (another origin), the right type.
    page.switch_to.window(shop.main_window)
    page.switch_to.default_content()
    page.execute_script("document.querySelector('iframe').contentWindow.postMessage(arguments[0], '*')",
                        signed_in_message("mallory@example.com"))
    still_signed_out()
    # From the frame itself: this origin, the right type, but not the popup it opened.
    page.execute_script("window.postMessage(arguments[0], location.origin)", signed_in_message("mallory@example.com"))
    still_signed_out()
    # From the popup while it shows the hosted UI: the popup, but the hosted UI's origin.
    page.switch_to.window(popup)
    until(page, lambda d: d.find_element("id", "hosted-sign-in"))
    page.execute_script("window.opener.postMessage(arguments[0], '*')", signed_in_message("mallory@example.com"))
    still_signed_out()
    # From the popup back on this origin: the wrong type, then no token.
    page.switch_to.window(popup)
    page.get(site.url + "/")
    for message in (signed_in_message("mallory@example.com", type_="lex-chat-signed-out"),
                    signed_in_message("mallory@example.com", token=42)):
        page.switch_to.window(popup)
        page.execute_script("window.opener.postMessage(arguments[0], location.origin)", message)
        still_signed_out()
    # The popup, this origin, the right type: taken, and the frame closes the popup.
    page.switch_to.window(popup)
    page.execute_script("window.opener.postMessage(arguments[0], location.origin)", signed_in_message(EMAIL))
    popup_closes(page, shop)
    until(page, lambda d: who(d) == f"Signed in as {EMAIL}")
    assert "/oauth2/token" not in stub.calls


def test_in_a_frame_a_blocked_popup_offers_the_page_in_a_new_tab(shop, lex_page, site):
    page = lex_page
    page.execute_script("window.open = function () { return null; };")  # as a pop-up blocker answers
    page.find_element("id", "sign-in").click()
    notice = until(page, lambda d: d.find_element("css selector", "#log .msg.notice"))
    assert "blocked" in notice.text
    link = notice.find_element("tag name", "a")
    assert link.get_attribute("href") == site.url + "/"
    assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
    assert page.window_handles == [shop.main_window] and who(page) == "Not signed in"


def test_in_a_frame_sign_out_goes_through_a_popup_too(shop, lex_page, stub, site):
    page = lex_page
    page.find_element("id", "sign-in").click()  # not interactive: the popup signs in and closes by itself
    popup_closes(page, shop)
    until(page, lambda d: who(d) == f"Signed in as {EMAIL}")
    say(page, "Where is order 32057?")
    page.find_element("id", "sign-out").click()
    until(page, lambda d: d.find_element("id", "sign-in").is_displayed())
    assert who(page) == "Signed out"
    assert page.find_elements("css selector", "#log .msg") == []
    assert page.execute_script(
        "return ['chat.auth', 'chat.history', 'chat.pkce'].filter(k => sessionStorage.getItem(k))") == []
    until(page, lambda d: "/logout" in stub.calls)  # the hosted UI's session ends too, in the popup
    popup_closes(page, shop)
    assert stub.problems == [] and console_errors(page) == []


# ---------------------------------------------------------------- c. local mode
def test_without_a_lex_config_the_page_stays_local(driver, aws):  # noqa: F811
    """The local server answers config.json with mode "local": the page posts to api/turn, shows no sign-in."""
    srv, thread = serve.start_in_thread(0, open(os.devnull, "w"))
    try:
        driver.get(srv.url)
        driver.execute_script("window.sessionStorage.clear();")
        driver.get(srv.url)
        until(driver, lambda d: d.find_element("id", "message").is_displayed())
        driver.get_log("browser")
        assert "Herbal Handsoap" in say(driver, "Could you tell me if order 123456 has shipped?")
        assert not driver.find_element("id", "account").is_displayed()
        assert driver.find_element("id", "details-toggle").is_displayed()
        assert console_errors(driver) == []
    finally:
        serve.stop(srv, thread)
