"""The embedded default planner: the nearest labelled example decides, with no LLM.

Every tool's example utterances (its description when it has none), and the registry's no-tool
utterances, are embedded once. A turn goes to the tool of its nearest example when that example is
a tool's and its cosine similarity clears ``floor``; otherwise no tool is called. Ids are masked
before embedding so the numbers themselves never sway the choice.
"""
from __future__ import annotations

import threading
from typing import Any

from ..budget import Deadline
from ..embeddings import Embedder, shared_embedder
from ..registry import NO_TOOL, Registry
from ..replies import is_greeting
from ..turn import Plan

# Tuned on the eval's development set; below it the router prefers to call no tool.
DEFAULT_FLOOR = 0.35
MAX_INDEXES = 16


def mask_ids(text: str, registry: Registry) -> str:
    """Replace every id the registry knows with its tool's noun ("order 123456" -> "order order")."""
    for tool in registry:
        for parameter in tool.model_parameters:
            if parameter.names_its_tool:
                text = parameter.finder.sub(tool.noun, text)
    return text


class RouterPlanner:
    name = "router"

    def __init__(self, embedder: Embedder | None = None, *, floor: float = DEFAULT_FLOOR) -> None:
        self._embedder = embedder
        self.floor = floor
        self._index: dict[int, tuple[Registry, Any, list[str]]] = {}
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = shared_embedder()
        return self._embedder

    def _labelled(self, registry: Registry) -> tuple[Any, list[str]]:
        """The embedded examples and their labels, built once per registry."""
        with self._lock:
            cached = self._index.get(id(registry))
            if cached is None or cached[0] is not registry:
                texts, labels = [], []
                for tool in registry:
                    # A tool declared without examples (a spec the eval brings) is matched on its description.
                    for utterance in [e.utterance for e in tool.examples] or [tool.description]:
                        texts.append(mask_ids(utterance, registry))
                        labels.append(tool.name)
                for utterance in registry.no_tool_examples:
                    texts.append(mask_ids(utterance, registry))
                    labels.append(NO_TOOL)
                cached = (registry, self.embedder.embed(texts), labels)
                if len(self._index) >= MAX_INDEXES:  # the eval makes one registry per line with tools
                    self._index.pop(next(iter(self._index)))
                self._index[id(registry)] = cached
            return cached[1], cached[2]

    def warm_up(self, registry: Registry) -> None:
        """Load the model and embed the examples now (Lambda init, REPL start)."""
        self._labelled(registry)

    def plan(self, text: str, registry: Registry, deadline: Deadline) -> Plan:
        if is_greeting(text):
            return Plan(None, reason="greeting")
        try:
            matrix, labels = self._labelled(registry)
            query = self.embedder.embed([mask_ids(text, registry)])[0]
        except Exception as exc:  # noqa: BLE001 - a broken model must not break the turn
            return Plan(None, reason="planner_error", error=f"embedding failed: {type(exc).__name__}")
        scores = matrix @ query
        best = int(scores.argmax())
        score = round(float(scores[best]), 4)
        label = labels[best]
        if label == NO_TOOL or score < self.floor:
            return Plan(None, reason="out_of_scope", score=score)
        return Plan(label, score=score)


def from_settings(settings: Any, llm: Any = None) -> RouterPlanner:
    return RouterPlanner(floor=settings.router_floor)
