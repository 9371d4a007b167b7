"""Any OpenAI-compatible chat server: vLLM, llama.cpp server, Ollama, SageMaker LMI.

Standard library only (``http.client``): the Lambda package carries no HTTP client. The whole
call (connect, send, headers and every read of the body) is bounded by the time it was given:
each socket read waits at most what is left, the body is read in pieces with the clock checked
between them, and ``run_within`` cuts the call off at the end whatever the server does.
"""
from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
from typing import Any, Sequence

from .. import wire
from ..budget import DeadlineExceeded, TooManyAbandonedCalls, run_within
from . import LLMError, LLMTimeout, server_stops, stop_at

_CHUNK = 16 * 1024
CONNECT_TIMEOUT_S = 2.0


class OpenAICompatibleLLM:
    name = "openai"

    def __init__(self, base_url: str, model: str, *, api_key: str = "") -> None:
        if not base_url:
            raise ValueError("OpenAI-compatible backend needs a base URL (OPENAI_BASE_URL)")
        if not model:
            raise ValueError("OpenAI-compatible backend needs a model name (OPENAI_MODEL)")
        parts = urllib.parse.urlsplit(base_url.rstrip("/") + "/chat/completions")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"OPENAI_BASE_URL must be an http(s) URL, got {base_url!r}")
        self.url = urllib.parse.urlunsplit(parts)
        self._parts = parts
        self.model = model
        self._api_key = api_key

    def build_request(self, prompt: str, *, max_tokens: int, stop: Sequence[str], system: str = "") -> dict[str, Any]:
        messages = [{"role": "system", "content": system}] if system else []
        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages + [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0,
        }
        if server_stops(stop):
            request["stop"] = server_stops(stop)
        return request

    def _post(self, body: bytes, timeout_s: float) -> tuple[int, bytes]:
        """POST ``body``; (status, response body). Every blocking step waits at most what is left."""
        end = time.monotonic() + timeout_s

        def left() -> float:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("deadline")
            return remaining

        kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        # A connection that never completes gives up early, as botocore's does, leaving time to retry.
        connection = kind(self._parts.hostname, self._parts.port, timeout=min(CONNECT_TIMEOUT_S, left()))
        try:
            headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
            if self._api_key:
                headers["Authorization"] = f"Bearer {self._api_key}"
            path = (self._parts.path or "/") + (f"?{self._parts.query}" if self._parts.query else "")
            connection.request("POST", path, body=body, headers=headers)
            sock = connection.sock  # kept: the connection lets go of it once the response will close
            sock.settimeout(left())
            response = connection.getresponse()
            chunks, size = [], 0
            while True:
                sock.settimeout(left())
                chunk = response.read1(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > wire.MAX_MODEL_RESPONSE_BYTES:
                    raise wire.WireError(f"response larger than {wire.MAX_MODEL_RESPONSE_BYTES} bytes")
                chunks.append(chunk)
            return response.status, b"".join(chunks)
        finally:
            connection.close()

    def generate(
        self, prompt: str, *, system: str = "", max_tokens: int = 20, stop: Sequence[str] = (),
        timeout_s: float = 10.0,
    ) -> str:
        if timeout_s <= 0:
            raise LLMTimeout("no time left for the model call")
        body = json.dumps(self.build_request(prompt, max_tokens=max_tokens, stop=stop, system=system)).encode("utf-8")
        try:
            status, raw = run_within(timeout_s, lambda: self._post(body, timeout_s), name="model call",
                                     target=f"openai:{self._parts.netloc}")
        except (DeadlineExceeded, socket.timeout, TimeoutError) as exc:
            raise LLMTimeout(f"server did not answer in {timeout_s:.1f}s") from exc
        except TooManyAbandonedCalls as exc:
            raise LLMError(f"server not answering: {exc}") from exc
        except wire.WireError as exc:
            raise LLMError(f"server response unusable: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise LLMError(f"server unreachable: {type(exc).__name__}") from exc
        if status != 200:
            raise LLMError(f"server answered HTTP {status}")
        try:
            payload = wire.loads(raw, wire.MAX_MODEL_RESPONSE_BYTES)
        except wire.WireError as exc:
            raise LLMError(f"server response unusable: {exc}") from exc
        try:
            text = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError("server response has no choices[0].message.content") from exc
        if not isinstance(text, str):
            raise LLMError("server response content is not text")
        text = stop_at(text, stop).strip()
        if not text:
            raise LLMError("server returned empty text")
        return text


def from_settings(settings: Any) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(settings.openai_base_url, settings.openai_model, api_key=settings.openai_api_key)
