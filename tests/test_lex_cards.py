"""Yes/No buttons (a Lex V2 ImageResponseCard) after a confirmation question, on text channels only."""
import pytest

from orchestrator import handler, lex
from orchestrator.memory import InMemoryConversationStore
from orchestrator.samples import load_event, text_event
from orchestrator.turn import TurnRecord
from tests.lex_contract import problems

QUESTION = "Cancel order 37129: 2 x Sunglasses, $99.98? Say yes to confirm."
YES_NO = [{"text": "Yes", "value": "yes"}, {"text": "No", "value": "no"}]


class OneRecord:
    """An agent that answers every turn with the same record."""

    def __init__(self, record: TurnRecord) -> None:
        self.record, self.hooks = record, []

    def run_turn(self, text, history=None, deadline=None, identity=None, state=None):
        return self.record


@pytest.fixture
def answering():
    def use(record: TurnRecord):
        handler.set_agent(OneRecord(record))
        return handler

    handler.set_store(InMemoryConversationStore())
    yield use
    handler.set_agent(None)
    handler.set_store(None)


def _confirm() -> TurnRecord:
    return TurnRecord(action="clarify", answer=QUESTION, reason="confirm", tool="cancel_order")


def test_a_confirmation_question_gets_yes_and_no_buttons_after_the_text(answering):
    event = text_event("I want to cancel order 37129")
    response = answering(_confirm()).lambda_handler(event)
    assert response["sessionState"]["dialogAction"] == {"type": "ElicitIntent"}
    text, card = response["messages"]
    assert text == {"contentType": "PlainText", "content": QUESTION}
    assert card["contentType"] == "ImageResponseCard"
    assert card["imageResponseCard"]["buttons"] == YES_NO
    assert 1 <= len(card["imageResponseCard"]["title"]) <= 250
    assert problems(response, event, strict=True) == []


@pytest.mark.parametrize("name", ["fallback_speech", "fallback_dtmf"])
def test_a_caller_hears_only_the_question(answering, name):
    event = load_event(name)
    response = answering(_confirm()).lambda_handler(event)
    [message] = response["messages"]
    assert message["contentType"] in ("SSML", "PlainText")
    assert "Sunglasses" in message["content"]
    assert problems(response, event, strict=True) == []


@pytest.mark.parametrize("reason", ["missing_id", "model_asked", "empty_input", "identify"])
def test_other_questions_get_no_card(answering, reason):
    event = text_event("Where is my order?")
    record = TurnRecord(action="clarify", answer="What is your order number?", reason=reason)
    response = answering(record).lambda_handler(event)
    [message] = response["messages"]
    assert message["contentType"] == "PlainText"
    assert problems(response, event, strict=True) == []


def test_an_answer_with_reason_confirm_but_not_a_question_gets_no_card(answering):
    event = text_event("yes")
    record = TurnRecord(action="answer", answer="Order 37129 has been cancelled.", reason="confirm")
    response = answering(record).lambda_handler(event)
    assert [m["contentType"] for m in response["messages"]] == ["PlainText"]


def test_a_long_question_is_cut_to_fit_the_card_title():
    event = lex.LexEvent(text_event("x"))
    question = "Cancel " + ", ".join(f"item {i} of a long order with 😀 many lines" for i in range(40)) + "?"
    response = lex.elicit_intent(event, question, buttons=lex.CONFIRM_BUTTONS)
    title = response["messages"][1]["imageResponseCard"]["title"]
    assert title.startswith("Cancel item 0") and title.endswith("\u2026")
    assert problems(response, text_event("x"), strict=True) == []


def test_buttons_are_kept_within_lex_limits():
    event = lex.LexEvent(text_event("x"))
    buttons = [{"text": "A" * 80, "value": "a"}, {"text": "", "value": "b"}, {"text": "C", "value": "c" * 51},
               {"text": "D", "value": ""}, "not a button"] + [{"text": f"B{i}", "value": f"b{i}"} for i in range(7)]
    response = lex.elicit_intent(event, "Which one?", buttons=buttons)
    card = response["messages"][1]["imageResponseCard"]
    assert len(card["buttons"]) == 5
    assert card["buttons"][0]["value"] == "a" and len(card["buttons"][0]["text"]) <= 50
    assert [b["value"] for b in card["buttons"][1:]] == ["b0", "b1", "b2", "b3"]
    assert problems(response, text_event("x"), strict=True) == []


def test_no_usable_button_means_no_card():
    event = lex.LexEvent(text_event("x"))
    response = lex.elicit_intent(event, "Which one?", buttons=[{"text": "", "value": ""}])
    assert len(response["messages"]) == 1


def test_the_checker_rejects_a_card_lex_would_refuse():
    event = text_event("x")
    response = lex.elicit_intent(lex.LexEvent(event), "Sure?", buttons=lex.CONFIRM_BUTTONS)
    card = response["messages"][1]["imageResponseCard"]
    card["buttons"] = [{"text": "Yes"}] + [{"text": str(i), "value": str(i)} for i in range(5)]
    card["title"] = ""
    found = problems(response, event)
    assert any("buttons[0].value" in p and "[required]" in p for p in found)
    assert any("[count]" in p and "buttons" in p for p in found)
    assert any("[length]" in p and "title" in p for p in found)
