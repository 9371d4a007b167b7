"""Who the customer is: an Amazon Cognito user pool ID token, verified here (standard library only).

The web client sends the pool's ID token (a JWT, RS256) in the Lex V2 request attribute ``idToken``.
Nothing else identifies a customer: not session attributes (Lex clients can set them), not an email
typed in the chat, not any field outside a verified token. Verify on every turn; never carry trust
to a later turn through session attributes.

Checks, after Cognito's "Verifying JSON web tokens": three base64url segments, 8 KB at most; header
``alg`` exactly ``RS256`` (so ``none`` or an HMAC keyed with the public key never passes); ``kid`` in
the pool's JWKS (``{issuer}/.well-known/jwks.json``; header keys such as ``jwk``/``jku`` are ignored);
the RSASSA-PKCS1-v1_5 SHA-256 signature (RFC 8017 8.2.2, pure Python); ``iss`` the pool, ``aud`` the
app client, ``token_use`` ``id``, ``exp`` not past and ``iat``/``nbf`` not ahead (``leeway_s``), ``sub``
present. The JWKS is cached (TTL); an unknown ``kid`` refetches it once, and it is fetched at most
once per ``min_refetch_s`` whatever arrives. A failure is :class:`InvalidToken` carrying one of
``REASONS`` and nothing from the token.

Environment: ``COGNITO_ISSUER`` (``https://cognito-idp.<region>.amazonaws.com/<userPoolId>``) and
``COGNITO_AUDIENCE`` (the app client id), both or neither; without them nobody is identified.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import os
import re
import threading
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

logger = logging.getLogger("orchestrator.identity")

TOKEN_ATTRIBUTE = "idToken"  # our own request attribute, not an x-amz-lex: one
MAX_TOKEN_CHARS = 8 * 1024
MAX_JSON_DEPTH = 16  # Cognito claims nest 3 deep (identities: a list of objects)
MAX_JWKS_BYTES = 64 * 1024
MAX_KID_CHARS = 256
RSA_BITS = (2048, 8192)
JWKS_TIMEOUT_S = 2.0
JWKS_TTL_S = 3600.0
MIN_REFETCH_S = 60.0
# Every reason an InvalidToken or an IdentityResult can carry.
REASONS = frozenset({
    "malformed", "too large", "unsupported algorithm", "unknown key", "keys unavailable", "bad signature",
    "wrong issuer", "not an id token", "wrong audience", "expired", "not yet valid", "no subject",
    "not configured", "internal error",
})
# DER of DigestInfo{id-sha256, NULL} and the OCTET STRING header of the 32-byte hash (RFC 8017, 9.2 note 1).
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class InvalidToken(ValueError):
    """The token proves nothing; ``reason`` (also the message) is one of ``REASONS`` and nothing else."""

    def __init__(self, reason: str) -> None:
        self.reason = reason if reason in REASONS else "malformed"
        super().__init__(self.reason)


@dataclass(frozen=True)
class VerifiedIdentity:
    """Fields of a verified ID token, all the rest of the code may trust.

    ``username`` is ``cognito:username`` (else ``sub``); ``email`` only when ``email_verified`` is true;
    ``claims`` a read-only view of the verified payload. The repr shows the subject only.
    """

    subject: str
    username: str = field(repr=False)
    email: str | None = field(repr=False)
    claims: Mapping[str, Any] = field(repr=False, compare=False)


def b64url_decode(segment: str) -> bytes:
    """Unpadded, canonical base64url (RFC 7515, 2) or InvalidToken."""
    if not isinstance(segment, str) or not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise InvalidToken("malformed")
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if b64url_encode(raw) != segment:  # set spare bits: another string for the same bytes
        raise InvalidToken("malformed")
    return raw


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _json_depth(text: str) -> int:
    """The deepest nesting of objects and arrays, in one pass, strings left out."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len(result := dict(pairs)) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _no_constant(_name: str) -> Any:
    raise ValueError("NaN or Infinity")


def load_json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object from UTF-8 ``raw``: no duplicate members, NaN or Infinity; depth checked before parsing."""
    try:
        text = raw.decode("utf-8")
        if _json_depth(text) > MAX_JSON_DEPTH:
            raise ValueError("too deep")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise InvalidToken("malformed") from None
    if not isinstance(value, dict):
        raise InvalidToken("malformed")
    return value


def verify_rs256(n: int, e: int, message: bytes, signature: bytes) -> bool:
    """RSASSA-PKCS1-v1_5-VERIFY with SHA-256 (RFC 8017, 8.2.2) for the public key (n, e).

    The expected EMSA-PKCS1-v1_5 block is built and compared whole (constant time), never parsed, so
    lenient-parser forgeries (Bleichenbacher 2006) have nothing to exploit.
    """
    k = (n.bit_length() + 7) // 8
    digest_info = SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(message).digest()
    if len(signature) != k or k < len(digest_info) + 11:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:  # RSAVP1: out of range
        return False
    expected = b"\x00\x01" + b"\xff" * (k - len(digest_info) - 3) + b"\x00" + digest_info
    return hmac.compare_digest(pow(s, e, n).to_bytes(k, "big"), expected)


def parse_jwks(jwks: Any) -> dict[str, tuple[int, int]]:
    """``{kid: (n, e)}`` for the JWKS's RSA keys fit for RS256 signatures; others are skipped."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    found: dict[str, tuple[int, int]] = {}
    for jwk in keys if isinstance(keys, list) else ():
        if not isinstance(jwk, Mapping) or jwk.get("kty") != "RSA" or jwk.get("alg", "RS256") != "RS256" \
                or jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        try:
            n, e = (int.from_bytes(b64url_decode(jwk.get(name)), "big") for name in ("n", "e"))
        except InvalidToken:
            continue
        if isinstance(kid, str) and 0 < len(kid) <= MAX_KID_CHARS and RSA_BITS[0] <= n.bit_length() <= RSA_BITS[1] \
                and 3 <= e < n and e % 2:
            found.setdefault(kid, (n, e))
    return found


def fetch_jwks(url: str, timeout: float = JWKS_TIMEOUT_S) -> dict[str, Any]:
    """GET a JWKS: https (http only to loopback, for tests), no redirects, 64 KB at most. urllib loads lazily."""
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost")):
        raise ValueError("the JWKS URL must be https")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # a 3xx becomes an HTTPError

    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.build_opener(NoRedirect()).open(request, timeout=timeout) as response:
        if response.status != 200:
            raise ValueError(f"JWKS answered HTTP {response.status}")
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError("JWKS too large")
    return load_json_object(body)


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidToken("malformed")
    return float(value)


class TokenVerifier:
    """Verifies Cognito user pool ID tokens for one issuer (pool) and audience (app client id).

    ``jwks``: keys to start with. ``jwks_fetcher(url) -> JWKS`` (re)loads ``{issuer}/.well-known/jwks.json``;
    with neither, :func:`fetch_jwks`; with ``jwks`` alone the keys are fixed. ``clock`` times claims and cache.
    """

    def __init__(self, issuer: str, audience: str, *, jwks: Mapping[str, Any] | None = None,
                 jwks_fetcher: Callable[[str], Mapping[str, Any]] | None = None,
                 clock: Callable[[], float] = time.time, leeway_s: float = 60,
                 jwks_ttl_s: float = JWKS_TTL_S, min_refetch_s: float = MIN_REFETCH_S) -> None:
        if not (isinstance(issuer, str) and issuer and isinstance(audience, str) and audience) or leeway_s < 0:
            raise ValueError("TokenVerifier needs an issuer, an audience and a leeway of 0 or more")
        self.issuer, self.audience, self.leeway_s = issuer, audience, float(leeway_s)
        self.jwks_url = issuer.rstrip("/") + "/.well-known/jwks.json"
        self.jwks_ttl_s, self.min_refetch_s = float(jwks_ttl_s), float(min_refetch_s)
        self._clock = clock
        self._fetcher = fetch_jwks if jwks_fetcher is None and jwks is None else jwks_fetcher
        self._lock = threading.Lock()
        self._keys = parse_jwks(jwks) if jwks is not None else {}
        self._loaded_at: float | None = clock() if jwks is not None else None
        self._last_attempt: float | None = None
        self.fetches = 0  # JWKS fetch attempts

    def __repr__(self) -> str:
        return f"TokenVerifier(issuer={self.issuer!r}, audience={self.audience!r})"

    def _may_fetch(self, now: float) -> bool:
        return self._fetcher is not None and (
            self._last_attempt is None or now - self._last_attempt >= self.min_refetch_s)

    def _refresh(self, now: float) -> None:
        """One fetch attempt; whatever fails, the keys already held stay."""
        self._last_attempt = now
        self.fetches += 1
        try:
            keys = parse_jwks(self._fetcher(self.jwks_url))
        except Exception as exc:
            logger.warning("identity: JWKS fetch failed (%s)", type(exc).__name__)
            return
        if keys:
            self._keys, self._loaded_at = keys, now
        else:
            logger.warning("identity: JWKS has no usable RS256 key")

    def _key(self, kid: str) -> tuple[int, int]:
        with self._lock:
            now = self._clock()
            if (self._loaded_at is None or now - self._loaded_at >= self.jwks_ttl_s) and self._may_fetch(now):
                self._refresh(now)
            if kid not in self._keys and self._may_fetch(now):
                self._refresh(now)  # the pool may have rotated its keys
            if kid in self._keys:
                return self._keys[kid]
            raise InvalidToken("unknown key" if self._keys else "keys unavailable")

    def verify(self, token: str) -> VerifiedIdentity:
        """The identity ``token`` proves, or InvalidToken."""
        if not isinstance(token, str):
            raise InvalidToken("malformed")
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("too large")
        segments = token.split(".")
        if not token.isascii() or len(segments) != 3:
            raise InvalidToken("malformed")
        header_b64, payload_b64, signature_b64 = segments
        header = load_json_object(b64url_decode(header_b64))
        payload_raw, signature = b64url_decode(payload_b64), b64url_decode(signature_b64)
        if header.get("alg") != "RS256":
            raise InvalidToken("unsupported algorithm")
        kid = header.get("kid")
        if "crit" in header or not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_CHARS:
            raise InvalidToken("malformed")  # crit: no extension is understood here (RFC 7515, 4.1.11)
        n, e = self._key(kid)
        if not verify_rs256(n, e, f"{header_b64}.{payload_b64}".encode("ascii"), signature):
            raise InvalidToken("bad signature")

        claims = load_json_object(payload_raw)
        if claims.get("iss") != self.issuer:
            raise InvalidToken("wrong issuer")
        if claims.get("token_use") != "id":
            raise InvalidToken("not an id token")
        if claims.get("aud") != self.audience:  # a Cognito ID token's aud is the one client id
            raise InvalidToken("wrong audience")
        now = self._clock()
        exp, iat = _number(claims, "exp"), _number(claims, "iat")
        nbf = _number(claims, "nbf") if "nbf" in claims else iat
        if now >= exp + self.leeway_s:
            raise InvalidToken("expired")
        if max(iat, nbf) > now + self.leeway_s:
            raise InvalidToken("not yet valid")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("no subject")
        username, email = claims.get("cognito:username"), claims.get("email")
        return VerifiedIdentity(
            subject=subject,
            username=username if isinstance(username, str) and username else subject,
            email=email if isinstance(email, str) and email and claims.get("email_verified") in (True, "true") else None,
            claims=types.MappingProxyType(claims),
        )


_verifiers: dict[tuple[str, str], TokenVerifier] = {}
_verifiers_lock = threading.Lock()


def verifier_from_env(env: Mapping[str, str] = os.environ) -> TokenVerifier | None:
    """The verifier COGNITO_ISSUER and COGNITO_AUDIENCE configure (one per process, so its keys stay
    cached while warm), None when neither is set; ValueError naming the variable that is wrong."""
    issuer = (env.get("COGNITO_ISSUER") or "").strip()
    audience = (env.get("COGNITO_AUDIENCE") or "").strip()
    if not issuer and not audience:
        return None
    if not audience:
        raise ValueError("COGNITO_AUDIENCE (the app client id) must be set when COGNITO_ISSUER is")
    if not issuer.startswith("https://") or issuer.endswith("/") or any(c in issuer for c in "?# "):
        raise ValueError("COGNITO_ISSUER must be set to https://cognito-idp.<region>.amazonaws.com/<userPoolId> "
                         "(no trailing slash) when COGNITO_AUDIENCE is")
    with _verifiers_lock:
        if (issuer, audience) not in _verifiers:
            _verifiers[issuer, audience] = TokenVerifier(issuer, audience)
        return _verifiers[issuer, audience]


@dataclass(frozen=True)
class IdentityResult:
    """What :func:`identity_from_request` found; unpacks as ``identity, reason``, truthy when verified.

    identity set: verified. Both None: no token sent (anonymous). reason set: a token was sent and not
    accepted (one of ``REASONS``, safe to log; ``not configured`` when there is no verifier).
    """

    identity: VerifiedIdentity | None = None
    reason: str | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.identity, self.reason))

    def __bool__(self) -> bool:
        return self.identity is not None


def identity_from_request(request_attributes: Mapping[str, str] | None,
                          verifier: TokenVerifier | None) -> IdentityResult:
    """Verify the token in the Lex request attribute ``idToken`` (nothing else is read); never raises."""
    try:
        token = request_attributes.get(TOKEN_ATTRIBUTE) if isinstance(request_attributes, Mapping) else None
        if token is None or (isinstance(token, str) and not token.strip()):
            return IdentityResult()
        if verifier is None:
            return IdentityResult(reason="not configured")
        if not isinstance(token, str):
            return IdentityResult(reason="malformed")
        return IdentityResult(identity=verifier.verify(token.strip()))
    except InvalidToken as exc:
        return IdentityResult(reason=exc.reason)
    except Exception as exc:  # a bug here must not cost the customer the reply
        logger.warning("identity: verification failed unexpectedly (%s)", type(exc).__name__)
        return IdentityResult(reason="internal error")
