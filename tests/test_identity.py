"""Cognito ID token verification (orchestrator/identity.py), offline: keys made here, JWKS served on 127.0.0.1."""
from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import os
import random
import threading
import traceback

import pytest

cryptography = pytest.importorskip("cryptography")  # a dev-extra test dependency only
from cryptography.exceptions import InvalidSignature  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

from orchestrator import identity  # noqa: E402
from orchestrator.identity import (  # noqa: E402
    IdentityResult, InvalidToken, TokenVerifier, VerifiedIdentity, b64url_encode, identity_from_request,
    verifier_from_env, verify_rs256,
)

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
AUDIENCE = "4example23456789client"
KID = "kid-1"
NOW = 1_700_000_000.0
SUB = "0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
USERNAME = "jane.customer-7781"
EMAIL = "jane.customer-7781@example.com"


# --- keys and tokens -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(private_key, kid=KID):
    numbers = private_key.public_key().public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": b64url_encode(numbers.n.to_bytes(size, "big")),
            "e": b64url_encode(numbers.e.to_bytes(3, "big"))}


def jwks_of(*keys_and_kids):
    return {"keys": [jwk(k, kid) for k, kid in keys_and_kids]}


def claims(**overrides):
    base = {"sub": SUB, "aud": AUDIENCE, "email_verified": True, "token_use": "id", "auth_time": int(NOW) - 10,
            "iss": ISSUER, "cognito:username": USERNAME, "exp": int(NOW) + 3600, "iat": int(NOW) - 10,
            "email": EMAIL, "cognito:groups": ["customers"]}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def segment(value) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return b64url_encode(raw)


def sign(private_key, signing_input: bytes) -> bytes:
    return private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


def make_token(private_key, payload=None, header=None, kid=KID) -> str:
    head = {"kid": kid, "alg": "RS256"} if header is None else header
    signing_input = f"{segment(head)}.{segment(claims() if payload is None else payload)}"
    return f"{signing_input}.{b64url_encode(sign(private_key, signing_input.encode()))}"


def verifier(key, **kwargs) -> TokenVerifier:
    kwargs.setdefault("jwks", jwks_of((key, KID)))
    kwargs.setdefault("clock", lambda: NOW)
    return TokenVerifier(ISSUER, AUDIENCE, **kwargs)


def reason_of(v: TokenVerifier, token) -> str:
    with pytest.raises(InvalidToken) as caught:
        v.verify(token)
    return caught.value.reason


# --- the happy path --------------------------------------------------------------------------------

def test_a_valid_id_token_verifies(key):
    found = verifier(key).verify(make_token(key))
    assert isinstance(found, VerifiedIdentity)
    assert (found.subject, found.username, found.email) == (SUB, USERNAME, EMAIL)
    assert found.claims["cognito:groups"] == ["customers"]
    with pytest.raises(TypeError):
        found.claims["sub"] = "someone-else"  # read-only view
    assert USERNAME not in repr(found) and EMAIL not in repr(found)


def test_an_unverified_email_is_not_trusted_and_username_falls_back_to_sub(key):
    found = verifier(key).verify(make_token(key, claims(email_verified=False, **{"cognito:username": None})))
    assert found.email is None
    assert found.username == SUB


def test_leeway_accepts_small_clock_skew(key):
    v = verifier(key)
    assert v.verify(make_token(key, claims(exp=int(NOW) - 30))).subject == SUB
    assert v.verify(make_token(key, claims(iat=int(NOW) + 30))).subject == SUB


# --- claims ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, reason", [
    ({"exp": int(NOW) - 61}, "expired"),
    ({"exp": int(NOW) - 60}, "expired"),
    ({"iat": int(NOW) + 120}, "not yet valid"),
    ({"nbf": int(NOW) + 120}, "not yet valid"),
    ({"iat": int(NOW) + 120, "nbf": int(NOW) - 10}, "not yet valid"),
    ({"aud": "another-client"}, "wrong audience"),
    ({"aud": [AUDIENCE, "another-client"]}, "wrong audience"),
    ({"aud": None}, "wrong audience"),
    ({"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other"}, "wrong issuer"),
    ({"iss": ISSUER + "/"}, "wrong issuer"),
    ({"iss": None}, "wrong issuer"),
    ({"token_use": "access"}, "not an id token"),
    ({"token_use": None}, "not an id token"),
    ({"sub": None}, "no subject"),
    ({"sub": ""}, "no subject"),
    ({"exp": None}, "malformed"),
    ({"exp": "1700003600"}, "malformed"),
    ({"exp": True}, "malformed"),
    ({"iat": None}, "malformed"),
])
def test_claims_are_checked(key, overrides, reason):
    assert reason_of(verifier(key), make_token(key, claims(**overrides))) == reason


def test_an_infinite_expiry_is_malformed(key):
    # 1e999 parses as float('inf') in Python's json: it must not mean "never expires".
    head = segment({"kid": KID, "alg": "RS256"})
    body = b64url_encode(json.dumps(claims()).replace(str(int(NOW) + 3600), "1e999").encode())
    token = f"{head}.{body}.{b64url_encode(sign(key, f'{head}.{body}'.encode()))}"
    assert reason_of(verifier(key), token) == "malformed"


# --- signatures and algorithms ----------------------------------------------------------------------

def test_a_signature_by_another_key_is_rejected(key, other_key):
    assert reason_of(verifier(key), make_token(other_key)) == "bad signature"


def test_a_tampered_payload_with_the_original_signature_is_rejected(key):
    head, _, signature = make_token(key).split(".")
    forged = f"{head}.{segment(claims(sub='someone-else', email='attacker@example.com'))}.{signature}"
    assert reason_of(verifier(key), forged) == "bad signature"


def test_a_tampered_header_is_rejected(key):
    _, body, signature = make_token(key).split(".")
    forged = f"{segment({'alg': 'RS256', 'kid': KID, 'typ': 'JWT'})}.{body}.{signature}"
    assert reason_of(verifier(key), forged) == "bad signature"


def test_alg_none_is_rejected(key):
    token = f"{segment({'alg': 'none', 'kid': KID})}.{segment(claims())}."
    assert reason_of(verifier(key), token) == "unsupported algorithm"


def test_hs256_with_the_public_key_as_secret_is_rejected(key):
    """The classic confusion: sign with HMAC keyed by the (public) RSA key, hope the verifier follows alg."""
    v = verifier(key)
    head = segment({"alg": "HS256", "kid": KID, "typ": "JWT"})
    body = segment(claims())
    for secret in (key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo),
                   json.dumps(jwk(key)).encode()):
        mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        assert reason_of(v, f"{head}.{body}.{b64url_encode(mac)}") == "unsupported algorithm"


@pytest.mark.parametrize("header", [
    {"alg": "rs256", "kid": KID}, {"alg": "RS256 ", "kid": KID}, {"alg": "RS512", "kid": KID},
    {"alg": "PS256", "kid": KID}, {"kid": KID}, {"alg": ["RS256"], "kid": KID},
])
def test_only_rs256_exactly(key, header):
    assert reason_of(verifier(key), make_token(key, header=header)) == "unsupported algorithm"


@pytest.mark.parametrize("header", [
    {"alg": "RS256"}, {"alg": "RS256", "kid": 7}, {"alg": "RS256", "kid": ""},
    {"alg": "RS256", "kid": KID, "crit": ["exp"]},
])
def test_header_needs_a_kid_and_no_crit(key, header):
    assert reason_of(verifier(key), make_token(key, header=header)) == "malformed"


def test_keys_in_the_header_are_never_used(other_key, key):
    """A token carrying its own jwk (or jku) is still checked against the pool's keys only."""
    header = {"alg": "RS256", "kid": KID, "jwk": jwk(other_key), "jku": "https://attacker.example/jwks.json"}
    assert reason_of(verifier(key), make_token(other_key, header=header)) == "bad signature"


# --- the JWKS: unknown kid, refetch, cache --------------------------------------------------------------

class Clock:
    def __init__(self, now=NOW):
        self.now = now

    def __call__(self):
        return self.now


def test_an_unknown_kid_triggers_one_refetch_then_fails(key, other_key):
    calls = []
    clock = Clock()

    def fetcher(url):
        calls.append(url)
        return jwks_of((key, KID))

    v = verifier(key, jwks_fetcher=fetcher, clock=clock)
    stranger = make_token(other_key, kid="kid-unknown")
    assert reason_of(v, stranger) == "unknown key"
    assert calls == [ISSUER + "/.well-known/jwks.json"]
    assert reason_of(v, stranger) == "unknown key"  # no second fetch within the minute
    assert v.verify(make_token(key)).subject == SUB
    assert len(calls) == 1
    clock.now += 61
    assert reason_of(v, stranger) == "unknown key"
    assert len(calls) == 2


def test_a_rotated_key_is_found_by_the_refetch(key, other_key):
    served = {"jwks": jwks_of((key, KID))}
    v = verifier(key, jwks_fetcher=lambda url: served["jwks"])
    served["jwks"] = jwks_of((key, KID), (other_key, "kid-2"))
    assert v.verify(make_token(other_key, kid="kid-2")).subject == SUB
    assert v.fetches == 1


def test_keys_held_survive_a_failed_or_empty_refresh(key):
    clock = Clock()
    answers = iter([OSError("timeout"), {"keys": []}])

    def fetcher(url):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    v = verifier(key, jwks_fetcher=fetcher, clock=clock)
    for _ in range(2):
        clock.now += identity.JWKS_TTL_S
        assert v.verify(make_token(key, claims(exp=int(clock.now) + 60))).subject == SUB
    assert v.fetches == 2


def test_static_keys_are_never_fetched(key, other_key):
    v = verifier(key)  # jwks only: no fetcher
    assert reason_of(v, make_token(other_key, kid="kid-2")) == "unknown key"
    assert v.fetches == 0


def test_a_failing_fetch_without_keys_is_keys_unavailable_and_backs_off(key):
    clock = Clock()
    calls = []

    def fetcher(url):
        calls.append(url)
        raise OSError("no route to host")

    v = TokenVerifier(ISSUER, AUDIENCE, jwks_fetcher=fetcher, clock=clock)
    assert reason_of(v, make_token(key)) == "keys unavailable"
    assert reason_of(v, make_token(key)) == "keys unavailable"
    assert len(calls) == 1
    clock.now += 60
    assert reason_of(v, make_token(key)) == "keys unavailable"
    assert len(calls) == 2


def test_unusable_jwks_entries_are_skipped(key):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    jwks = {"keys": [
        jwk(weak, "weak"),
        {**jwk(key, "enc"), "use": "enc"},
        {**jwk(key, "hs"), "alg": "HS256"},
        {"kty": "oct", "kid": "oct", "k": "c2VjcmV0"},
        {**jwk(key, "bad-n"), "n": "!!"},
        "not a key",
        jwk(key, KID),
    ]}
    assert sorted(identity.parse_jwks(jwks)) == [KID]
    assert identity.parse_jwks({"keys": "nope"}) == {} and identity.parse_jwks([]) == {}


class JwksServer:
    """A JWKS endpoint on 127.0.0.1: counts its hits, answers a redirect and an oversized body too."""

    def __init__(self, jwks):
        body = json.dumps(jwks).encode()
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 5

            def do_GET(self):  # noqa: N802
                hits.append(self.path)
                if self.path == "/pool/.well-known/jwks.json":
                    self._send(200, body)
                elif self.path == "/moved/.well-known/jwks.json":
                    self.send_response(302)
                    self.send_header("Location", "/pool/.well-known/jwks.json")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path == "/huge/.well-known/jwks.json":
                    self._send(200, b'{"keys": [], "pad": "' + b"x" * 70_000 + b'"}')
                else:
                    self._send(404, b"{}")

            def _send(self, status, payload):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_jwks_is_fetched_over_http_and_cached(key):
    with JwksServer(jwks_of((key, KID))) as server:
        issuer = server.base + "/pool"
        clock = Clock()
        v = TokenVerifier(issuer, AUDIENCE, clock=clock)  # the default urllib fetcher
        token = make_token(key, claims(iss=issuer))
        assert v.verify(token).subject == SUB
        assert v.verify(token).subject == SUB
        assert server.hits == ["/pool/.well-known/jwks.json"]  # the second verify used the cache
        clock.now += 120
        assert v.verify(token).subject == SUB
        assert len(server.hits) == 1  # still within the TTL
        clock.now += identity.JWKS_TTL_S - 120
        assert v.verify(make_token(key, claims(iss=issuer, exp=int(clock.now) + 60))).subject == SUB
        assert len(server.hits) == 2  # refreshed after the TTL


@pytest.mark.parametrize("pool", ["moved", "huge", "missing"])
def test_redirects_oversized_and_missing_jwks_are_refused(key, pool):
    with JwksServer(jwks_of((key, KID))) as server:
        issuer = f"{server.base}/{pool}"
        v = TokenVerifier(issuer, AUDIENCE, clock=lambda: NOW)
        assert reason_of(v, make_token(key, claims(iss=issuer))) == "keys unavailable"
        assert server.hits == [f"/{pool}/.well-known/jwks.json"]  # the redirect was not followed


def test_the_default_fetcher_refuses_plain_http_and_other_schemes():
    for url in ("http://example.com/.well-known/jwks.json", "file:///etc/passwd", "ftp://127.0.0.1/x"):
        with pytest.raises(ValueError):
            identity.fetch_jwks(url)


# --- malformed tokens ------------------------------------------------------------------------------------

def _signed(key, header_raw: bytes, payload_raw: bytes) -> str:
    signing_input = f"{b64url_encode(header_raw)}.{b64url_encode(payload_raw)}"
    return f"{signing_input}.{b64url_encode(sign(key, signing_input.encode()))}"


def test_malformed_tokens(key):
    v = verifier(key)
    good = make_token(key)
    head, body, sig = good.split(".")
    deep = b'{"alg":"RS256","kid":"kid-1","x":' + b"[" * 2000 + b"]" * 2000 + b"}"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 342 characters carry 2048 bits and 4 spare ones: setting a spare bit decodes to the same bytes.
    sloppy = sig[:-1] + alphabet[alphabet.index(sig[-1]) ^ 1]
    nested = b'{"alg":"RS256","kid":"kid-1","x":' + b"[" * 17 + b"]" * 17 + b"}"  # json parses it; too deep
    not_utf8 = b64url_encode(b'{"alg":"\xff"}')
    duplicate_alg = b64url_encode(b'{"alg":"none","alg":"RS256","kid":"kid-1"}')
    cases = {
        "two parts": f"{head}.{body}",
        "four parts": good + ".x",
        "empty": "",
        "bad base64": f"{head}.{body}.{sig[:-4]}!!!!",
        "base64 padding": f"{head}.{body}.{sig}==",
        "base64 length": f"{head}.{body}.{sig}AAA",  # 345 characters: no whole number of bytes
        "standard alphabet": f"{head}.{body}.{sig.replace('-', '+').replace('_', '/')}"
        if ("-" in sig or "_" in sig) else f"{head}.{body}.{sig}+",
        "non-JSON header": f"{b64url_encode(b'not json')}.{body}.{sig}",
        "header not an object": f"{segment(['RS256'])}.{body}.{sig}",
        "header not UTF-8": f"{not_utf8}.{body}.{sig}",
        "duplicate alg": f"{duplicate_alg}.{body}.{sig}",
        "deep header": f"{b64url_encode(deep)}.{body}.{sig}",
        "17 levels": f"{b64url_encode(nested)}.{body}.{sig}",
        "non-canonical base64": f"{head}.{body}.{sloppy}",
        "non-ASCII": good[:-1] + "\u00e9",
        "non-JSON payload (signed)": _signed(key, b'{"alg":"RS256","kid":"kid-1"}', b"hello"),
        "payload not an object (signed)": _signed(key, b'{"alg":"RS256","kid":"kid-1"}', b'["sub"]'),
        "NaN payload (signed)": _signed(key, b'{"alg":"RS256","kid":"kid-1"}', b'{"exp": NaN}'),
        "deep payload (signed)": _signed(key, b'{"alg":"RS256","kid":"kid-1"}',
                                         b'{"sub":"x","a":' + b"[" * 1500 + b"]" * 1500 + b"}"),
    }
    for name, token in cases.items():
        assert reason_of(v, token) == "malformed", name
    for not_a_string in (None, b"a.b.c", 12):
        assert reason_of(v, not_a_string) == "malformed"


def test_a_huge_token_is_refused_before_parsing(key, monkeypatch):
    v = verifier(key)

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed a token over the size limit")

    monkeypatch.setattr(identity, "b64url_decode", no_parsing)
    token = make_token(key, claims(padding="x" * 9000))
    assert len(token) > identity.MAX_TOKEN_CHARS
    assert reason_of(v, token) == "too large"


def test_json_depth_counts_brackets_outside_strings_only():
    assert identity._json_depth('{"a": "[[[[[[{{{{", "b": [1, {"c": "\\"]]"}]}') == 3
    assert identity._json_depth('["\\"[[[[", 1]') == 1  # an escaped quote does not end the string
    assert identity._json_depth('["\\\\", [[]]]') == 3  # an escaped backslash does not escape the quote
    assert identity.load_json_object(b'{"a": "' + b"[" * 100 + b'"}') == {"a": "[" * 100}


# --- messages never leak the token or its claims ---------------------------------------------------------

def test_no_exception_message_holds_the_token_or_a_claim(key, other_key):
    v = verifier(key)
    secrets = [SUB, USERNAME, EMAIL, AUDIENCE + "-x", "attacker@example.com"]
    tokens = [
        make_token(key, claims(exp=int(NOW) - 3600)),
        make_token(key, claims(aud=AUDIENCE + "-x")),
        make_token(key, claims(iss=ISSUER + "x")),
        make_token(key, claims(token_use="access")),
        make_token(other_key),
        make_token(other_key, kid="kid-unknown"),
        make_token(key).rsplit(".", 1)[0] + ".!!",
        f"{segment({'alg': 'none', 'kid': KID})}.{segment(claims(email='attacker@example.com'))}.",
        make_token(key, claims(iat=int(NOW) + 3600)),
        make_token(key, claims(padding="x" * 9000)),
    ]
    for token in tokens:
        with pytest.raises(InvalidToken) as caught:
            v.verify(token)
        exc = caught.value
        text = " ".join([str(exc), repr(exc), *map(str, exc.args),
                         "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))])
        assert exc.reason in identity.REASONS
        for part in [token, *token.split("."), *secrets]:
            if len(part) >= 8:
                assert part not in text
        result = identity_from_request({"idToken": token}, v)
        assert result.identity is None and result.reason == exc.reason


def test_invalid_token_only_carries_known_reasons():
    assert InvalidToken("eyJhbGciOi.secret.claims").reason == "malformed"


# --- configuration ----------------------------------------------------------------------------------------

def test_verifier_from_env():
    assert verifier_from_env({}) is None
    assert verifier_from_env({"COGNITO_ISSUER": " ", "COGNITO_AUDIENCE": ""}) is None
    with pytest.raises(ValueError, match="COGNITO_AUDIENCE"):
        verifier_from_env({"COGNITO_ISSUER": ISSUER})
    with pytest.raises(ValueError, match="COGNITO_ISSUER"):
        verifier_from_env({"COGNITO_AUDIENCE": AUDIENCE})
    for bad in ("http://cognito-idp.eu-west-1.amazonaws.com/pool", ISSUER + "/", "cognito-idp.eu-west-1"):
        with pytest.raises(ValueError, match="COGNITO_ISSUER"):
            verifier_from_env({"COGNITO_ISSUER": bad, "COGNITO_AUDIENCE": AUDIENCE})
    v = verifier_from_env({"COGNITO_ISSUER": ISSUER, "COGNITO_AUDIENCE": AUDIENCE})
    assert isinstance(v, TokenVerifier) and (v.issuer, v.audience) == (ISSUER, AUDIENCE)
    assert v.jwks_url == ISSUER + "/.well-known/jwks.json"
    assert verifier_from_env({"COGNITO_ISSUER": ISSUER, "COGNITO_AUDIENCE": AUDIENCE}) is v  # one per process
    assert verifier_from_env(os.environ) is None or "COGNITO_ISSUER" in os.environ


# --- the Lex request ------------------------------------------------------------------------------------

def test_identity_from_request(key):
    v = verifier(key)
    token = make_token(key)
    identity_found, reason = identity_from_request({"idToken": token}, v)
    assert identity_found.subject == SUB and reason is None
    assert identity_from_request({"idToken": f"  {token}\n"}, v)

    assert tuple(identity_from_request({}, v)) == (None, None)
    assert tuple(identity_from_request(None, v)) == (None, None)
    assert tuple(identity_from_request({"idToken": ""}, v)) == (None, None)
    assert tuple(identity_from_request({"idToken": token}, None)) == (None, "not configured")
    assert tuple(identity_from_request({}, None)) == (None, None)
    assert tuple(identity_from_request({"idToken": 42}, v)) == (None, "malformed")
    bad = identity_from_request({"idToken": make_token(key, claims(exp=int(NOW) - 3600))}, v)
    assert not bad and tuple(bad) == (None, "expired")
    assert isinstance(bad, IdentityResult)


def test_only_our_own_attribute_is_read(key):
    v = verifier(key)
    token = make_token(key)
    for attributes in ({"x-amz-lex:idToken": token}, {"IdToken": token}, {"id_token": token},
                       {"email": EMAIL, "sub": SUB, "cognito:username": USERNAME}):
        assert tuple(identity_from_request(attributes, v)) == (None, None)


def test_identity_from_request_never_raises(key):
    class Broken(TokenVerifier):
        def verify(self, token):
            raise RuntimeError("boom " + token)

    result = identity_from_request({"idToken": "a.b.c"}, Broken(ISSUER, AUDIENCE, jwks={"keys": []}))
    assert tuple(result) == (None, "internal error")


# --- the pure-Python RSA check agrees with cryptography ---------------------------------------------------

def _cryptography_verifies(private_key, message: bytes, signature: bytes) -> bool:
    try:
        private_key.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def _raw_sign(private_key, encoded: bytes) -> bytes:
    """The RSA private operation on an arbitrary encoded block: forge-shaped signatures for the test."""
    numbers = private_key.private_numbers()
    n = numbers.public_numbers.n
    k = (n.bit_length() + 7) // 8
    m = int.from_bytes(encoded, "big")
    m1, m2 = pow(m, numbers.dmp1, numbers.p), pow(m, numbers.dmq1, numbers.q)  # CRT: four times faster
    return (m2 + numbers.q * ((numbers.iqmp * (m1 - m2)) % numbers.p)).to_bytes(k, "big")


def _encoding(k: int, digest_info: bytes, *, block_type=1, filler=b"\xff", trailer=b"") -> bytes:
    ps = filler * (k - len(digest_info) - len(trailer) - 3)
    return bytes([0, block_type]) + ps + b"\x00" + digest_info + trailer


def test_pure_python_verify_agrees_with_cryptography(key, other_key):
    rng = random.Random(20240611)
    public = key.public_key().public_numbers()
    n, e = public.n, public.e
    k = (n.bit_length() + 7) // 8
    prefix = identity.SHA256_DIGEST_INFO_PREFIX
    checked = 0
    for _ in range(8):
        message = rng.randbytes(rng.randrange(0, 300))
        digest = hashlib.sha256(message).digest()
        good = sign(key, message)
        flipped = bytearray(good)
        flipped[rng.randrange(k)] ^= 1 << rng.randrange(8)
        digest_info_no_null = bytes.fromhex("302f300b0609608648016503040201") + b"\x04\x20" + digest
        candidates = [
            (message, good),
            (message + b"!", good),
            (message, bytes(flipped)),
            (message, sign(other_key, message)),
            (message, good[1:]),
            (message, b"\x00" + good),
            (message, good[::-1]),
            (message, _raw_sign(key, _encoding(k, prefix + digest))),            # a correct encoding: valid
            (message, _raw_sign(key, _encoding(k, prefix + digest, block_type=2))),
            (message, _raw_sign(key, _encoding(k, prefix + digest, filler=b"\xfe"))),
            (message, _raw_sign(key, _encoding(k, prefix + digest, trailer=b"\x00" * 8))),  # Bleichenbacher '06
            (message, _raw_sign(key, _encoding(k, digest_info_no_null))),       # DigestInfo without NULL
            (message, _raw_sign(key, _encoding(k, digest))),                     # bare digest, no DigestInfo
            (message, _raw_sign(key, _encoding(k, prefix + hashlib.sha256(b"other").digest()))),
        ]
        for msg, signature in candidates:
            expected = _cryptography_verifies(key, msg, signature)
            assert verify_rs256(n, e, msg, signature) is expected, (len(signature), expected)
            checked += 1
        assert verify_rs256(n, e, message, good) is True
    assert checked == 8 * len(candidates)


def test_a_signature_representative_not_below_the_modulus_is_refused():
    """s + n has the same k bytes when n is short of a whole byte (2044 bits): s + n mod n would verify."""
    short = rsa.generate_private_key(public_exponent=65537, key_size=2044)
    n, e = short.public_key().public_numbers().n, 65537
    good = sign(short, b"m")
    assert len(good) == 256 and verify_rs256(n, e, b"m", good) is True
    wrapped = (int.from_bytes(good, "big") + n).to_bytes(256, "big")
    assert _cryptography_verifies(short, b"m", wrapped) is False
    assert verify_rs256(n, e, b"m", wrapped) is False
