"""Tool calling on Amazon Bedrock through the Converse API: our messages and tool specs are already
Converse-shaped, so this adapter mostly passes them through.

Following the Amazon Nova tool-use guidance
(https://docs.aws.amazon.com/nova/latest/userguide/tool-use.html and its troubleshooting page):

* Greedy decoding: Nova calls tools correctly more often with top-k 1, which Converse does not
  carry, so it goes in ``additionalModelRequestFields`` (``{"inferenceConfig": {"topK": 1}}`` for
  Nova, ``{"top_k": 1}`` for Anthropic; other families get none).
* A system prompt with the model's instructions: when to call which tool, and what to say otherwise.
* ``toolChoice`` for control: ``any`` or ``tool`` when a call is required, rather than pleading in
  the prompt.
* Nova reasons in ``<thinking>`` tags before it calls a tool. Never ask it to drop them (calls get
  worse); the agent discards that text instead.
* A tool's top-level input schema should be a plain object (``type``, ``properties``,
  ``required``): Nova ignores or rejects ``$schema``, ``title`` or ``additionalProperties`` there.

boto3 is imported on first use, botocore's retries are off and its read timeout bounds each read;
``run_within`` bounds the whole call.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from .. import aws
from ..budget import DeadlineExceeded, TooManyAbandonedCalls, run_within
from ..llm import server_stops
from ..messages import Message, text_of
from . import Inference, ModelError, ModelResponse, ModelTimeout


def greedy_fields(model_id: str, top_k: int) -> dict[str, Any] | None:
    """Top-k in the shape the model family reads it from ``additionalModelRequestFields``."""
    family = model_id.lower()
    if not top_k:
        return None
    if "nova" in family:
        return {"inferenceConfig": {"topK": top_k}}
    if "anthropic" in family:
        return {"top_k": top_k}
    return None


class BedrockModel:
    name = "bedrock"

    def __init__(self, model_id: str, region: str | None = None,
                 client_factory: Callable[[float], Any] | None = None) -> None:
        if not model_id:
            raise ValueError("the bedrock model adapter needs a model id (BEDROCK_MODEL_ID)")
        self.model_id = model_id
        self.region = region
        # Clients are cached per whole second of timeout: each call gets what is left of the turn.
        self._client_for = client_factory or (lambda t: aws.client("bedrock-runtime", t, self.region))

    def build_request(self, messages: Sequence[Message], *, tools: Sequence[Mapping[str, Any]] = (),
                      tool_choice: Mapping[str, Any] | None = None, system: str = "",
                      inference: Inference = Inference()) -> dict[str, Any]:
        """The keyword arguments of ``converse``."""
        request: dict[str, Any] = {"modelId": self.model_id, "messages": list(messages)}
        if system:
            request["system"] = [{"text": system}]
        if tools:
            request["toolConfig"] = {"tools": list(tools)}
            if tool_choice:
                request["toolConfig"]["toolChoice"] = dict(tool_choice)
        config: dict[str, Any] = {"maxTokens": inference.max_tokens, "temperature": inference.temperature,
                                  "topP": inference.top_p}
        if server_stops(inference.stop):  # whitespace-only ones would end a reply before it starts
            config["stopSequences"] = server_stops(inference.stop)
        request["inferenceConfig"] = config
        extra = greedy_fields(self.model_id, inference.top_k)
        if extra:
            request["additionalModelRequestFields"] = extra
        return request

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
        request = self.build_request(messages, tools=tools, tool_choice=tool_choice, system=system,
                                     inference=inference)
        try:
            response = run_within(timeout_s, lambda: self._client_for(timeout_s).converse(**request),
                                  name="model call", target=f"bedrock:{self.model_id}")
        except (DeadlineExceeded, ReadTimeoutError, ConnectTimeoutError) as exc:
            raise ModelTimeout(f"bedrock did not answer in {timeout_s:.1f}s") from exc
        except TooManyAbandonedCalls as exc:
            raise ModelError(f"bedrock not answering: {exc}") from exc
        except ClientError as exc:  # ThrottlingException, ModelErrorException, ValidationException, ...
            raise ModelError(f"bedrock error {aws.error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise ModelError(f"bedrock call failed: {type(exc).__name__}") from exc
        except OSError as exc:
            raise ModelError(f"bedrock call failed: {type(exc).__name__}") from exc
        message = (response.get("output") or {}).get("message") if isinstance(response, Mapping) else None
        if not isinstance(message, Mapping) or not isinstance(message.get("content"), list):
            raise ModelError("bedrock response has no output.message")
        return ModelResponse(message=dict(message), stop_reason=response.get("stopReason") or "end_turn",
                             raw_text=text_of(message) or None)


def from_settings(settings: Any) -> BedrockModel:
    return BedrockModel(getattr(settings, "bedrock_model_id", ""), region=getattr(settings, "aws_region", "") or None)
