"""Build the development and held-out sets from public data, reproducibly.

    python scripts/build_devset.py [--data-dir ../shared/data] [--output-dir evals]

writes ``evals/devset.jsonl`` (tune on it), ``evals/heldout.jsonl`` (report it, never tune on it)
and ``evals/unseen_tools.jsonl`` (lines that bring their own tool specs).

Sources (see ``evals/README.md`` for their licences and the labelling rules); each public set's
training split feeds the dev set and its validation split the held-out set:

* Bitext customer-support CSVs. ``track_order`` with an order id is *execute*
  ``order_inquiry``, with our own 6-digit order id written into the CSV's span (Bitext ids are 8 to 15
  digits); ``track_order`` without one is *clarify*; ``track_refund`` ("I'm waiting for a refund of
  $350") is *clarify* (the agent asks for the return id); every other intent is *refuse*, because
  the agent has no tool that does it. ``cancel_order`` / ``change_order`` with an id keep the id
  (substituted too): a status look-up is not what the customer asked for, so they are the hardest
  negatives in the set.
* CLINC150 (train or val, with oos_train or oos_val). ``order_status`` is *clarify* (none carries an id);
  every other intent and every out-of-scope line is *refuse*. The out-of-scope lines that mention
  orders or shopping were read by hand ("the order of operations"): they stay *refuse*.
* Our own returns lines, dev set only (the public sets have no return ids): execute, clarify, and
  two-turn conversations where the id arrives after the agent asked for it.
* The aws-samples claude-tools-chatbot Converse tool specs and ids, for ``unseen_tools.jsonl``.

Sampling is seeded, and the output is sorted, so the same inputs give the same bytes.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261125
ORDER_IDS = [o["orderId"] for o in json.loads((ROOT / "tools/data/orders.json").read_text())]
RETURN_IDS = [r["returnId"] for r in json.loads((ROOT / "tools/data/returns.json").read_text())]

# How many lines each source gives per split (the rest is left out to keep the set balanced).
QUOTAS = {
    "dev": {"bitext_refuse_per_intent": 8, "bitext_wrong_action_with_id": 40, "bitext_track_refund": 30,
            "clinc_other_per_intent": 1, "clinc_oos": 60},
    "heldout": {"bitext_refuse_per_intent": 3, "bitext_wrong_action_with_id": 10, "bitext_track_refund": 8,
                "clinc_other_per_intent": 1, "clinc_oos": 30},
}
# The public splits behind each of our sets: tune on dev, report held-out too.
BITEXT_SPLITS = {"dev": "Training", "heldout": "Validation"}
CLINC_SPLITS = {"dev": ("train", "oos_train"), "heldout": ("val", "oos_val")}


def line(source: str, key: str, messages: list[str], behavior: str, tool: str | None = None,
         arguments: dict[str, str] | None = None) -> dict:
    expected: dict = {"behavior": behavior}
    if behavior == "execute":
        expected.update(tool=tool, arguments=arguments)
    return {"id": f"{source}-{key}", "source": source,
            "messages": [{"role": "user", "content": m} for m in messages], "expected": expected}


def read_bitext(data_dir: Path, split: str) -> list[dict]:
    path = data_dir / f"bitext/Bitext_Sample_Customer_Service_{split}_Dataset.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for number, row in enumerate(rows, 2):  # the CSV's own line number, header being line 1
        row["key"] = f"{split[:5].lower()}-{number}"
    return rows


def substitute(row: dict, order_id: str) -> str:
    start, end = int(row["start_offset"]), int(row["end_offset"])
    text = row["utterance"]
    if text[start:end] != row["entity_value"]:
        raise ValueError(f"bitext {row['key']}: span {start}:{end} is not {row['entity_value']!r}")
    return text[:start] + order_id + text[end:]


def bitext_lines(rows: list[dict], quota: dict[str, int], rng: random.Random) -> list[dict]:
    out = []
    by_intent: dict[str, list[dict]] = {}
    for row in rows:
        by_intent.setdefault(row["intent"], []).append(row)
    for intent, group in sorted(by_intent.items()):
        with_id = [r for r in group if r["entity_type"] == "order_id"]
        without_id = [r for r in group if r["entity_type"] != "order_id"]
        if intent == "track_order":
            for r in with_id:
                order_id = rng.choice(ORDER_IDS)
                out.append(line("bitext", r["key"], [substitute(r, order_id)], "execute",
                                "order_inquiry", {"order_id": order_id}))
            out += [line("bitext", r["key"], [r["utterance"]], "clarify") for r in without_id]
        elif intent == "track_refund":
            out += [line("bitext", r["key"], [r["utterance"]], "clarify")
                    for r in rng.sample(group, min(quota["bitext_track_refund"], len(group)))]
        elif intent in ("cancel_order", "change_order"):
            for r in rng.sample(with_id, min(quota["bitext_wrong_action_with_id"], len(with_id))):
                out.append(line("bitext", r["key"], [substitute(r, rng.choice(ORDER_IDS))], "refuse"))
            out += [line("bitext", r["key"], [r["utterance"]], "refuse") for r in without_id]
        else:
            out += [line("bitext", r["key"], [r["utterance"]], "refuse")
                    for r in rng.sample(group, min(quota["bitext_refuse_per_intent"], len(group)))]
    return out


# Out-of-scope lines that mention orders or shopping, read by hand: none is about the customer's own
# purchase, so all stay *refuse*. A line not in this list that matches MENTIONS_SHOPPING stops the
# build until someone labels it.
MENTIONS_SHOPPING = re.compile(r"order|packag|deliver|ship|return|refund|purchas|bought|buy|track|parcel", re.I)
REVIEWED_OUT_OF_SCOPE = {
    "why are exponents preformed before multiplication in the order of operations",
    "who is the current captain of this ship",
    "what's the best crypto to buy in 2019",
}


def clinc_lines(data: dict, splits: tuple[str, str], quota: dict[str, int], rng: random.Random) -> list[dict]:
    in_scope, out_of_scope = splits
    out = []
    by_intent: dict[str, list[tuple[str, str]]] = {}
    for number, (text, intent) in enumerate(data[in_scope]):
        by_intent.setdefault(intent, []).append((f"{in_scope}-{number}", text))
    for intent, group in sorted(by_intent.items()):
        if intent == "order_status":
            out += [line("clinc", key, [text], "clarify") for key, text in group]
        else:
            out += [line("clinc", key, [text], "refuse") for key, text in rng.sample(group, quota["clinc_other_per_intent"])]
    oos = [(f"{out_of_scope}-{n}", text) for n, (text, _) in enumerate(data[out_of_scope])]
    unreviewed = [text for _, text in oos if MENTIONS_SHOPPING.search(text) and text not in REVIEWED_OUT_OF_SCOPE]
    if unreviewed:
        raise SystemExit(f"out-of-scope lines that mention shopping need a label by hand: {unreviewed}")
    out += [line("clinc", key, [text], "refuse") for key, text in rng.sample(oos, quota["clinc_oos"])]
    return out


# Our returns lines: phrasings unlike the registry's router examples, in three registers.
RETURN_EXECUTE = [
    "Could you please confirm whether return {id} has been received at your warehouse?",
    "I would appreciate an update on the status of my return, reference {id}.",
    "Kindly let me know if the refund for return {id} has been issued.",
    "I am writing to enquire about return {id}; has it been processed?",
    "hey did u guys get my return {id} yet",
    "any news on {id}? sent it back 2 weeks ago",
    "so whats happening with return {id}",
    "my refund for {id} still hasnt shown up, whats going on",
    "{id} status",
    "return {id}?",
    "check return {id}",
    "refund {id}",
    "I sent back the shoes, return number {id}. Did it arrive?",
    "Was my return {id} approved or rejected?",
    "How long until return {id} is refunded?",
]
RETURN_CLARIFY = [
    "I would like to know the status of my return.",
    "Has the item I sent back arrived?",
    "did my refund go thru",
    "I mailed my return last week, any update?",
    "return status",
    "Could you check whether my return was accepted?",
    "when do i get my money back for the stuff i returned",
    "I returned a jacket and haven't heard anything.",
]
RETURN_FOLLOW_UPS = ["it's {id}", "{id}", "The return id is {id}.", "sure, {id}"]
ORDER_FOLLOW_UPS = ["it's {id}", "{id}", "Order number {id}.", "ok its {id}"]


def own_lines(rng: random.Random) -> list[dict]:
    out = []
    for n, template in enumerate(RETURN_EXECUTE):
        for k in range(4):
            return_id = rng.choice(RETURN_IDS)
            text = template.format(id=return_id.upper() if k == 3 else return_id)
            out.append(line("own", f"return-{n}-{k}", [text], "execute", "returns_inquiry", {"return_id": return_id}))
    out += [line("own", f"return-ask-{n}", [text], "clarify") for n, text in enumerate(RETURN_CLARIFY)]
    for n, first in enumerate(RETURN_CLARIFY):
        return_id = rng.choice(RETURN_IDS)
        follow_up = RETURN_FOLLOW_UPS[n % len(RETURN_FOLLOW_UPS)].format(id=return_id)
        out.append(line("own", f"return-two-turns-{n}", [first, follow_up], "execute", "returns_inquiry",
                        {"return_id": return_id}))
    for n, first in enumerate(["Where is my order?", "I'd like to track my package", "has my stuff shipped",
                               "Can you tell me when my delivery will arrive?"]):
        order_id = rng.choice(ORDER_IDS)
        follow_up = ORDER_FOLLOW_UPS[n % len(ORDER_FOLLOW_UPS)].format(id=order_id)
        out.append(line("own", f"order-two-turns-{n}", [first, follow_up], "execute", "order_inquiry",
                        {"order_id": order_id}))
    return out


# Tools the agent has never seen: the aws-samples claude-tools-chatbot Converse specs, asked about
# with that sample's own order and customer ids. Half the lines give the specs in OpenAI form.
UNSEEN_LINES = [
    ("What's the status of order {order}?", "execute", "get_order_by_id", {"order_id": "{order}"}),
    ("Can you pull up the details of order {order}", "execute", "get_order_by_id", {"order_id": "{order}"}),
    ("how many items were in order {order}", "execute", "get_order_by_id", {"order_id": "{order}"}),
    ("Please cancel order {order}, I ordered it by mistake", "execute", "cancel_order", {"order_id": "{order}"}),
    ("I want to cancel my order {order}", "execute", "cancel_order", {"order_id": "{order}"}),
    ("List all the orders for customer {customer}", "execute", "get_customer_orders", {"customer_id": "{customer}"}),
    ("Show me every order placed by customer id {customer}", "execute", "get_customer_orders", {"customer_id": "{customer}"}),
    ("Find the user with phone number {phone}", "execute", "get_user", {"key": "phone", "value": "{phone}"}),
    ("I want to cancel an order", "clarify", None, None),
    ("What did I order last time?", "clarify", None, None),
    ("What's the weather in Seattle?", "refuse", None, None),
    ("Tell me a joke about shoes", "refuse", None, None),
]


def unseen_tool_lines(data_dir: Path) -> list[dict]:
    config = json.loads((data_dir / "claude-tools-chatbot/tool_config.json").read_text(encoding="utf-8"))
    sample = json.loads((data_dir / "claude-tools-chatbot/data.json").read_text(encoding="utf-8"))
    converse = config["tools"]
    openai = [{"type": "function", "function": {"name": t["toolSpec"]["name"], "description": t["toolSpec"]["description"],
                                                "parameters": t["toolSpec"]["inputSchema"]["json"]}} for t in converse]
    out = []
    for n, (template, behavior, tool, arguments) in enumerate(UNSEEN_LINES):
        order, customer = sample["orders"][n % len(sample["orders"])], sample["customers"][n % len(sample["customers"])]
        values = {"order": order["id"], "customer": customer["id"], "phone": customer["phone"]}
        item = line("unseen", f"{n:02d}", [template.format(**values)], behavior, tool,
                    {k: v.format(**values) for k, v in (arguments or {}).items()})
        item["tools"] = converse if n % 2 == 0 else openai
        out.append(item)
    return out


def clinc_file(data_dir: Path) -> Path:
    """The train/val subset as ../shared/data holds it, else the oos-eval repository's own file
    (data/data_full.json, the same splits plus test, copied into clinc150/)."""
    subset = data_dir / "clinc150/data_train_val.json"
    return subset if subset.exists() else data_dir / "clinc150/data_full.json"


def build(data_dir: Path) -> dict[str, list[dict]]:
    """{"dev", "heldout", "unseen_tools"}: dev from the public training splits plus our own lines,
    held-out from the public validation splits, for figures on text nobody tuned against, and
    lines that bring tools the agent has never seen."""
    clinc = json.loads(clinc_file(data_dir).read_text(encoding="utf-8"))
    sets = {}
    for name, quota in QUOTAS.items():
        rng = random.Random(f"{SEED}-{name}")
        lines = bitext_lines(read_bitext(data_dir, BITEXT_SPLITS[name]), quota, rng)
        lines += clinc_lines(clinc, CLINC_SPLITS[name], quota, rng)
        if name == "dev":
            lines += own_lines(rng)
        sets[name] = sorted(lines, key=lambda item: item["id"])
    sets["unseen_tools"] = unseen_tool_lines(data_dir)
    return sets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data",
                        help="folder holding bitext/ and clinc150/ (default ../shared/data)")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "evals",
                        help="where the .jsonl sets go (default evals/)")
    args = parser.parse_args(argv)
    if not all((args.data_dir / name).is_dir() for name in ("bitext", "clinc150", "claude-tools-chatbot")):
        print(f"error: {args.data_dir} lacks bitext/, clinc150/ or claude-tools-chatbot/ (see --data-dir)",
              file=sys.stderr)
        return 2
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, lines in build(args.data_dir).items():
        path = args.output_dir / f"{name}{'set' if name == 'dev' else ''}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for item in lines:
                handle.write(json.dumps(item, ensure_ascii=False) + "\n")
        counts = Counter(item["expected"]["behavior"] for item in lines)
        print(f"wrote {len(lines)} lines to {path}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
