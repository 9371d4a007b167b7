"""Per-turn latency of the local defaults (router planner, in-process tools, SQLite).

Prints the one-off model load and the p50/p95 of warm turns over the blog's cases.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time


def main(rounds: int = 50) -> None:
    os.environ.setdefault("STORE_PATH", os.path.join(tempfile.mkdtemp(), "bench.sqlite3"))
    from orchestrator.registry import DEFAULT_REGISTRY
    from orchestrator.samples import BLOG_CASES
    from orchestrator.settings import Settings, build_agent

    agent = build_agent(Settings())
    start = time.perf_counter()
    agent.planner.warm_up(DEFAULT_REGISTRY)
    load_ms = (time.perf_counter() - start) * 1000
    agent.run_turn(BLOG_CASES[0])  # first tool call opens the store
    latencies = sorted(agent.run_turn(text).latency_ms for _ in range(rounds) for text in BLOG_CASES)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(f"router model load + example index: {load_ms:7.1f} ms (once per process)")
    print(f"warm turn latency over {len(latencies)} turns: p50 {statistics.median(latencies):.2f} ms, p95 {p95:.2f} ms")


if __name__ == "__main__":
    main()
