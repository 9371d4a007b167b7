"""LLM backends behind one small protocol: text in, text out, greedy.

Built-in backends are registered the same way a plug-in would be (``register_backend``), and
are imported only when chosen, so the Lambda cold start never pays for a backend it does not use.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence


from ..plugins import resolve


class LLMError(Exception):
    """The model could not answer: the endpoint failed, refused or returned nonsense."""


class LLMTimeout(LLMError):
    """The model did not answer within the time it was given."""


class LLM(Protocol):
    name: str

    def generate(
        self, prompt: str, *, system: str = "", max_tokens: int = 20, stop: Sequence[str] = (),
        timeout_s: float = 10.0,
    ) -> str:
        """Greedy completion of ``prompt`` (the user's turn, after ``system`` instructions if any).
        Raises LLMTimeout or LLMError."""


# name -> "module:factory"; a factory takes the Settings and returns an LLM.
_BACKENDS: dict[str, str] = {
    "sagemaker": "orchestrator.llm.sagemaker:from_settings",
    "openai": "orchestrator.llm.openai_compat:from_settings",
}


def register_backend(name: str, factory: str | Callable[[Any], LLM]) -> None:
    """Make ``--backend NAME`` build an LLM with ``factory(settings)``."""
    _BACKENDS[name] = factory  # type: ignore[assignment]


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


def build_backend(name: str, settings: Any) -> LLM:
    try:
        factory = _BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown LLM backend {name!r}; choose one of {', '.join(backend_names())}") from None
    return resolve(factory)(settings)


def with_system(prompt: str, system: str) -> str:
    """One text for models without roles (text2text endpoints): the instructions, then the turn."""
    return f"{system}\n\n{prompt}" if system else prompt


def server_stops(stop: Sequence[str]) -> list[str]:
    """The stop sequences worth sending to a server: not whitespace-only ones, which would end a
    reply that starts with a blank line ("\n\norder_inquiry") before it says anything."""
    return [s for s in stop if s.strip()]


# The planners ask for at most 120 tokens: text much longer than this is a fault, and is cut
# before any parser or regex reads it.
MAX_MODEL_TEXT_CHARS = 4096


def stop_at(text: str, stop: Sequence[str]) -> str:
    """Cut ``text`` at the first stop sequence after any leading whitespace (the client-side half
    of ``server_stops``, and for servers that ignore ``stop``), and at ``MAX_MODEL_TEXT_CHARS``."""
    text = text.lstrip()[:MAX_MODEL_TEXT_CHARS]
    cut = len(text)
    for s in stop:
        if s and (i := text.find(s)) != -1:
            cut = min(cut, i)
    return text[:cut]
