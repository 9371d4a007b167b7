"""The fault suite: every fault of the model and of each tool, with 5 s and 3.5 s of Lambda time left.

Each case is one Lex turn through the deployed shape against stub servers on 127.0.0.1 (see
``tests/fault_scenarios.py``). Each must end before the Lambda's own time runs out and within the
turn's deadline (time left - 2 s, plus a little to build the reply), with the honest reply, the
right intent state, a valid Lex response, nothing internal in the message, and a turn record whose
reason names the failure. Every stub is stopped when its case ends.
"""
import pytest

from orchestrator.budget import DEFAULT_MARGIN_S
from tests.fault_scenarios import TARGETS, expected, faults_for, run_case
from tests.faults import LEAKED_ARN
from tests.lex_contract import no_internal_text, problems

# Building the reply and logging after the last call gives up; generous for a loaded CI machine.
SLACK_S = 0.6
CASES = [(target, fault, left) for target in TARGETS for fault in faults_for(target) for left in (5.0, 3.5)]


@pytest.mark.parametrize("target,fault,time_left", CASES, ids=[f"{t}-{f}-{s}s" for t, f, s in CASES])
def test_every_fault_ends_in_time_with_an_honest_reply(target, fault, time_left, local_store):
    outcome = run_case(target, fault, time_left, store_path=str(local_store))
    want = expected(target, fault)

    assert outcome.elapsed_s < time_left - DEFAULT_MARGIN_S + SLACK_S, f"took {outcome.elapsed_s:.2f}s"
    assert problems(outcome.response, strict=True) == []
    assert outcome.state == want.state
    assert want.message in outcome.message
    assert not no_internal_text(outcome.message) and LEAKED_ARN not in str(outcome.response)
    assert outcome.record["reason"] == want.reason, outcome.record
    assert outcome.record["fulfilled"] == (want.state == "Fulfilled")
    if want.state == "Failed":
        assert outcome.record["error"], "a failure's record says what failed"
