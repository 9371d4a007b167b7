"""SageMaker JumpStart text2text (Flan-UL2) through ``sagemaker-runtime`` ``invoke_endpoint``.

Two payload formats, because JumpStart changed its container between major model versions:

* ``jumpstart`` (the pinned Flan-UL2 version): ``{"text_inputs", "max_length", "do_sample"}`` in,
  ``{"generated_texts": [...]}`` out.
* ``tgi`` (newer, Text Generation Inference): ``{"inputs", "parameters": {...}}`` in,
  ``[{"generated_text": ...}]`` out.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Sequence

from .. import aws, wire
from ..budget import DeadlineExceeded, TooManyAbandonedCalls, run_within
from . import LLMError, LLMTimeout, server_stops, stop_at, with_system

PAYLOAD_FORMATS = ("jumpstart", "tgi")


def build_request(prompt: str, *, max_tokens: int, stop: Sequence[str], payload_format: str) -> dict[str, Any]:
    if payload_format == "jumpstart":
        return {"text_inputs": prompt, "max_length": max_tokens, "do_sample": False}
    if payload_format == "tgi":
        parameters: dict[str, Any] = {"max_new_tokens": max_tokens, "do_sample": False}
        if server_stops(stop):
            parameters["stop"] = server_stops(stop)
        return {"inputs": prompt, "parameters": parameters}
    raise ValueError(f"payload format must be one of {PAYLOAD_FORMATS}, not {payload_format!r}")


def parse_response(body: Any) -> str:
    """The generated text from either format's response body."""
    if isinstance(body, dict):
        texts = body.get("generated_texts")
        if isinstance(texts, list) and texts and isinstance(texts[0], str):
            return texts[0]
        if isinstance(body.get("generated_text"), str):
            return body["generated_text"]
    if isinstance(body, list) and body and isinstance(body[0], dict):
        if isinstance(body[0].get("generated_text"), str):
            return body[0]["generated_text"]
    raise LLMError("endpoint response has no generated text")


class SageMakerLLM:
    name = "sagemaker"

    def __init__(
        self,
        endpoint_name: str,
        *,
        payload_format: str = "jumpstart",
        region: str | None = None,
        client_factory: Callable[[float], Any] | None = None,
    ) -> None:
        if not endpoint_name:
            raise ValueError("SageMaker backend needs an endpoint name (SAGEMAKER_ENDPOINT_NAME)")
        if payload_format not in PAYLOAD_FORMATS:
            raise ValueError(f"payload format must be one of {PAYLOAD_FORMATS}, not {payload_format!r}")
        self.endpoint_name = endpoint_name
        self.payload_format = payload_format
        self.region = region
        # Clients are cached per whole second of timeout: each call gets what is left of the turn.
        self._client_for = client_factory or (lambda t: aws.client("sagemaker-runtime", t, self.region))

    def generate(
        self, prompt: str, *, system: str = "", max_tokens: int = 20, stop: Sequence[str] = (),
        timeout_s: float = 10.0,
    ) -> str:
        from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

        if timeout_s <= 0:
            raise LLMTimeout("no time left for the model call")
        request = build_request(with_system(prompt, system), max_tokens=max_tokens, stop=stop,
                                payload_format=self.payload_format)
        end = time.monotonic() + timeout_s

        def invoke() -> bytes:
            response = self._client_for(timeout_s).invoke_endpoint(
                EndpointName=self.endpoint_name,
                ContentType="application/json",
                Accept="application/json",
                Body=json.dumps(request).encode("utf-8"),
            )
            return wire.read_capped(response["Body"], wire.MAX_MODEL_RESPONSE_BYTES, end)

        try:
            # The read timeout bounds each socket read; run_within bounds the whole call.
            raw = run_within(timeout_s, invoke, name="model call", target=f"sagemaker:{self.endpoint_name}")
        except (DeadlineExceeded, ReadTimeoutError, ConnectTimeoutError) as exc:
            raise LLMTimeout(f"endpoint did not answer in {timeout_s:.1f}s") from exc
        except TooManyAbandonedCalls as exc:
            raise LLMError(f"endpoint not answering: {exc}") from exc
        except ClientError as exc:
            raise LLMError(f"endpoint error {aws.error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise LLMError(f"endpoint call failed: {type(exc).__name__}") from exc
        except wire.WireError as exc:
            raise LLMError(f"endpoint response unusable: {exc}") from exc
        except OSError as exc:
            raise LLMError(f"endpoint call failed: {type(exc).__name__}") from exc
        try:
            body = wire.loads(raw, wire.MAX_MODEL_RESPONSE_BYTES)
        except wire.WireError as exc:
            raise LLMError(f"endpoint response unusable: {exc}") from exc
        text = stop_at(parse_response(body), stop).strip()
        if not text:
            raise LLMError("endpoint returned empty text")
        return text


def from_settings(settings: Any) -> SageMakerLLM:
    return SageMakerLLM(
        settings.sagemaker_endpoint_name,
        payload_format=settings.sagemaker_payload_format,
        region=settings.aws_region or None,
    )
