"""The fault table: every fault of the model and of each tool, with 30 s, 5 s and 3.5 s of Lambda time left.

Each row is one Lex turn through the deployed shape (few-shot planner, SageMaker or
OpenAI-compatible model, tool Lambdas) against stub servers on 127.0.0.1, as the fault suite runs
it (``tests/fault_scenarios.py``). Rows run in worker processes, several at a time, since most of
them wait on a server that never answers. ``budget`` is the turn's deadline (time left - 2 s);
``ok`` says whether the turn answered within it with the expected reply, state and reason.

    python benchmarks/fault_table.py [--time-left 30 5 3.5] [--target sagemaker orders ...] [--workers 6]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from orchestrator.budget import DEFAULT_MARGIN_S  # noqa: E402
from tests.fault_scenarios import TARGETS, expected, faults_for, run_case  # noqa: E402

SLACK_S = 0.6


def _row(case: tuple[str, str, float]) -> tuple[str, str, float, float, str, str, bool]:
    target, fault, left = case
    outcome = run_case(target, fault, left)
    want = expected(target, fault)
    ok = (outcome.elapsed_s < left - DEFAULT_MARGIN_S + SLACK_S and outcome.state == want.state
          and want.message in outcome.message and outcome.record.get("reason") == want.reason)
    return target, fault, left, outcome.elapsed_s, outcome.state, outcome.record.get("reason", "?"), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-left", type=float, nargs="+", default=[30.0, 5.0, 3.5])
    parser.add_argument("--target", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--workers", type=int, default=6)
    args = parser.parse_args(argv)
    cases = [(t, f, left) for left in args.time_left for t in args.target for f in faults_for(t)]
    started = time.monotonic()
    print(f"{len(cases)} turns in {args.workers} worker processes...", file=sys.stderr, flush=True)
    with concurrent.futures.ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(_row, cases))
    print(f"{'target':<10} {'fault':<15} {'time left':>9} {'budget':>7} {'elapsed':>8}  {'intent':<10} {'reason':<17} ok")
    for target, fault, left, elapsed, state, reason, ok in rows:
        budget = max(0.0, left - DEFAULT_MARGIN_S)
        print(f"{target:<10} {fault:<15} {left:>8.1f}s {budget:>6.1f}s {elapsed:>7.2f}s  {state:<10} {reason:<17} "
              f"{'yes' if ok else 'NO'}")
    failed = sum(not row[-1] for row in rows)
    print(f"{len(rows) - failed} of {len(rows)} turns within budget with the expected reply "
          f"({time.monotonic() - started:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
