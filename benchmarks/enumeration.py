"""A stranger's enumeration scan, through the real Lex handler, in-process.

Nobody is signed in. The scan asks "Is my return rtnNNN processed?" for every NNN from 000 to
999, and "What is the status of order X?" for every order id in ``tools/data/*.json`` plus 200
random five- or six-digit ids, in two modes:

  one session   every guess in the same Lex session (one conversation, as a careless script would);
  fresh session a new session id for every guess (what defeats anything counted per session).

Each guess is a Lex V2 FallbackIntent fulfillment event (``orchestrator.samples.text_event``)
handed to ``orchestrator.handler.lambda_handler``, with the local defaults: the agent the
environment builds (router planner, tools in-process), a fresh SQLite tool store seeded from
``tools/data`` (``STORE_PATH``) and a fresh SQLite conversation store (``CONVERSATION_PATH``), both
in a temporary directory removed afterwards. The backends a deployment names (LLM, Lambda
transport, DynamoDB) are cleared from this process's environment first, so it runs offline;
``ANONYMOUS_LOOKUPS`` is left as set.

The table: guesses; replies that found what was asked ("Order X (" / "Return rtnNNN ("); replies
that said it was not found; others (refused, asked again, limited); then the replies that leak:

  personal     any customer's name, email, phone (as written or as ten digits) or username,
               from tools/data/customers.json (compared ignoring case);
  amount       any "$";
  return->order  the order id of any return (tools/data/returns.json), other than the id asked;
  other order  the id of any order in tools/data other than the one asked about (an id the
               agent gives as an example, "for example 123456", is not counted).

Every reply message is searched (text and anything else the response carries). It always exits 0:
the figures are the result. Run: ``.venv/bin/python benchmarks/enumeration.py [--random N] [--seed S]``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tools" / "data"

# What would send the agent off this machine or to another store: the scan measures the local defaults.
CLEARED = ("AGENT_PLANNER", "LLM_BACKEND", "TOOL_TRANSPORT", "MAX_STEPS", "STORE_BACKEND", "ORDERS_TABLE",
           "RETURNS_TABLE", "CUSTOMERS_TABLE", "MODEL_ADAPTER", "BEDROCK_MODEL_ID", "CONVERSATION_STORE",
           "CONVERSATION_TABLE", "CONVERSATION_PATH", "STORE_PATH", "AWS_LAMBDA_FUNCTION_NAME",
           "ORDERS_FUNCTION_NAME", "RETURNS_FUNCTION_NAME", "CUSTOMERS_FUNCTION_NAME", "CANCEL_ORDER_FUNCTION_NAME",
           "SAGEMAKER_ENDPOINT_NAME", "OPENAI_BASE_URL")

LEAKS = ("personal", "amount", "return->order", "other order")


def _load(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@dataclass
class Known:
    """What a leak would be: from the sample data."""

    personal: set[str]
    order_ids: list[str]
    return_order_ids: set[str]

    @classmethod
    def from_data(cls) -> "Known":
        personal: set[str] = set()
        for person in _load("customers.json"):
            for name in ("name", "email", "phone", "username"):
                if person.get(name):
                    personal.add(str(person[name]).strip().lower())
            digits = re.sub(r"[^0-9]", "", str(person.get("phone") or ""))
            if len(digits) == 10:
                personal.add(digits)
        order_ids: list[str] = []
        for path in sorted(DATA.glob("*.json")):
            items = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(items, list) and path.name != "returns.json":
                order_ids += [str(i["orderId"]) for i in items if isinstance(i, dict) and "orderId" in i]
        return_order_ids = {str(r["orderId"]) for r in _load("returns.json")}
        return cls(personal, list(dict.fromkeys(order_ids)), return_order_ids)


# The agent's own examples ("your six-digit order number (for example 123456)") name an id it
# always names; they are not counted as disclosed.
EXAMPLE = re.compile(r"\b(?:for example|e\.g\.|like)\s+(?:rtn[0-9]{3}|[0-9]{5,6})\b", re.IGNORECASE)


def _mentions(text: str, ident: str) -> bool:
    """Whether ``ident`` stands alone in ``text`` (not inside a longer number or tracking code)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(ident)}(?![0-9A-Za-z])", text) is not None


@dataclass
class Row:
    guesses: int = 0
    found: int = 0
    not_found: int = 0
    other: int = 0
    leaks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEAKS, 0))
    others: Counter = field(default_factory=Counter)  # what the "other" replies said

    def add(self, other: "Row") -> None:
        self.guesses += other.guesses
        self.found += other.found
        self.not_found += other.not_found
        self.other += other.other
        for name in LEAKS:
            self.leaks[name] += other.leaks[name]
        self.others.update(other.others)


def judge(reply_text: str, everything: str, noun: str, ident: str, known: Known, row: Row) -> None:
    row.guesses += 1
    if f"{noun.capitalize()} {ident} (" in reply_text:
        row.found += 1
    elif "couldn't find" in reply_text:
        row.not_found += 1
    else:
        row.other += 1
        row.others[re.sub(r"\b(rtn[0-9]{3}|[0-9]{5,6})\b", "<id>", reply_text)[:100]] += 1
    everything = EXAMPLE.sub("<example>", everything)
    lowered = everything.lower()
    if any(value in lowered for value in known.personal):
        row.leaks["personal"] += 1
    if "$" in everything:
        row.leaks["amount"] += 1
    if any(_mentions(everything, o) for o in known.return_order_ids if o != ident):
        row.leaks["return->order"] += 1
    if any(_mentions(everything, o) for o in known.order_ids if o != ident):
        row.leaks["other order"] += 1


def guesses(known: Known, n_random: int, seed: int) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(scan name, noun, [(id, utterance)]) for each part of the scan."""
    rng = random.Random(seed)
    taken, extra = set(known.order_ids), []
    while len(extra) < n_random:
        ident = "".join(rng.choice("0123456789") for _ in range(rng.choice((5, 6))))
        if ident not in taken:
            taken.add(ident)
            extra.append(ident)
    return [
        ("returns rtn000-rtn999", "return", [(f"rtn{n:03d}", f"Is my return rtn{n:03d} processed?") for n in range(1000)]),
        (f"orders in tools/data ({len(known.order_ids)})", "order",
         [(o, f"What is the status of order {o}?") for o in known.order_ids]),
        (f"random order ids ({n_random})", "order", [(o, f"What is the status of order {o}?") for o in extra]),
    ]


def scan(handler, text_event, parts, known: Known, mode: str) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    count = 0
    for name, noun, items in parts:
        row = rows.setdefault(name, Row())
        for ident, utterance in items:
            count += 1
            event = text_event(utterance)
            event["sessionId"] = "enumeration-one-session" if mode == "one session" else f"enumeration-fresh-{count:05d}"
            response = handler.lambda_handler(event, None)
            messages = response.get("messages") or []
            reply_text = " ".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
            judge(reply_text, json.dumps(messages, ensure_ascii=False), noun, ident, known, row)
    return rows


def print_table(results: dict[str, dict[str, Row]]) -> None:
    header = f"{'mode':<14} {'scan':<27} {'guesses':>7} {'found':>6} {'404':>5} {'other':>6} | " + " ".join(
        f"{name:>13}" for name in LEAKS)
    print(header)
    print("-" * len(header))
    for mode, rows in results.items():
        total = Row()
        for name, row in rows.items():
            total.add(row)
            print(f"{mode:<14} {name:<27} {row.guesses:>7} {row.found:>6} {row.not_found:>5} {row.other:>6} | "
                  + " ".join(f"{row.leaks[n]:>13}" for n in LEAKS))
        print(f"{mode:<14} {'total':<27} {total.guesses:>7} {total.found:>6} {total.not_found:>5} {total.other:>6} | "
              + " ".join(f"{total.leaks[n]:>13}" for n in LEAKS))
        print("-" * len(header))
    for mode, rows in results.items():
        others: Counter = Counter()
        for row in rows.values():
            others.update(row.others)
        for reply, count in others.most_common(3):
            print(f"{mode}: {count} x other reply: {reply!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", type=int, default=200, help="random five- or six-digit order ids to try")
    parser.add_argument("--seed", type=int, default=20261017, help="seed of the random ids")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="enumeration-")
    for name in CLEARED:
        os.environ.pop(name, None)
    os.environ.update({"STORE_BACKEND": "sqlite", "STORE_PATH": os.path.join(workdir, "tools.sqlite3"),
                       "CONVERSATION_STORE": "sqlite", "CONVERSATION_PATH": os.path.join(workdir, "conversations.sqlite3"),
                       "EMIT_METRICS": "false", "LOG_LEVEL": os.environ.get("LOG_LEVEL", "ERROR")})
    sys.path.insert(0, str(ROOT))
    try:
        import logging

        logging.getLogger("orchestrator").setLevel(logging.ERROR)
        from orchestrator import handler
        from orchestrator.samples import text_event

        handler.set_agent(None)
        handler.set_store(None)
        known = Known.from_data()
        parts = guesses(known, args.random, args.seed)
        handler.lambda_handler(text_event("hello"), None)  # build the agent and load the planner once
        warm = time.perf_counter() - started
        results: dict[str, dict[str, Row]] = {}
        timings: dict[str, float] = {}
        for mode in ("one session", "fresh session"):
            t0 = time.perf_counter()
            results[mode] = scan(handler, text_event, parts, known, mode)
            timings[mode] = time.perf_counter() - t0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("A stranger's scan through orchestrator.handler.lambda_handler (no identity, local defaults, "
          f"ANONYMOUS_LOOKUPS={os.environ.get('ANONYMOUS_LOOKUPS', 'unset')})")
    print_table(results)
    print(f"elapsed: {time.perf_counter() - started:.1f} s (agent start {warm:.1f} s; "
          + ", ".join(f"{mode} {s:.1f} s" for mode, s in timings.items()) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
