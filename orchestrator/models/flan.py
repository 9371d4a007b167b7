"""The blog's design on the loop: a text2text model (Flan-UL2 on its JumpStart endpoint, or any
text backend) picks the tool from a few-shot prompt rendered from the registry (or the blog's own
prompt, ``FEWSHOT_PROMPT_FILE``), and the regex id parser fills the call's input from the
customer's words. ``toolcall`` prompts a model fine-tuned on ``training-data`` instead.

The blog's output interpreter asked the model, after the tool answered, whether the answer fitted
the question; a small model said no to plain look-ups (0 of 32 on the held-out set). Here the
question is judged instead, before any call, by the coverage rule ("the impact of return rtn001 on
world peace" is still refused), and a look-up's sentence answers directly: one model call a turn.
"""
from __future__ import annotations

from typing import Any

from .embedded import PlannerModel


def from_settings(settings: Any) -> PlannerModel:
    from ..llm import build_backend
    from ..planners import build_planner
    from ..registry import DEFAULT_REGISTRY

    backend = settings.backend if settings.backend != "none" else "sagemaker"
    llm = build_backend(backend, settings)
    planner = settings.planner if settings.planner in ("fewshot", "toolcall") else "fewshot"
    return PlannerModel(build_planner(planner, settings, llm), DEFAULT_REGISTRY, name="flan")
