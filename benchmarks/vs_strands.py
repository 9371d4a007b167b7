"""Our agent loop next to Strands Agents: one scripted conversation, the same tools, in one run.

Both loops get a scripted model that plays the same assistant messages (``toolUse`` blocks, then
text) and the same in-process tools (``tools.orders`` / ``tools.returns`` on a temporary SQLite
store), so what differs is the loop: ours (``orchestrator.agent.Agent.run_turn``, history passed
in) and Strands' (``strands.Agent.__call__``, history kept in the Agent). Ours runs twice: with the
registry as it is (a look-up's sentence is the answer: one model call per look-up) and with
``answers_directly=False`` (the model writes the reply after the results: the same model calls
as Strands makes).

Figures, all from this one process (variants alternate in blocks; medians):
  * cold import: wall time of ``python -c "import ..."`` in fresh interpreters, less a bare
    ``python -c pass``, for ``orchestrator.agent`` + ``orchestrator.models`` and for
    ``from strands import Agent``;
  * per-turn wall time: ``run_turn`` (plus extending the history) against ``agent(text)``,
    nothing excluded: model replay, guards, tool threads, SQLite reads, history bookkeeping;
  * building the agent once per conversation, apart from the turns.
Ratios are ours/Strands, so below 1 means ours takes less. Run it where strands-agents is
installed (``.venv-bench``, see ``benchmarks/requirements-strands.txt``); elsewhere it says
"skipped" and exits 0.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

CONVERSATIONS = 200  # per variant, after warm-up
WARMUP = 20
BLOCK = 20  # conversations per variant before the next variant takes over
IMPORT_RUNS = 11

# The conversation: the customer's words, the calls the model makes for them, the model's reply.
# Order 234567 is not in the seeded store: one not-found look-up (a 404 answer) in both loops.
TURNS: tuple[tuple[str, tuple[tuple[str, dict[str, str]], ...], str], ...] = (
    ("Has order 123456 shipped?", (("order_inquiry", {"order_id": "123456"}),),
     "Yes: order 123456 has shipped."),
    ("And is return rtn003 processed?", (("returns_inquiry", {"return_id": "rtn003"}),),
     "Here is where return rtn003 stands."),
    ("Check order 234567 and return rtn001",
     (("order_inquiry", {"order_id": "234567"}), ("returns_inquiry", {"return_id": "rtn001"})),
     "I couldn't find order 234567; return rtn001 is in the results above."),
    ("Thanks!", (), "You're welcome!"),
)
TURN_LABELS = ("1 call", "1 call", "2 calls", "text only")

OURS_IMPORT = "import orchestrator.agent, orchestrator.models"
STRANDS_IMPORT = "from strands import Agent"


# ---------------------------------------------------------------- the script, as Converse messages
def script(direct_answers: bool) -> list[dict[str, Any]]:
    """Fresh assistant messages for one conversation, in the order the model is asked for them.

    With direct answers our loop ends a look-up turn on the tools' sentences, so the model is not
    asked for the reply after the results.
    """
    ids = itertools.count(1)
    messages: list[dict[str, Any]] = []
    for _, uses, reply in TURNS:
        if uses:
            messages.append({"role": "assistant", "content": [
                {"toolUse": {"toolUseId": f"tooluse_{next(ids)}", "name": name, "input": dict(inp)}}
                for name, inp in uses]})
            if direct_answers:
                continue
        messages.append({"role": "assistant", "content": [{"text": reply}]})
    return messages


def shape(messages: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
    """Roles and block kinds (toolResult with its status), to check both loops did the same."""
    out = []
    for m in messages:
        kinds = []
        for b in m["content"]:
            kind = next(iter(b))
            kinds.append(f"toolResult:{b[kind]['status']}" if kind == "toolResult" else kind)
        out.append((m["role"], tuple(kinds)))
    return out


def result_data(messages: list[dict[str, Any]]) -> list[Any]:
    return [c["json"] for m in messages for b in m["content"] if "toolResult" in b
            for c in b["toolResult"]["content"] if "json" in c]


# ---------------------------------------------------------------- ours
class Replay:
    """A Converse model (our protocol) that plays the scripted messages in order."""

    name = "replay"

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self._next = iter(messages)
        self.calls = 0

    def converse(self, messages, *, tools=(), tool_choice=None, system="", inference=None, timeout_s=10.0):
        from orchestrator.messages import STOP_END_TURN, STOP_TOOL_USE, tool_uses
        from orchestrator.models import ModelResponse

        message = next(self._next)
        self.calls += 1
        return ModelResponse(message, STOP_TOOL_USE if tool_uses(message) else STOP_END_TURN)


def ours(direct_answers: bool) -> tuple[Callable[[], Any], Callable[[Any], tuple[list[float], list]]]:
    from orchestrator.agent import Agent
    from orchestrator.dispatcher import InProcessTransport
    from orchestrator.registry import DEFAULT_REGISTRY

    registry = DEFAULT_REGISTRY
    if not direct_answers:
        registry = registry.with_tools(dataclasses.replace(t, answers_directly=False) for t in registry)
    transport = InProcessTransport()

    def build() -> Any:
        return Agent(registry, Replay(script(direct_answers)), transport)

    def converse(agent: Any) -> tuple[list[float], list]:
        history: list[dict[str, Any]] = []
        times = []
        for text, _, _ in TURNS:
            start = time.perf_counter()
            record = agent.run_turn(text, history)
            history.extend(record.messages)
            times.append(time.perf_counter() - start)
        return times, history

    return build, converse


# ---------------------------------------------------------------- Strands
def strands_loop() -> tuple[Callable[[], Any], Callable[[Any], tuple[list[float], list]]]:
    from strands import Agent, tool
    from strands.models import Model

    from orchestrator.registry import ORDER_INQUIRY, RETURNS_INQUIRY
    from tools import orders, returns

    class ScriptedStrandsModel(Model):
        """The smallest Strands model provider: replays scripted assistant messages as the
        Converse stream events Strands' ``process_stream`` reads."""

        def __init__(self, messages: list[dict[str, Any]]) -> None:
            self._next = iter(messages)
            self.calls = 0

        def update_config(self, **model_config: Any) -> None:
            pass

        def get_config(self) -> Any:
            return {}

        async def structured_output(self, output_model, prompt, system_prompt=None, **kwargs):
            raise NotImplementedError("no structured output in this benchmark")
            yield  # an async generator, as the interface says

        async def stream(self, messages, tool_specs=None, system_prompt=None, **kwargs):
            message = next(self._next)
            self.calls += 1
            uses = False
            yield {"messageStart": {"role": "assistant"}}
            for block in message["content"]:
                if "toolUse" in block:
                    uses, use = True, block["toolUse"]
                    yield {"contentBlockStart": {"start": {"toolUse": {"toolUseId": use["toolUseId"],
                                                                       "name": use["name"]}}}}
                    yield {"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(use["input"])}}}}
                else:
                    yield {"contentBlockDelta": {"delta": {"text": block["text"]}}}
                yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "tool_use" if uses else "end_turn"}}
            yield {"metadata": {"usage": {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0},
                                "metrics": {"latencyMs": 0}}}

    def as_result(response: dict[str, Any]) -> dict[str, Any]:
        # Found and not found are both answers (our loop's answer_usable); the rest is an error.
        status = "success" if response.get("statusCode") in (200, 404) else "error"
        content = ([{"json": response["data"]}] if response.get("data") else []) + [{"text": response.get("body", "")}]
        return {"status": status, "content": content}

    @tool(name=ORDER_INQUIRY.name, description=ORDER_INQUIRY.description,
          inputSchema={"json": ORDER_INQUIRY.json_schema()})
    def order_inquiry(order_id: str) -> dict[str, Any]:
        return as_result(orders.lambda_handler({"orderId": order_id}, None))

    @tool(name=RETURNS_INQUIRY.name, description=RETURNS_INQUIRY.description,
          inputSchema={"json": RETURNS_INQUIRY.json_schema()})
    def returns_inquiry(return_id: str) -> dict[str, Any]:
        return as_result(returns.lambda_handler({"returnId": return_id}, None))

    def build() -> Any:
        return Agent(model=ScriptedStrandsModel(script(direct_answers=False)),
                     tools=[order_inquiry, returns_inquiry], callback_handler=None)

    def converse(agent: Any) -> tuple[list[float], list]:
        times = []
        for text, _, _ in TURNS:
            start = time.perf_counter()
            agent(text)
            times.append(time.perf_counter() - start)
        return times, agent.messages

    return build, converse


# ---------------------------------------------------------------- measuring
def cold_imports() -> dict[str, float]:
    """Median wall ms of each import in a fresh interpreter, less a bare interpreter's start."""
    snippets = {"bare": "pass", "ours": OURS_IMPORT, "strands": STRANDS_IMPORT}
    walls: dict[str, list[float]] = {k: [] for k in snippets}
    for code in snippets.values():  # warm the file system cache
        subprocess.run([sys.executable, "-c", code], check=True)
    order = list(snippets)
    for run in range(IMPORT_RUNS):
        for key in order[run % 3:] + order[:run % 3]:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", snippets[key]], check=True)
            walls[key].append((time.perf_counter() - start) * 1000)
    bare = statistics.median(walls["bare"])
    out = {"bare": bare}
    out.update({k: statistics.median(v) - bare for k, v in walls.items() if k != "bare"})
    return out


def modules_loaded(code: str) -> int:
    done = subprocess.run([sys.executable, "-c", f"import sys; n = len(sys.modules); {code}; "
                           "print(len(sys.modules) - n)"], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1])


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def main() -> int:
    try:
        import strands  # noqa: F401
        from strands import Agent  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any reason strands cannot load means: skip
        print(f"vs_strands: skipped: strands is not importable here ({type(exc).__name__}); "
              "install benchmarks/requirements-strands.txt into .venv-bench and run it there")
        return 0
    from importlib.metadata import version

    os.environ["STORE_PATH"] = os.path.join(tempfile.mkdtemp(prefix="vs-strands-"), "store.sqlite3")
    strands_out = io.StringIO()  # anything either loop prints lands here, not among the figures

    variants = {"ours, direct answers": ours(True), "ours, model writes reply": ours(False),
                "strands": strands_loop()}
    turn_times: dict[str, list[list[float]]] = {k: [] for k in variants}
    build_times: dict[str, list[float]] = {k: [] for k in variants}
    last: dict[str, list] = {}
    model_calls: dict[str, int] = {}

    def one(key: str, keep: bool) -> None:
        build, converse = variants[key]
        with contextlib.redirect_stdout(strands_out):
            start = time.perf_counter()
            agent = build()
            built = time.perf_counter() - start
            times, messages = converse(agent)
        if keep:
            build_times[key].append(built)
            turn_times[key].append(times)
        last[key] = messages
        model_calls[key] = agent.model.calls

    keys = list(variants)
    for _ in range(WARMUP):  # the first tool call opens and seeds the store; imports settle
        for key in keys:
            one(key, keep=False)
    for block in range(CONVERSATIONS // BLOCK):
        for key in keys[block % 3:] + keys[:block % 3]:
            for _ in range(BLOCK):
                one(key, keep=True)

    imports = cold_imports()
    mods_ours, mods_strands = modules_loaded(OURS_IMPORT), modules_loaded(STRANDS_IMPORT)

    # Did both loops do the same thing? Same messages (roles, blocks, result statuses) and data.
    same = (shape(last["ours, model writes reply"]) == shape(last["strands"])
            and result_data(last["ours, model writes reply"]) == result_data(last["strands"]))
    tool_calls = {k: sum("toolResult" in b for m in v for b in m["content"]) for k, v in last.items()}

    def med_us(values: list[float]) -> float:
        return statistics.median(values) * 1e6

    per_turn = {k: [t for conv in v for t in conv] for k, v in turn_times.items()}
    by_index = {k: [[conv[i] for conv in v] for i in range(len(TURNS))] for k, v in turn_times.items()}
    theirs = "strands"

    print(f"vs_strands: python {platform.python_version()}, strands-agents {version('strands-agents')}, "
          f"{platform.machine()} x{os.cpu_count()}")
    print(f"conversation: {len(TURNS)} user turns ({', '.join(TURN_LABELS)}); {CONVERSATIONS} conversations "
          f"per loop after {WARMUP} warm-up, alternated in blocks of {BLOCK}")
    print(f"same messages and tool data, ours (model writes reply) vs strands: {'yes' if same else 'NO'}")
    for key in keys:
        print(f"  {key:26s} model calls {model_calls[key]}, tool calls {tool_calls[key]}, "
              f"messages {len(last[key])} per conversation")
    print()
    print(f"cold import, wall ms less a bare interpreter ({imports['bare']:.1f} ms), median of {IMPORT_RUNS}:")
    print(f"  {OURS_IMPORT:48s} {imports['ours']:8.1f} ms  (+{mods_ours} modules)")
    print(f"  {STRANDS_IMPORT:48s} {imports['strands']:8.1f} ms  (+{mods_strands} modules)")
    print(f"  ratio ours/strands: {imports['ours'] / imports['strands']:.3f}")
    print()
    header = "".join(f"{f'turn {i + 1} ({label})':>20s}" for i, label in enumerate(TURN_LABELS))
    print(f"per-turn wall time, us, median (p95 over all {CONVERSATIONS * len(TURNS)} turns):")
    print(f"  {'':26s}{'all turns':>22s}{header}")
    for key in keys:
        cells = "".join(f"{med_us(col):20.0f}" for col in by_index[key])
        print(f"  {key:26s}{med_us(per_turn[key]):12.0f} ({p95(per_turn[key]) * 1e6:7.0f}){cells}")
    for key, label in zip(keys[:2], ("ratio direct/strands", "ratio reply/strands")):
        cells = "".join(f"{statistics.median(a) / statistics.median(b):20.3f}"
                        for a, b in zip(by_index[key], by_index[theirs]))
        ratio = statistics.median(per_turn[key]) / statistics.median(per_turn[theirs])
        print(f"  {label:26s}{ratio:12.3f}{'':10s}{cells}")
    print()
    print("building the agent (once per conversation, not in the turns), us, median:")
    for key in keys:
        print(f"  {key:26s}{med_us(build_times[key]):10.0f}")
    print(f"  ratio ours/strands: {statistics.median(build_times[keys[1]]) / statistics.median(build_times[theirs]):.3f}")
    printed = strands_out.getvalue()
    if printed:
        print(f"note: the loops wrote {len(printed)} characters to stdout during the runs (kept out of the figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
