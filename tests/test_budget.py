"""The turn's clock: one deadline, enforced around whole calls, and the bytes we accept back."""
import threading
import time

import pytest

from orchestrator import budget, wire
from orchestrator.budget import Deadline, DeadlineExceeded, run_within


def test_run_within_returns_the_value_and_re_raises_the_calls_own_error():
    assert run_within(1.0, lambda: 42) == 42
    with pytest.raises(KeyError):
        run_within(1.0, lambda: {}["missing"])


def test_run_within_gives_up_at_the_deadline_whatever_the_call_does():
    release = threading.Event()
    started = time.perf_counter()
    with pytest.raises(DeadlineExceeded):
        run_within(0.2, lambda: release.wait(10), name="slow call")
    assert time.perf_counter() - started < 0.5
    assert budget.abandoned_calls() >= 1
    release.set()  # the abandoned call ends; the count goes back down
    for _ in range(100):
        if budget.abandoned_calls() == 0:
            break
        time.sleep(0.01)
    assert budget.abandoned_calls() == 0


def test_too_many_hung_calls_fail_fast_instead_of_piling_up_threads(monkeypatch):
    monkeypatch.setattr(budget, "MAX_ABANDONED_CALLS", 2)
    release = threading.Event()
    try:
        for _ in range(2):
            with pytest.raises(DeadlineExceeded):
                run_within(0.05, lambda: release.wait(10))
        started = time.perf_counter()
        with pytest.raises(budget.TooManyAbandonedCalls):
            run_within(5.0, lambda: 1)
        assert time.perf_counter() - started < 0.1
    finally:
        release.set()
        for _ in range(100):
            if budget.abandoned_calls() == 0:
                break
            time.sleep(0.01)


def test_no_time_left_means_no_call():
    called = []
    with pytest.raises(DeadlineExceeded):
        run_within(0, lambda: called.append(1))
    assert called == []


def test_deadline_keeps_the_margin_for_the_reply():
    class Context:
        def get_remaining_time_in_millis(self):
            return 3_500

    assert 1.4 < Deadline.for_lambda(Context()).remaining() <= 1.5
    assert Deadline.for_lambda(type("C", (), {"get_remaining_time_in_millis": lambda self: "junk"})()).remaining() > 27


@pytest.mark.parametrize("raw,why", [
    (b"", "empty response"),
    (b'{"generated_texts": [', "not JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"x" * (wire.MAX_MODEL_RESPONSE_BYTES + 1), "larger than"),
])
def test_wire_turns_every_bad_body_into_one_error_type(raw, why):
    with pytest.raises(wire.WireError, match=why):
        wire.loads(raw, wire.MAX_MODEL_RESPONSE_BYTES)


def test_read_capped_stops_reading_past_the_limit():
    import io

    assert wire.read_capped(io.BytesIO(b"abc"), 3) == b"abc"
    with pytest.raises(wire.WireError):
        wire.read_capped(io.BytesIO(b"abcd"), 3)
