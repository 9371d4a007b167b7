"""The tool-call reward as a Lambda, for reinforcement fine-tuning jobs on SageMaker AI / Bedrock.

The training job generates a reply for each training line, appends it to the line's messages as
the assistant turn, adds an ``id``, and calls this function with a batch of such samples::

    [{"id": "123",
      "messages": [{"role": "system", ...}, {"role": "user", ...}, {"role": "assistant", "content": <reply>}],
      "reference_answer": {"ground_truth": "...", "behavior": "execute"}}]

``reference_answer`` (top-level, or under ``metadata`` as some recipes put it) may also be the
ground-truth string itself, and the RLVR line's own ``reward_model`` is read too, so the JSONL that ``python -m orchestrator training-data`` writes works
as it is. The answer is one score per sample::

    [{"id": "123", "aggregate_reward_score": 1.0,
      "metrics_list": [{"name": "tool_call_reward", "value": 1.0, "type": "Reward"},
                       {"name": "behavior_match", "value": 1.0, "type": "Metric"}]}]

A sample this function cannot read scores 0 with an ``unreadable`` metric, so one bad line never
fails a training step; the reason is logged without the sample's text.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from .evaluate import ACTION_BEHAVIOR, parse_case, record_from_response, reward
from .registry import DEFAULT_REGISTRY, Registry

logger = logging.getLogger("orchestrator.reward")


def _reference(sample: Mapping[str, Any]) -> dict[str, Any]:
    metadata = sample.get("metadata") if isinstance(sample.get("metadata"), Mapping) else {}
    reference = sample.get("reference_answer", metadata.get("reference_answer", sample.get("reward_model")))
    if isinstance(reference, str):
        return {"ground_truth": reference}
    if isinstance(reference, Mapping):
        return dict(reference)
    raise ValueError("the sample needs reference_answer (or reward_model) with the ground truth")


def score(sample: Any, registry: Registry = DEFAULT_REGISTRY) -> dict[str, Any]:
    """One sample's reward in the job's answer format; never raises."""
    sample_id = sample.get("id") if isinstance(sample, Mapping) else None
    try:
        if not isinstance(sample, Mapping):
            raise ValueError("a sample must be an object")
        messages = sample.get("messages") or sample.get("prompt")
        if not isinstance(messages, list) or not messages or not isinstance(messages[-1], Mapping) \
                or messages[-1].get("role") != "assistant" or not isinstance(messages[-1].get("content"), str):
            raise ValueError("the last message must be the assistant's reply")
        case = parse_case({"prompt": messages[:-1], "reward_model": _reference(sample), "tools": sample.get("tools"),
                           "behavior": sample.get("behavior")}, 0)
        record = record_from_response(messages[-1]["content"])
        line_registry = registry.with_tools(case.tools, unserved=()) if case.tools else registry
        value = reward(case, record, line_registry)
        matched = 1.0 if ACTION_BEHAVIOR[record.action] == case.behavior else 0.0
        metrics = [{"name": "tool_call_reward", "value": value, "type": "Reward"},
                   {"name": "behavior_match", "value": matched, "type": "Metric"}]
    except ValueError as exc:
        logger.warning("reward: sample %s unreadable: %s", sample_id, exc)
        value, metrics = 0.0, [{"name": "unreadable", "value": 1.0, "type": "Metric"}]
    return {"id": sample_id, "aggregate_reward_score": value, "metrics_list": metrics}


def lambda_handler(event: Any, context: Any = None) -> Any:
    """A batch (list) of samples gets a list of scores; a single sample gets one score."""
    if isinstance(event, list):
        return [score(sample) for sample in event]
    return score(event)
