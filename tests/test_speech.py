"""Replies for callers: SSML that Lex accepts and a caller can follow."""
import xml.dom.minidom

import pytest

from orchestrator.speech import MAX_SSML_CHARS, for_speech, to_ssml

SHIPPED = ("Order 123456 (3 x Herbal Handsoap, $20.97) shipped on 2026-10-10 with UPS, "
           "tracking number 1Z30824628194821.")


def test_ids_digit_by_digit_dates_as_dates_amounts_as_money_no_tracking_wall():
    ssml = to_ssml(SHIPPED)
    assert ssml == (
        '<speak>Order <say-as interpret-as="digits">123456</say-as> (3 Herbal Handsoap, $20.97) shipped on '
        '<say-as interpret-as="date" format="ymd">2026-10-10</say-as> with UPS; the tracking number is in '
        "your shipping confirmation email.</speak>")


def test_return_ids_are_spelled_then_read_as_digits():
    ssml = to_ssml("Return rtn003 (Ceramic Mug, order 250631) has been refunded: $1,019.50 on 2026-10-17.")
    assert '<say-as interpret-as="characters">RTN</say-as> <say-as interpret-as="digits">003</say-as>' in ssml
    assert "$1,019.50" in ssml and '<say-as interpret-as="digits">250631</say-as>' in ssml


@pytest.mark.parametrize("text", [
    "a < b & c ]]> <speak> </speak> \"quoted\" 'single'",
    "<say-as interpret-as=\"digits\">1</say-as> injected",
    "\x00 123456 \x00 0 \x00 \x01\x1f\ud800 \ufffe",
    SHIPPED * 3,
])
def test_always_well_formed_ssml_or_nothing(text):
    ssml = to_ssml(text)
    if ssml is None:
        assert len(text) > MAX_SSML_CHARS / 3
        return
    document = xml.dom.minidom.parseString(ssml)
    assert document.documentElement.tagName == "speak" and len(ssml) <= MAX_SSML_CHARS
    assert "<speak>" not in ssml[len("<speak>"):]  # the customer's own markup is escaped, not obeyed


def test_plain_speech_rewrite_keeps_the_sentence_otherwise():
    assert for_speech("Order 123456 was delivered on 2026-10-09 by FedEx.") == \
        "Order 123456 was delivered on 2026-10-09 by FedEx."
