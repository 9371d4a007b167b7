"""The message building blocks and the schema checker do what their docstring examples show."""
import doctest

import pytest

from orchestrator import messages, schema
from orchestrator.messages import append_results, assistant, customer_texts, tool_result, tool_use, user_text


@pytest.mark.parametrize("module", [messages, schema])
def test_docstring_examples_run(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0


def test_customer_texts_are_the_users_words_not_tool_results():
    history = [user_text("Where is 123456?"), assistant([tool_use("t1", "order_inquiry", {"order_id": "123456"})])]
    append_results(history, [tool_result("t1", text="Order 654321 shipped.")])
    assert customer_texts(history) == ["Where is 123456?"]
