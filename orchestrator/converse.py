"""Scripted multi-turn conversations: play each on a fresh copy of the sample store, check what it said and changed.

Input lines (JSONL)::

    {"id": "clarify-then-id", "identity": null,
     "turns": ["I need help with an order", "It's 123456"],
     "expected": {"changes": [],
                  "replies": [{"turn": 1, "contains": ["order number"], "asks": true},
                              {"turn": 2, "contains": ["Herbal Handsoap", ["shipped", "on its way"]], "asks": false}],
                  "never": ["Traceback"]}}

- ``identity``: null, or a customer the channel already verified (``{"customer_id": "..."}``),
  passed to every ``Agent.run_turn`` of the conversation.
- ``turns``: what the customer says, in order; each turn's new messages join the history of the next.
- ``expected.changes``: *all* the store changes the conversation must make, and no others (default
  none). A change is ``{"table", "key", "field", "value"}``: one field of one item after the
  conversation. An item that appears gives one change per field; a field that disappears has value
  null; an item that disappears is ``{"table", "key", "field": null, "value": null}``.
- ``expected.replies``: checks of one turn's reply (``turn`` is 1-based). ``contains``: strings the
  reply must hold, case-insensitive; a nested list means any one of them. ``asks``: true when the
  reply must ask a question (end with "?"), false when it must not.
- ``expected.never``: strings no reply of the conversation may hold (case-insensitive).
- ``expected.changes`` values may be ``"*"``: the field must change, to any value (a time, a key).
- ``safety``: true for a case that checks no unwanted change and no leak; the report counts these
  apart, and every one must pass.
- ``note``: free text for the reader; ignored.

Each conversation runs on its own temporary SQLite file, copied from one seeded from
``tools/data/*.json``: ``STORE_PATH`` names it while the conversation plays, so the tools'
``shared_store()`` (cached per configuration) opens that file, and a change made in one
conversation is never seen by the next. The store is diffed table by table before and after.

Output lines: ``{"id", "replies", "changes", "turns" (turn records), "passed", "failures"}``.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TextIO

_TOP_KEYS = {"id", "identity", "turns", "expected", "note", "safety"}
ANY_VALUE = "*"
_EXPECTED_KEYS = {"changes", "replies", "never"}
_REPLY_KEYS = {"turn", "contains", "asks"}
_CHANGE_KEYS = {"table", "key", "field", "value"}


@dataclass
class ReplyCheck:
    turn: int  # 1-based
    contains: list[str | list[str]] = field(default_factory=list)
    asks: bool | None = None


@dataclass
class Conversation:
    id: str
    turns: list[str]
    identity: dict[str, Any] | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    replies: list[ReplyCheck] = field(default_factory=list)
    never: list[str] = field(default_factory=list)
    safety: bool = False


# ---------------------------------------------------------------- the line format
def _unknown(obj: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise ValueError(f"{where}: unknown field {extra[0]!r} (expected {', '.join(sorted(allowed))})")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where} must be a non-empty string")
    return value


def _contains(items: Any, where: str) -> list[str | list[str]]:
    if not isinstance(items, list):
        raise ValueError(f"{where}.contains must be a list")
    out: list[str | list[str]] = []
    for index, item in enumerate(items):
        if isinstance(item, list):
            if not item:
                raise ValueError(f"{where}.contains[{index}] must not be an empty list")
            out.append([_text(alt, f"{where}.contains[{index}][{j}]") for j, alt in enumerate(item)])
        else:
            out.append(_text(item, f"{where}.contains[{index}]"))
    return out


def _reply_check(obj: Any, index: int, turns: int) -> ReplyCheck:
    where = f"expected.replies[{index}]"
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where} must be an object")
    _unknown(obj, _REPLY_KEYS, where)
    turn = obj.get("turn")
    if not isinstance(turn, int) or isinstance(turn, bool) or not 1 <= turn <= turns:
        raise ValueError(f"{where}.turn must be a turn number from 1 to {turns}, not {turn!r}")
    contains = _contains(obj.get("contains", []), where)
    asks = obj.get("asks")
    if asks is not None and not isinstance(asks, bool):
        raise ValueError(f"{where}.asks must be true or false")
    if not contains and asks is None:
        raise ValueError(f"{where} checks nothing: give contains or asks")
    return ReplyCheck(turn, contains, asks)


def _change(obj: Any, index: int) -> dict[str, Any]:
    where = f"expected.changes[{index}]"
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where} must be an object")
    _unknown(obj, _CHANGE_KEYS, where)
    missing = [k for k in ("table", "key", "field", "value") if k not in obj]
    if missing:
        raise ValueError(f"{where} needs {', '.join(missing)}")
    table, key, name = obj["table"], obj["key"], obj["field"]
    if not isinstance(table, str) or not table:
        raise ValueError(f"{where}.table must be a table name")
    if not isinstance(key, (str, int)) or isinstance(key, bool):
        raise ValueError(f"{where}.key must be a string")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"{where}.field must be a field name (or null for a removed item)")
    return {"table": table, "key": str(key), "field": name, "value": obj["value"]}


def parse_conversation(obj: Any, number: int) -> Conversation:
    """One input line as a Conversation; ValueError says what is wrong with it."""
    if not isinstance(obj, Mapping):
        raise ValueError("a line must be a JSON object")
    _unknown(obj, _TOP_KEYS, "line")
    case_id = obj.get("id", number)
    if not isinstance(case_id, (str, int)) or isinstance(case_id, bool) or str(case_id) == "":
        raise ValueError("id must be a non-empty string")
    turns = obj.get("turns")
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
        raise ValueError("turns must be a non-empty list of strings")
    identity = obj.get("identity")
    if identity is not None:
        if not isinstance(identity, Mapping):
            raise ValueError("identity must be null or an object with customer_id")
        _text(identity.get("customer_id"), "identity.customer_id")
        identity = dict(identity)
    expected = obj.get("expected", {})
    if not isinstance(expected, Mapping):
        raise ValueError("expected must be an object")
    _unknown(expected, _EXPECTED_KEYS, "expected")
    changes = expected.get("changes", [])
    replies = expected.get("replies", [])
    never = expected.get("never", [])
    if not isinstance(changes, list):
        raise ValueError("expected.changes must be a list")
    if not isinstance(replies, list):
        raise ValueError("expected.replies must be a list")
    if not isinstance(never, list):
        raise ValueError("expected.never must be a list")
    if not isinstance(obj.get("safety", False), bool):
        raise ValueError("safety must be true or false")
    return Conversation(
        id=str(case_id),
        turns=list(turns),
        identity=identity,
        changes=[_change(c, i) for i, c in enumerate(changes)],
        replies=[_reply_check(r, i, len(turns)) for i, r in enumerate(replies)],
        never=[_text(n, f"expected.never[{i}]") for i, n in enumerate(never)],
        safety=obj.get("safety", False),
    )


def parse_lines(lines: Iterable[str]) -> Iterator[tuple[int, Conversation | str]]:
    """Each non-blank line's number with its Conversation, or why it was skipped."""
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            yield number, "not valid JSON"
            continue
        try:
            conversation = parse_conversation(obj, number)
        except ValueError as exc:
            yield number, str(exc)
            continue
        if conversation.id in seen:
            yield number, f"duplicate id {conversation.id!r}"
            continue
        seen.add(conversation.id)
        yield number, conversation


def read_conversations(lines: Iterable[str], errors: TextIO) -> Iterator[tuple[int, Conversation]]:
    """The readable lines; each unreadable one is reported on ``errors`` as ``line N: skipped: why``."""
    for number, parsed in parse_lines(lines):
        if isinstance(parsed, str):
            print(f"line {number}: skipped: {parsed}", file=errors)
        else:
            yield number, parsed


# ---------------------------------------------------------------- the store
Snapshot = dict[str, dict[str, dict[str, Any]]]  # table -> key -> item


def snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """Every item of every table of the SQLite store at ``path`` (its own read-only connection)."""
    db = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out: Snapshot = {}
        for table in tables:
            try:
                rows = db.execute(f'SELECT id, item FROM "{table}"').fetchall()
            except sqlite3.OperationalError:  # not a table of items
                continue
            out[table] = {str(key): json.loads(item) for key, item in rows}
        return out
    finally:
        db.close()


def diff(before: Snapshot, after: Snapshot) -> list[dict[str, Any]]:
    """Each changed field of each item, as ``{table, key, field, value}`` (see the module docstring)."""
    changes = []
    for table in sorted(set(before) | set(after)):
        old_items, new_items = before.get(table, {}), after.get(table, {})
        for key in sorted(set(old_items) | set(new_items)):
            old, new = old_items.get(key), new_items.get(key)
            if new is None:
                if old is not None:
                    changes.append({"table": table, "key": key, "field": None, "value": None})
                continue
            old = old or {}
            for name in sorted(set(old) | set(new)):
                if name not in new:
                    changes.append({"table": table, "key": key, "field": name, "value": None})
                elif name not in old or old[name] != new[name]:
                    changes.append({"table": table, "key": key, "field": name, "value": new[name]})
    return changes


class FreshStores:
    """Hands out a fresh copy of the seeded sample store per conversation.

    ``with FreshStores() as stores: with stores.fresh() as path: ...``: inside ``fresh()`` the
    environment names that copy (``STORE_BACKEND=sqlite``, ``STORE_PATH``), so the tools'
    ``shared_store()`` opens it; afterwards the environment is restored and the tools' cached
    store for that file is dropped and closed.
    """

    def __init__(self) -> None:
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._count = 0

    def __enter__(self) -> "FreshStores":
        from tools.store import SQLiteStore

        self._dir = tempfile.TemporaryDirectory(prefix="converse-")
        self.template = Path(self._dir.name) / "seed.sqlite3"
        seeded = SQLiteStore(self.template)  # created and seeded from tools/data/*.json
        _close(seeded)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    @contextlib.contextmanager
    def fresh(self) -> Iterator[Path]:
        assert self._dir is not None, "use FreshStores as a context manager"
        self._count += 1
        path = Path(self._dir.name) / f"conversation-{self._count}.sqlite3"
        shutil.copyfile(self.template, path)
        saved = {name: os.environ.get(name) for name in ("STORE_BACKEND", "STORE_PATH")}
        os.environ["STORE_BACKEND"], os.environ["STORE_PATH"] = "sqlite", str(path)
        try:
            yield path
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            _forget_store(path)
            path.unlink(missing_ok=True)


def _close(store: Any) -> None:
    db = getattr(store, "_db", None)
    if db is not None:
        db.close()


def _forget_store(path: Path) -> None:
    """Drop (and close) the tools' cached store for ``path``: ``shared_store()`` keeps one per
    configuration, and a run of many conversations would otherwise keep a connection per file."""
    from tools import store as store_module

    cache = getattr(store_module, "_cached", None)
    lock = getattr(store_module, "_cache_lock", None)
    if not isinstance(cache, dict) or lock is None:
        return
    with lock:
        for key in [k for k, s in cache.items() if getattr(s, "path", None) == str(path)]:
            _close(cache.pop(key))


def check_settings(settings: Any, env: Mapping[str, str] | None = None) -> None:
    """Conversations run on local copies of the sample store: the tools must run here, on SQLite."""
    env = os.environ if env is None else env
    if getattr(settings, "transport", "inprocess") != "inprocess":
        raise ValueError("converse runs the tools in this process on a fresh copy of the sample store: "
                         "use --transport inprocess")
    if env.get("STORE_BACKEND", "sqlite").strip().lower() != "sqlite":
        raise ValueError("converse plays each conversation on a fresh copy of the sample SQLite store: "
                         "use --store sqlite")


# ---------------------------------------------------------------- playing and judging
def _has(reply: str, text: str) -> bool:
    return text.casefold() in reply.casefold()


def _asks(reply: str) -> bool:
    return reply.rstrip().endswith("?")


def _show(change: Mapping[str, Any]) -> str:
    where = f"{change['table']} {change['key']}"
    if change["field"] is None:
        return f"{where} removed"
    return f"{where} {change['field']}={json.dumps(change['value'])}"


def _canonical(value: Any) -> Any:
    """JSON's view of a value: 23.0 and 23 are the same number (a store may give back either)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def _change_id(change: Mapping[str, Any]) -> str:
    return json.dumps(_canonical([change["table"], str(change["key"]), change["field"], change["value"]]),
                      sort_keys=True)


def judge(conversation: Conversation, replies: list[str], changes: list[dict[str, Any]],
          asked: list[bool] | None = None) -> list[str]:
    """Every way the conversation missed its expectations, in turn order; [] when it passed.

    ``asked``: whether each turn waited for the customer (the record's action ``clarify``: a
    confirmation ends "Say yes to confirm."); without it, a reply asks when it ends with "?"."""
    failures: list[str] = []
    for check in sorted(conversation.replies, key=lambda c: c.turn):
        reply = replies[check.turn - 1] if check.turn <= len(replies) else ""
        asks = asked[check.turn - 1] if asked is not None and check.turn <= len(asked) else _asks(reply)
        for item in check.contains:
            if isinstance(item, str) and not _has(reply, item):
                failures.append(f"turn {check.turn}: expected {item!r} in reply")
            elif isinstance(item, list) and not any(_has(reply, alt) for alt in item):
                failures.append(f"turn {check.turn}: expected one of {', '.join(map(repr, item))} in reply")
        if check.asks is True and not asks:
            failures.append(f"turn {check.turn}: expected a question")
        elif check.asks is False and asks:
            failures.append(f"turn {check.turn}: expected no question")
    for text in conversation.never:
        for turn, reply in enumerate(replies, 1):
            if _has(reply, text):
                failures.append(f"turn {turn}: {text!r} must never appear in a reply")
    wildcards = {(c["table"], str(c["key"]), c["field"]) for c in conversation.changes if c["value"] == ANY_VALUE}
    expected = {_change_id(c): c for c in conversation.changes if c["value"] != ANY_VALUE}
    actual = {}
    for change in changes:
        where = (change["table"], str(change["key"]), change["field"])
        if where in wildcards and change["value"] is not None:
            wildcards.discard(where)
        else:
            actual[_change_id(change)] = change
    for table, key, name in sorted(wildcards, key=str):
        failures.append(f"changes: expected {_show({'table': table, 'key': key, 'field': name, 'value': ANY_VALUE})}")
    for key, change in expected.items():
        if key not in actual:
            failures.append(f"changes: expected {_show(change)}")
    for key, change in actual.items():
        if key not in expected:
            failures.append(f"changes: unexpected {_show(change)}")
    return failures


def play(agent: Any, conversation: Conversation, stores: FreshStores) -> dict[str, Any]:
    """Play one conversation on a fresh store copy: its output line."""
    history: list[dict[str, Any]] = []
    state: dict[str, Any] = {}  # the server-side state the memory keeps between turns
    records = []
    with stores.fresh() as path:
        before = snapshot(path)
        for text in conversation.turns:
            record = agent.run_turn(text, history, identity=conversation.identity, state=state)
            history += record.messages
            state = record.state
            records.append(record)
        after = snapshot(path)
    replies = [record.answer for record in records]
    changes = diff(before, after)
    failures = judge(conversation, replies, changes, [record.action == "clarify" for record in records])
    return {"id": conversation.id, "replies": replies, "changes": changes, "safety": conversation.safety,
            "turns": [record.to_dict() for record in records], "passed": not failures, "failures": failures}


def converse(agent: Any, lines: Iterable[str], errors: TextIO, output: TextIO | None = None,
             progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Play every readable conversation; the summary figures (``format_report`` prints them)."""
    lines = list(lines)
    results = []
    skipped = 0
    with FreshStores() as stores:
        for number, parsed in parse_lines(lines):
            if isinstance(parsed, str):
                skipped += 1
                print(f"line {number}: skipped: {parsed}", file=errors)
                continue
            result = play(agent, parsed, stores)
            results.append(result)
            if output is not None:
                output.write(json.dumps(result) + "\n")
            if progress is not None:
                progress(number, len(lines))
    passed = sum(r["passed"] for r in results)
    return {
        "conversations": len(results),
        "passed": passed,
        "pass_rate": round(passed / len(results), 4) if results else None,
        "turns": sum(len(r["replies"]) for r in results),
        "safety_cases": sum(r["safety"] for r in results),
        "safety_passed": sum(r["safety"] and r["passed"] for r in results),
        "skipped": skipped,
        "failing": [{"id": r["id"], "failure": r["failures"][0], "failures": len(r["failures"])}
                    for r in results if not r["passed"]],
    }


def format_report(summary: Mapping[str, Any]) -> str:
    rate = "-" if summary["pass_rate"] is None else f"{summary['pass_rate']:.3f}"
    lines = [f"{'conversations':>13}{'turns':>8}{'passed':>8}{'pass rate':>11}",
             f"{summary['conversations']:>13}{summary['turns']:>8}{summary['passed']:>8}{rate:>11}"]
    lines.append(f"safety cases (no unwanted change, no leak): {summary['safety_passed']} of "
                 f"{summary['safety_cases']} passed")
    if summary["skipped"]:
        lines.append(f"({summary['skipped']} unreadable line(s) skipped; see stderr)")
    if summary["failing"]:
        width = max(len(f["id"]) for f in summary["failing"])
        lines += ["", "failing (first failure; how many):"]
        for failing in summary["failing"]:
            lines.append(f"  {failing['id']:<{width}}  {failing['failure']}  ({failing['failures']})")
    return "\n".join(lines)


def figures(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The last line's JSON: the figures, without the per-conversation detail."""
    return {"conversations": summary["conversations"], "passed": summary["passed"],
            "pass_rate": summary["pass_rate"], "turns": summary["turns"], "skipped": summary["skipped"],
            "safety_cases": summary["safety_cases"], "safety_passed": summary["safety_passed"],
            "failing": [f["id"] for f in summary["failing"]]}
