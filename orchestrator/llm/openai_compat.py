"""Any OpenAI-compatible chat server: vLLM, llama.cpp server, Ollama, SageMaker LMI.

Standard library only (urllib): the Lambda package carries no HTTP client.
"""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any, Sequence

from . import LLMError, LLMTimeout, server_stops, stop_at


class OpenAICompatibleLLM:
    name = "openai"

    def __init__(self, base_url: str, model: str, *, api_key: str = "") -> None:
        if not base_url:
            raise ValueError("OpenAI-compatible backend needs a base URL (OPENAI_BASE_URL)")
        if not model:
            raise ValueError("OpenAI-compatible backend needs a model name (OPENAI_MODEL)")
        self.url = base_url.rstrip("/") + "/chat/completions"
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

    def generate(
        self, prompt: str, *, system: str = "", max_tokens: int = 20, stop: Sequence[str] = (),
        timeout_s: float = 10.0,
    ) -> str:
        if timeout_s <= 0:
            raise LLMTimeout("no time left for the model call")
        body = json.dumps(self.build_request(prompt, max_tokens=max_tokens, stop=stop, system=system)).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                payload = json.loads(response.read())
        except (socket.timeout, TimeoutError) as exc:
            raise LLMTimeout(f"server did not answer in {timeout_s:.1f}s") from exc
        except urllib.error.HTTPError as exc:
            raise LLMError(f"server answered HTTP {exc.code}") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (socket.timeout, TimeoutError)):
                raise LLMTimeout(f"server did not answer in {timeout_s:.1f}s") from exc
            raise LLMError(f"server unreachable: {exc.reason}") from exc
        except ValueError as exc:
            raise LLMError("server response is not JSON") from exc
        try:
            text = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError("server response has no choices[0].message.content") from exc
        if not isinstance(text, str):
            raise LLMError("server response content is not text")
        return stop_at(text, stop).strip()


def from_settings(settings: Any) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(settings.openai_base_url, settings.openai_model, api_key=settings.openai_api_key)
