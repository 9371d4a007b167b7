"""The seeding custom resource answers CloudFormation exactly once, even when it runs out of time."""
import json
import threading
import time

import pytest

from tools import seed
from tools.store import load_seed

EVENT = {"RequestType": "Create", "ResponseURL": "https://cloudformation-custom-resource-response.example/x",
         "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", "RequestId": "r1",
         "LogicalResourceId": "SampleData", "ResourceProperties": {}}
LEFT_S = 2.5  # what the fake Lambda context says is left: the timer fires at LEFT_S - DEADLINE_MARGIN_S


class Context:
    """The one method of the Lambda context the handler uses, counting down from ``left_s``."""

    def __init__(self, left_s):
        self.deadline = time.monotonic() + left_s

    def get_remaining_time_in_millis(self):
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class Resource:
    """boto3 DynamoDB resource stand-in: every put_item goes to ``put``."""

    def __init__(self, put=lambda item: None):
        self.put, self.items = put, []

    def Table(self, name):  # noqa: N802 - boto3's name
        resource = self

        class Table:
            def put_item(self, Item, **_):  # noqa: N803
                resource.put(Item)
                resource.items.append((name, Item))

        return Table()


class Answers:
    """The opener: records each PUT to the response URL, with when it came."""

    def __init__(self, fail=False):
        self.sent, self.fail, self.got_one = [], fail, threading.Event()
        self.start = time.monotonic()

    def __call__(self, request, timeout):
        assert request.get_method() == "PUT" and 0 < timeout <= 10
        self.sent.append((time.monotonic() - self.start, json.loads(request.data)))
        self.got_one.set()
        if self.fail:
            raise OSError("connection reset")

    @property
    def statuses(self):
        return [body["Status"] for _, body in self.sent]


@pytest.fixture(autouse=True)
def tables(monkeypatch):
    monkeypatch.setenv("ORDERS_TABLE", "stack-OrdersTable-1")
    monkeypatch.setenv("RETURNS_TABLE", "stack-ReturnsTable-1")
    monkeypatch.setenv("CUSTOMERS_TABLE", "stack-CustomersTable-1")


def no_deadline_thread():
    return not [t for t in threading.enumerate() if t.name == "seed-deadline"]


def test_slow_seeding_answers_failed_once_before_the_function_times_out():
    answers = Answers()
    # Puts hang until CloudFormation has its answer, as a slow table would; but never past the
    # function's own deadline, so a handler that never answers fails this test rather than hanging it.
    hang_until = time.monotonic() + LEFT_S + 0.5
    resource = Resource(put=lambda item: answers.got_one.wait(max(0.0, hang_until - time.monotonic())))
    seed.lambda_handler(EVENT, Context(LEFT_S), resource=resource, opener=answers)
    assert answers.statuses == ["FAILED"], answers.sent
    [(when, body)] = answers.sent
    assert LEFT_S - seed.DEADLINE_MARGIN_S - 0.1 < when < LEFT_S  # on the timer, before Lambda's timeout
    assert "timed out" in body["Reason"] and body["RequestId"] == "r1"
    assert len(resource.items) == sum(len(load_seed(t)) for t in ("orders", "returns", "customers"))  # finished, unheard
    assert no_deadline_thread()


def test_a_normal_run_answers_success_once_and_no_late_failed():
    answers = Answers()
    resource = Resource()
    seed.lambda_handler(EVENT, Context(LEFT_S), resource=resource, opener=answers)
    assert answers.statuses == ["SUCCESS"]
    assert answers.sent[0][1]["Data"] == {"ordersWritten": len(load_seed("orders")),
                                          "returnsWritten": len(load_seed("returns")),
                                          "customersWritten": len(load_seed("customers"))}
    tables = {name for name, _ in resource.items}
    assert tables == {"stack-OrdersTable-1", "stack-ReturnsTable-1", "stack-CustomersTable-1"}
    assert no_deadline_thread()  # cancelled and joined before the handler returned
    time.sleep(LEFT_S - seed.DEADLINE_MARGIN_S + 0.2)  # past the moment the timer would have fired
    assert answers.statuses == ["SUCCESS"]


def test_an_exception_answers_failed_once():
    def broken(item):
        raise RuntimeError("table is gone")

    answers = Answers()
    seed.lambda_handler(EVENT, Context(LEFT_S), resource=Resource(put=broken), opener=answers)
    [(_, body)] = answers.sent
    assert body["Status"] == "FAILED" and body["Reason"] == "seeding failed: RuntimeError: table is gone"
    assert no_deadline_thread()


def test_an_undelivered_success_is_followed_by_one_failed_so_the_stack_does_not_wait_an_hour():
    answers = Answers(fail=True)
    seed.lambda_handler({**EVENT, "RequestType": "Delete", "PhysicalResourceId": "sample-data-seed"},
                        Context(LEFT_S), resource=Resource(), opener=answers)
    assert answers.statuses == ["SUCCESS", "FAILED"]  # nothing was delivered: one last try, then stop
    assert no_deadline_thread()


def test_a_hanging_success_put_gives_up_in_time_for_the_failed_answer():
    class Hanging(Answers):
        def __call__(self, request, timeout):
            super().__call__(request, timeout) if json.loads(request.data)["Status"] == "FAILED" else None
            if json.loads(request.data)["Status"] == "SUCCESS":
                self.sent.append((time.monotonic() - self.start, json.loads(request.data)))
                time.sleep(timeout)  # the PUT hangs for as long as it is allowed to
                raise TimeoutError("timed out")

    answers = Hanging()
    seed.lambda_handler(EVENT, Context(LEFT_S), resource=Resource(), opener=answers)
    assert answers.statuses == ["SUCCESS", "FAILED"]
    assert answers.sent[-1][0] < LEFT_S  # FAILED went out before the function would have timed out
    assert no_deadline_thread()


def test_without_a_context_there_is_no_timer():
    answers = Answers()
    seed.lambda_handler(EVENT, None, resource=Resource(), opener=answers)
    assert answers.statuses == ["SUCCESS"] and no_deadline_thread()
