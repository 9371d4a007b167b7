"""Cold import cost of the orchestrator handler next to `import boto3` (the bar: at most 0.5x).

Each import runs in a fresh interpreter under `python -X importtime`; the figure is the
cumulative microseconds of the top-level module, median of several runs. Prints a ratio, since
absolute times vary from machine to machine.
"""
from __future__ import annotations

import statistics
import subprocess
import sys

RUNS = 7


def cumulative_us(module: str) -> int:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          capture_output=True, text=True, check=True)
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    raise RuntimeError(f"no importtime line for {module}")


def median_us(module: str) -> float:
    cumulative_us(module)  # warm the file system cache
    return statistics.median(cumulative_us(module) for _ in range(RUNS))


def main() -> None:
    boto3_us = median_us("boto3")
    handler_us = median_us("orchestrator.handler")
    print(f"import boto3:                {boto3_us / 1000:8.1f} ms (median of {RUNS})")
    print(f"import orchestrator.handler: {handler_us / 1000:8.1f} ms (median of {RUNS})")
    print(f"ratio handler/boto3:         {handler_us / boto3_us:8.2f} (bar: <= 0.50)")


if __name__ == "__main__":
    main()
