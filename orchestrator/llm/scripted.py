"""A scripted backend for tests: answers from a list, and records every prompt it was given."""
from __future__ import annotations

from typing import Callable, Iterable, Sequence, Union

from . import LLMError, LLMTimeout, stop_at

Reply = Union[str, BaseException, Callable[[str], str]]


class ScriptedLLM:
    """Replies in order; an exception instance is raised instead; a callable gets the prompt.

    ``ScriptedLLM(["order_inquiry", LLMTimeout("slow")])``. When the script runs out, the
    ``default`` reply is used (``None``: raise LLMError, so an unplanned call fails the test).
    """

    name = "scripted"

    def __init__(self, replies: Iterable[Reply] = (), default: Reply | None = None) -> None:
        self.replies = list(replies)
        self.default = default
        self.prompts: list[str] = []
        self.calls: list[dict[str, object]] = []

    def generate(
        self, prompt: str, *, system: str = "", max_tokens: int = 20, stop: Sequence[str] = (),
        timeout_s: float = 10.0,
    ) -> str:
        self.prompts.append(prompt)
        self.calls.append({"system": system, "max_tokens": max_tokens, "stop": list(stop), "timeout_s": timeout_s})
        reply = self.replies.pop(0) if self.replies else self.default
        if reply is None:
            raise LLMError("scripted backend has no reply left")
        if isinstance(reply, BaseException):
            raise reply
        text = reply(prompt) if callable(reply) else reply
        return stop_at(text, stop)


__all__ = ["ScriptedLLM", "LLMError", "LLMTimeout"]
