"""Tool calling on a SageMaker endpoint whose container speaks the OpenAI chat messages API
(LMI with vLLM, or TGI's Messages API), through ``sagemaker-runtime`` ``invoke_endpoint``.

The body is the same chat request the openai adapter sends, without ``model`` (the endpoint
serves one), and the answer is parsed the same way (``wire_chat``). botocore's retries are off
and its read timeout bounds each read; ``run_within`` bounds the whole call.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Mapping, Sequence

from .. import aws, wire
from ..budget import DeadlineExceeded, TooManyAbandonedCalls, run_within
from ..messages import Message
from . import Inference, ModelError, ModelResponse, ModelTimeout
from .wire_chat import chat_request, parse_chat_body


class SageMakerMessagesModel:
    name = "sagemaker-messages"

    def __init__(self, endpoint_name: str, region: str | None = None,
                 client_factory: Callable[[float], Any] | None = None) -> None:
        if not endpoint_name:
            raise ValueError("the sagemaker-messages model adapter needs an endpoint name (SAGEMAKER_ENDPOINT_NAME)")
        self.endpoint_name = endpoint_name
        self.region = region
        # Clients are cached per whole second of timeout: each call gets what is left of the turn.
        self._client_for = client_factory or (lambda t: aws.client("sagemaker-runtime", t, self.region))

    def build_request(self, messages: Sequence[Message], *, tools: Sequence[Mapping[str, Any]] = (),
                      tool_choice: Mapping[str, Any] | None = None, system: str = "",
                      inference: Inference = Inference()) -> dict[str, Any]:
        return chat_request(messages, tools=tools, tool_choice=tool_choice, system=system, inference=inference)

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
        from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

        if timeout_s <= 0:
            raise ModelTimeout("no time left for the model call")
        body = json.dumps(self.build_request(messages, tools=tools, tool_choice=tool_choice, system=system,
                                             inference=inference)).encode("utf-8")

        end = time.monotonic() + timeout_s

        def invoke() -> bytes:
            response = self._client_for(timeout_s).invoke_endpoint(
                EndpointName=self.endpoint_name, ContentType="application/json", Accept="application/json", Body=body)
            return wire.read_capped(response["Body"], wire.MAX_MODEL_RESPONSE_BYTES, end)

        try:
            raw = run_within(timeout_s, invoke, name="model call", target=f"sagemaker:{self.endpoint_name}")
        except (DeadlineExceeded, ReadTimeoutError, ConnectTimeoutError) as exc:
            raise ModelTimeout(f"endpoint did not answer in {timeout_s:.1f}s") from exc
        except TooManyAbandonedCalls as exc:
            raise ModelError(f"endpoint not answering: {exc}") from exc
        except ClientError as exc:
            raise ModelError(f"endpoint error {aws.error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise ModelError(f"endpoint call failed: {type(exc).__name__}") from exc
        except wire.WireError as exc:
            raise ModelError(f"endpoint response unusable: {exc}") from exc
        except OSError as exc:
            raise ModelError(f"endpoint call failed: {type(exc).__name__}") from exc
        return parse_chat_body(raw)


def from_settings(settings: Any) -> SageMakerMessagesModel:
    return SageMakerMessagesModel(getattr(settings, "sagemaker_endpoint_name", ""),
                                  region=getattr(settings, "aws_region", "") or None)
