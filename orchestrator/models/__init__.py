"""Model adapters behind one protocol: Converse-shaped messages and tool specs in, an assistant
message and a stop reason out.

``converse(messages, tools=, tool_choice=, system=, inference=, timeout_s=)`` takes the history
(``orchestrator.messages``), the tools as Converse ``toolSpec`` entries, a Converse ``toolChoice``
(``{"auto": {}}``, ``{"any": {}}`` or ``{"tool": {"name": ...}}``), system instructions and
inference settings, and answers a ``ModelResponse`` within ``timeout_s`` or raises ``ModelError``
(``ModelTimeout`` when time ran out). Built-in adapters are registered the same way a plug-in is
(``register_model``) and imported only when chosen, so the Lambda's cold start pays for one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence

from ..messages import STOP_END_TURN, Message
from ..plugins import resolve

AUTO: dict[str, Any] = {"auto": {}}
ANY: dict[str, Any] = {"any": {}}


def choose_tool(name: str) -> dict[str, Any]:
    """``toolChoice`` that forces one named tool."""
    return {"tool": {"name": name}}


def forced_tool(tool_choice: Mapping[str, Any] | None) -> str | None:
    """The tool a ``toolChoice`` forces, if it forces one by name."""
    tool = (tool_choice or {}).get("tool")
    return tool.get("name") if isinstance(tool, Mapping) and isinstance(tool.get("name"), str) else None


def requires_tool(tool_choice: Mapping[str, Any] | None) -> bool:
    """Whether the reply must hold a tool call (``any`` or ``tool``)."""
    return bool(tool_choice) and ("any" in tool_choice or forced_tool(tool_choice) is not None)


class ModelError(Exception):
    """The model could not answer: the service failed, refused, or returned nonsense."""


class ModelTimeout(ModelError):
    """The model did not answer within the time it was given."""


@dataclass(frozen=True)
class Inference:
    """Inference settings. Greedy by default, as the Amazon Nova tool-calling guidance recommends
    (temperature 1 with top-p 1 and top-k 1 is greedy; adapters for other servers send temperature 0)."""

    max_tokens: int = 512
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 1
    stop: tuple[str, ...] = ()


@dataclass
class ModelResponse:
    message: Message  # role "assistant"
    stop_reason: str = STOP_END_TURN
    raw_text: str | None = None  # what the model wrote, when it wrote text (never logged at INFO)
    reason: str = ""  # what an agent-side model knows of its choice: greeting, out_of_scope, missing_id, ...
    model_calls: int = 1  # LLM calls it took (the embedded router takes none)


class Model(Protocol):
    name: str

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
        """The next assistant message. Raises ModelTimeout or ModelError."""


# name -> "module:factory"; a factory takes the Settings and returns a Model.
_MODELS: dict[str, str | Callable[[Any], Model]] = {
    "embedded": "orchestrator.models.embedded:from_settings",
    "flan": "orchestrator.models.flan:from_settings",
    "bedrock": "orchestrator.models.bedrock:from_settings",
    "openai": "orchestrator.models.openai_tools:from_settings",
    "sagemaker-messages": "orchestrator.models.sagemaker_messages:from_settings",
}


def register_model(name: str, factory: str | Callable[[Any], Model]) -> None:
    """Make ``--model-adapter NAME`` build a model with ``factory(settings)``."""
    _MODELS[name] = factory


def model_names() -> list[str]:
    return sorted(_MODELS)


def build_model(name: str, settings: Any) -> Model:
    try:
        factory = _MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model adapter {name!r}; choose one of {', '.join(model_names())}") from None
    return resolve(factory)(settings)
