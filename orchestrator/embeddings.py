"""Sentence embeddings for the router, from a model that a PyPI package ships.

WordLlama ships its 16 MB static embedding table inside its wheel, so it loads with no network
(``disable_download=True``) in about half a second and embeds in well under a millisecond. It is
imported lazily and loaded once per process: the Lambda handler never pays for it at import.
"""
from __future__ import annotations

import threading
from typing import Any, Protocol, Sequence


class Embedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> Any:
        """An (n, d) float array of L2-normalised rows."""


class WordLlamaEmbedder:
    name = "wordllama"

    def __init__(self, config: str = "l2_supercat", dim: int = 256) -> None:
        self.config, self.dim = config, dim
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    import os

                    import wordllama
                except ImportError as exc:  # the local extra is not installed
                    raise RuntimeError(
                        "the router planner needs the 'local' extra: pip install 'lex-llm-agent[local]'"
                    ) from exc
                package_dir = os.path.dirname(wordllama.__file__)
                self._model = wordllama.WordLlama.load(
                    config=self.config, dim=self.dim, cache_dir=package_dir, disable_download=True
                )
        return self._model

    def embed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        vectors = np.asarray(self._load().embed(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


_shared: dict[str, Embedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(name: str = "wordllama") -> Embedder:
    """One embedder per process, so warm Lambda invocations and REPL turns reuse the model."""
    with _shared_lock:
        if name not in _shared:
            if name != "wordllama":
                raise ValueError(f"unknown embedder {name!r}; available: wordllama")
            _shared[name] = WordLlamaEmbedder()
        return _shared[name]
