"""The committed evaluation sets: their figures on the embedded default, and the README's tables."""
import io
import json
import re
import sys
from pathlib import Path

import pytest

from orchestrator.evaluate import evaluate, format_report

ROOT = Path(__file__).resolve().parent.parent
EVALS = ROOT / "evals"
SETS = ("devset", "heldout", "unseen_tools")


def _lines(name):
    return (EVALS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def summaries(router):
    from orchestrator.agent import Agent
    from orchestrator.dispatcher import InProcessTransport
    from orchestrator.registry import DEFAULT_REGISTRY, LOOKUP_REGISTRY

    # The sets are labelled for the look-up tools (cancelling is a request no tool serves), so the
    # committed figures are measured on those; every tool's figures are checked below.
    agent = Agent(LOOKUP_REGISTRY, router, InProcessTransport())
    found = {name: evaluate(agent, _lines(name), io.StringIO()) for name in SETS}
    every_tool = Agent(DEFAULT_REGISTRY, router, InProcessTransport())
    found.update({f"{name}_all": evaluate(every_tool, _lines(name), io.StringIO()) for name in ("devset", "heldout")})
    return found


def test_the_dev_set_is_big_enough_and_labelled_from_public_data():
    lines = [json.loads(l) for l in _lines("devset")]
    assert len(lines) >= 600
    sources = {l["source"] for l in lines}
    assert sources == {"bitext", "clinc", "own"}
    behaviours = {l["expected"]["behavior"] for l in lines}
    assert behaviours == {"execute", "clarify", "refuse"}
    # Bitext's 8-15 digit ids were replaced by the agent's own 6-digit ones at the CSV's offsets.
    for line in lines:
        if line["source"] == "bitext" and line["expected"]["behavior"] == "execute":
            order_id = line["expected"]["arguments"]["order_id"]
            assert re.search(rf"(?<!\d){order_id}(?!\d)", line["messages"][-1]["content"])


def test_figures_on_the_embedded_default(summaries):
    """Floors under today's figures: a change that loses more than a little fails here."""
    dev, heldout = summaries["devset"], summaries["heldout"]
    assert dev["mean_reward"] >= 0.93 and dev["false_execute_rate"] <= 0.02
    assert dev["by_behavior"]["execute"]["accuracy"] >= 0.93
    assert heldout["macro_reward"] >= 0.93 and heldout["false_execute_rate"] <= 0.01
    assert summaries["unseen_tools"]["mean_reward"] >= 0.9


def test_every_tool_looks_up_as_well_and_never_executes_more_falsely(summaries):
    """With the account and cancel tools the look-ups hold, and no line falsely runs a tool more
    often (a cancel is never run: it needs an identified customer and a yes)."""
    for name in ("devset", "heldout"):
        every, lookups = summaries[f"{name}_all"], summaries[name]
        assert every["by_behavior"]["execute"]["accuracy"] >= lookups["by_behavior"]["execute"]["accuracy"] - 0.01
        assert every["false_execute_rate"] <= lookups["false_execute_rate"]


def _without_latency(text):
    return "\n".join(l for l in text.splitlines() if not l.startswith("latency per turn:"))


@pytest.mark.parametrize("name", SETS)
def test_the_readme_table_is_what_the_command_prints(summaries, name):
    """Every figure but the latency (which depends on the machine) is the command's output verbatim."""
    readme = _without_latency((ROOT / "README.md").read_text(encoding="utf-8"))
    assert _without_latency(format_report(summaries[name])) in readme, f"README table for {name} is stale"


@pytest.fixture(scope="module")
def build_devset():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_devset
    finally:
        sys.path.pop(0)
    return build_devset


def test_the_build_script_says_what_data_it_lacks(build_devset, tmp_path, capsys):
    assert build_devset.main(["--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out")]) == 2
    assert "lacks bitext/, clinc150/ or claude-tools-chatbot/" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    (tmp_path / "clinc150").mkdir()
    assert build_devset.clinc_file(tmp_path).name == "data_full.json"  # the oos-eval repository's own file
    (tmp_path / "clinc150" / "data_train_val.json").write_text("{}")
    assert build_devset.clinc_file(tmp_path).name == "data_train_val.json"


def test_the_sets_are_what_the_script_builds(build_devset, tmp_path):
    data = ROOT.parent / "shared" / "data"
    if not (data / "bitext").is_dir():
        pytest.skip(f"the public data is not at {data}; scripts/build_devset.py --data-dir rebuilds the sets")
    assert build_devset.main(["--data-dir", str(data), "--output-dir", str(tmp_path)]) == 0
    for name in SETS:
        assert (tmp_path / f"{name}.jsonl").read_bytes() == (EVALS / f"{name}.jsonl").read_bytes(), name
