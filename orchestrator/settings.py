"""Settings from the environment (Lambda) with overrides from CLI flags (laptop).

| variable | default | meaning |
|---|---|---|
| MODEL_ADAPTER | (from AGENT_PLANNER) | embedded (the router, no LLM), flan (the blog's text2text design: AGENT_PLANNER fewshot or toolcall over LLM_BACKEND), bedrock (Converse API), openai (any OpenAI-compatible chat server with tools), sagemaker-messages (an endpoint speaking that messages API) |
| BEDROCK_MODEL_ID | | the Bedrock model for MODEL_ADAPTER=bedrock, e.g. us.amazon.nova-lite-v1:0 |
| AGENT_PLANNER | router | router (embedded, no LLM), fewshot (LLM names the tool) or toolcall (LLM answers JSON tool calls) |
| LLM_BACKEND | none | none, sagemaker or openai; with a backend the interpreter uses it too |
| TOOL_TRANSPORT | inprocess | inprocess (call tools/ here) or lambda (invoke the tool functions) |
| MAX_STEPS | 2 | planner rounds per turn |
| ROUTER_FLOOR | 0.35 | the router's similarity floor for calling a tool |
| FEWSHOT_PROMPT_FILE | | a prompt template for the fewshot planner, with `{question}` where the question goes (default: rendered from the registry) |
| SAGEMAKER_ENDPOINT_NAME | | the Flan-UL2 endpoint |
| SAGEMAKER_PAYLOAD_FORMAT | jumpstart | jumpstart (text_inputs) or tgi (inputs/parameters) |
| OPENAI_BASE_URL, OPENAI_MODEL, OPENAI_API_KEY | | an OpenAI-compatible chat server |
| ANONYMOUS_LOOKUPS | true | false: a customer who has not been identified (signed in, or two account details) gets no order or return look-ups |
| ORDERS_FUNCTION_NAME, RETURNS_FUNCTION_NAME, CUSTOMERS_FUNCTION_NAME, CANCEL_ORDER_FUNCTION_NAME | | tool Lambdas (lambda transport) |
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Mapping


MODEL_ADAPTERS = ("embedded", "flan", "bedrock", "openai", "sagemaker-messages")
# Instructions for models that call tools natively (Bedrock, OpenAI-compatible servers). As the
# Amazon Nova guidance says: say what the model is for and how to use the tools; never ask it to
# skip its <thinking>. It no longer asks for the answer inside <reply></reply> (a <reply> section is
# still read when a model writes one): on a probe of the held-out look-ups that sentence made the
# 1.5B model answer in prose, calling a tool 2 times in 32 with it and 14 without.
TOOL_MODEL_SYSTEM_PROMPT = (
    "You are the customer support assistant of an online store. Use the tools to answer questions about "
    "the customer's orders and returns. Call a tool only with an id the customer gave you in this "
    "conversation or one a tool returned; if an id is missing, ask the customer for it in one short "
    "question. When the customer gives an email address, phone number or username, call get_user once "
    "for each. To list or cancel their orders, just call the tool: the system checks who the customer "
    "is and asks them to confirm a cancellation. Answer from the tool results only, in one or two short "
    "sentences. Politely decline anything that is not about the customer's orders or returns."
)


class SettingsError(ValueError):
    """A setting has a value the agent cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    model: str = ""
    bedrock_model_id: str = ""
    planner: str = "router"
    backend: str = "none"
    transport: str = "inprocess"
    max_steps: int = 2
    router_floor: float = 0.35
    fewshot_prompt_file: str = ""
    sagemaker_endpoint_name: str = ""
    sagemaker_payload_format: str = "jumpstart"
    openai_base_url: str = ""
    openai_model: str = ""
    openai_api_key: str = dataclasses.field(default="", repr=False)
    aws_region: str = ""
    anonymous_lookups: str = "true"

    _ENV = {
        "model": "MODEL_ADAPTER",
        "bedrock_model_id": "BEDROCK_MODEL_ID",
        "planner": "AGENT_PLANNER",
        "backend": "LLM_BACKEND",
        "transport": "TOOL_TRANSPORT",
        "max_steps": "MAX_STEPS",
        "router_floor": "ROUTER_FLOOR",
        "fewshot_prompt_file": "FEWSHOT_PROMPT_FILE",
        "sagemaker_endpoint_name": "SAGEMAKER_ENDPOINT_NAME",
        "sagemaker_payload_format": "SAGEMAKER_PAYLOAD_FORMAT",
        "openai_base_url": "OPENAI_BASE_URL",
        "openai_model": "OPENAI_MODEL",
        "openai_api_key": "OPENAI_API_KEY",
        "aws_region": "AWS_REGION",
        "anonymous_lookups": "ANONYMOUS_LOOKUPS",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            if field.name.startswith("_"):
                continue
            raw = env.get(cls._ENV[field.name], "")
            if raw != "":
                values[field.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.coerce(values)

    @classmethod
    def coerce(cls, values: Mapping[str, Any]) -> "Settings":
        out: dict[str, Any] = {}
        for name, value in values.items():
            env_name = cls._ENV.get(name, name)
            kind = type(getattr(cls, name))
            try:
                out[name] = kind(value.strip() if isinstance(value, str) else value)
            except (TypeError, ValueError):
                raise SettingsError(f"{env_name} must be a {kind.__name__}, got {value!r}") from None
        settings = cls(**out)
        settings.check()
        return settings

    def check(self) -> None:
        if self.max_steps < 1 or self.max_steps > 5:
            raise SettingsError(f"MAX_STEPS must be between 1 and 5, got {self.max_steps}")
        if not 0.0 <= self.router_floor <= 1.0:
            raise SettingsError(f"ROUTER_FLOOR must be between 0 and 1, got {self.router_floor}")
        if self.planner in ("fewshot", "toolcall") and self.backend == "none" and self.model in ("", "flan"):
            raise SettingsError(f"the {self.planner} planner needs an LLM: set LLM_BACKEND to sagemaker or openai")
        if self.anonymous_lookups.lower() not in ("true", "false"):
            raise SettingsError(f"ANONYMOUS_LOOKUPS must be true or false, got {self.anonymous_lookups!r}")
        if self.model and self.model not in MODEL_ADAPTERS:
            raise SettingsError(f"MODEL_ADAPTER must be one of {', '.join(MODEL_ADAPTERS)}, got {self.model!r}")

    @property
    def model_adapter(self) -> str:
        """The adapter to build: MODEL_ADAPTER, else what AGENT_PLANNER implies (router: embedded)."""
        if self.model:
            return self.model
        return "embedded" if self.planner == "router" else "flan"

    @property
    def allows_anonymous_lookups(self) -> bool:
        return self.anonymous_lookups.lower() == "true"

    def replace(self, **changes: Any) -> "Settings":
        return self.coerce({**dataclasses.asdict(self), **{k: v for k, v in changes.items() if v is not None}})


def build_agent(settings: Settings, **agent_options: Any) -> Any:
    """An ``Agent`` wired as ``settings`` say (imports only the parts it uses)."""
    from .agent import Agent
    from .dispatcher import build_transport
    from .models import build_model
    from .registry import DEFAULT_REGISTRY

    registry = agent_options.pop("registry", DEFAULT_REGISTRY)
    adapter = settings.model_adapter
    model = build_model(adapter, settings)
    if hasattr(model, "with_registry") and registry is not DEFAULT_REGISTRY:
        model = model.with_registry(registry)
    native = adapter not in ("embedded", "flan")
    return Agent(
        registry,
        model,
        build_transport(settings.transport),
        max_steps=settings.max_steps,
        anonymous_lookups=settings.allows_anonymous_lookups,
        system=agent_options.pop("system", TOOL_MODEL_SYSTEM_PROMPT if native else ""),
        **agent_options,
    )
