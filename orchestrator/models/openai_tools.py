"""Tool calling on any OpenAI-compatible chat server: vLLM, llama.cpp server, Ollama, LMI.

Standard library only (``http.client``), as the Lambda package carries no HTTP client. The request
and response conversion lives in ``wire_chat`` (SageMaker's Messages API speaks the same
format); this module adds the endpoint, the key and the bound on the whole call: connect waits
at most 2 s, each socket read at most what is left, and ``run_within`` cuts the call off at
``timeout_s`` whatever the server does.
"""
from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from typing import Any, Mapping, Sequence

from .. import wire
from ..budget import DeadlineExceeded, TooManyAbandonedCalls, run_within
from ..messages import Message
from . import Inference, ModelError, ModelResponse, ModelTimeout
from .wire_chat import chat_request, parse_chat_body, post_json


class OpenAIToolsModel:
    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str = "") -> None:
        if not base_url:
            raise ValueError("the openai model adapter needs a base URL (OPENAI_BASE_URL)")
        if not model:
            raise ValueError("the openai model adapter needs a model name (OPENAI_MODEL)")
        parts = urllib.parse.urlsplit(base_url.rstrip("/") + "/chat/completions")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"OPENAI_BASE_URL must be an http(s) URL, got {base_url!r}")
        self.url = urllib.parse.urlunsplit(parts)
        self.model = model
        self._api_key = api_key

    def build_request(self, messages: Sequence[Message], *, tools: Sequence[Mapping[str, Any]] = (),
                      tool_choice: Mapping[str, Any] | None = None, system: str = "",
                      inference: Inference = Inference()) -> dict[str, Any]:
        return chat_request(messages, tools=tools, tool_choice=tool_choice, system=system,
                            inference=inference, model=self.model)

    def converse(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Mapping[str, Any]] = (),
        tool_choice: Mapping[str, Any] | None = None,
        system: str = "",
        inference: Inference = Inference(),
        timeout_s: float = 10.0,
    ) -> ModelResponse:
        if timeout_s <= 0:
            raise ModelTimeout("no time left for the model call")
        request = self.build_request(messages, tools=tools, tool_choice=tool_choice, system=system,
                                     inference=inference)
        body = json.dumps(request).encode("utf-8")
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            status, raw = run_within(timeout_s, lambda: post_json(self.url, body, timeout_s=timeout_s, headers=headers),
                                     name="model call", target=f"openai:{self.url}")
        except (DeadlineExceeded, socket.timeout, TimeoutError) as exc:
            raise ModelTimeout(f"server did not answer in {timeout_s:.1f}s") from exc
        except TooManyAbandonedCalls as exc:
            raise ModelError(f"server not answering: {exc}") from exc
        except wire.WireError as exc:
            raise ModelError(f"server response unusable: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ModelError(f"server unreachable: {type(exc).__name__}") from exc
        if status != 200:
            raise ModelError(f"server answered HTTP {status}")
        return parse_chat_body(raw)


def from_settings(settings: Any) -> OpenAIToolsModel:
    return OpenAIToolsModel(getattr(settings, "openai_base_url", ""), getattr(settings, "openai_model", ""),
                            api_key=getattr(settings, "openai_api_key", ""))
