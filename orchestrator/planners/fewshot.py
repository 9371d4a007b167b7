"""The blog's planner: a few-shot prompt, rendered from the registry, asks an LLM for a tool name.

Only an exact registered name (or ``no_tool``) counts; anything else the model says is no tool,
recorded as ``invalid_tool``, so a model can never make the agent call something unregistered.
"""
from __future__ import annotations

import re
from typing import Any

from ..budget import Deadline
from ..llm import LLM, LLMError, LLMTimeout
from ..registry import NO_TOOL, Registry
from ..replies import no_tool_reply
from ..turn import Plan

EXAMPLES_PER_TOOL = 3
NO_TOOL_EXAMPLES = 3
MAX_TOKENS = 10
STOP = ("\n",)


def render_prompt(text: str, registry: Registry) -> str:
    """The planner prompt: tool list and examples from the registry, then the question."""
    lines = [
        "You are a customer support assistant for an online store.",
        "Choose the tool that can answer the customer's question. Answer with the tool name only.",
        "",
        "Tools:",
    ]
    lines += [f"{tool.name}: {tool.description}" for tool in registry]
    lines += [f"{NO_TOOL}: none of the tools above answers the question.", ""]
    for tool in registry:
        with_ids = [e for e in tool.examples if e.arguments][:EXAMPLES_PER_TOOL]
        for example in with_ids:
            lines += [f"Question: {example.utterance}", f"Tool: {tool.name}", ""]
    for utterance in registry.out_of_scope[:NO_TOOL_EXAMPLES] + registry.unserved[:1] + registry.greetings[:1]:
        lines += [f"Question: {utterance}", f"Tool: {NO_TOOL}", ""]
    lines += [f"Question: {text.strip()}", "Tool:"]
    return "\n".join(lines)


QUESTION_SLOT = "{question}"
POSITIONAL_SLOT = "{}"


def template_renderer(template: str):
    """A renderer for a fixed prompt (the blog's, say): ``{question}`` marks where the question goes,
    or a single ``{}``, as the blog's own template has it (it fills the prompt with ``str.format``).

    The template's own tool list is what the model sees; the registry only checks the answer.
    """
    slot = QUESTION_SLOT if QUESTION_SLOT in template else POSITIONAL_SLOT
    if template.count(slot) != 1:
        raise ValueError(f"a prompt template needs {QUESTION_SLOT} (or the blog's {POSITIONAL_SLOT}) exactly once, "
                         f"found it {template.count(slot)} times")

    def render(text: str, registry: Registry) -> str:
        return template.replace(slot, text.strip())

    return render


_NOISE = re.compile(r"^[\s\"'`*.:]*(?:tool\s*:)?[\s\"'`*]*|[\s\"'`*.,!]*$", re.IGNORECASE)


def parse_tool_name(output: str, registry: Registry) -> str | None:
    """The registered tool (or ``no_tool``) the model named, or None when it named neither."""
    first_line = (output or "")[:400].strip().splitlines()[0] if (output or "")[:400].strip() else ""
    name = _NOISE.sub("", first_line).strip().lower()
    if name == NO_TOOL or registry.get(name) is not None:
        return name
    return None


class FewShotPlanner:
    name = "fewshot"

    def __init__(self, llm: LLM, *, prompt_renderer=render_prompt) -> None:
        self.llm = llm
        self.render = prompt_renderer

    def plan(self, text: str, registry: Registry, deadline: Deadline) -> Plan:
        prompt = self.render(text, registry)
        try:
            output = self.llm.generate(prompt, max_tokens=MAX_TOKENS, stop=STOP, timeout_s=deadline.remaining())
        except LLMTimeout as exc:
            return Plan(None, reason="model_timeout", error=f"timeout: {exc}", model_calls=1)
        except LLMError as exc:
            return Plan(None, reason="model_error", error=f"model_error: {exc}", model_calls=1)
        name = parse_tool_name(output, registry)
        if name is None:
            return Plan(None, reason="invalid_tool", model_output=output, model_calls=1)
        if name == NO_TOOL:
            reason, _ = no_tool_reply(text)
            return Plan(None, reason=reason, model_output=output, model_calls=1)
        return Plan(name, model_output=output, model_calls=1)


def from_settings(settings: Any, llm: LLM | None) -> FewShotPlanner:
    if llm is None:
        raise ValueError("the fewshot planner needs an LLM backend (--backend sagemaker|openai)")
    path = getattr(settings, "fewshot_prompt_file", "")
    if not path:
        return FewShotPlanner(llm)
    try:
        with open(path, encoding="utf-8") as handle:
            template = handle.read()
        # A text file's one final newline ends the file, not the prompt: the prompt is what precedes it.
        template = template[:-1] if template.endswith("\n") else template
    except OSError as exc:
        raise ValueError(f"cannot read FEWSHOT_PROMPT_FILE {path}: {exc.strerror}") from None
    return FewShotPlanner(llm, prompt_renderer=template_renderer(template))
