"""The output parser and the output interpreter.

The output parser (``answer_text``) turns a tool's answer into the customer's words. The
interpreter (``covers``) is the blog's filter for "What is the impact of return rtn001 on world
peace?": before any call, it checks that the question asks only about things the tools cover. (The
blog asked the model after the call whether the tool's answer fitted; a small model said no to
plain look-ups, so the question is judged instead, and a found answer is never vetoed.)
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Mapping

from .registry import Registry, Tool
from .replies import MAX_TOOL_SENTENCE_CHARS, NOT_FOUND_REPLY, UNAVAILABLE_REPLY, clean_text, looks_internal
from .turn import ToolResult

# Words that carry no topic. Everything else in a question must be something a tool covers.
_STOPWORDS = frozenset(
    """a about above after again all am an and any are as at be been before being below but by can
    could did do does doing done for from get got had has have having he her here hers him his how i
    i'd i'm i've if in into is it it's its just know let like me might mine more most much must my
    need no not now of off on once only or other our out over please pls said say see she should so
    some still such tell than thank thanks that the their them then there these they this those
    through to too under until up us very want was we were what when where whether which while who
    whom why will with would yet you your yours hi hello hey okay ok yes also already really right
    way check checking look looking find update info information wondering guys could've isn't
    hasn't haven't didn't doesn't don't won't can't wasn't weren't one last since long ago day days
    week weeks today yesterday morning afternoon evening sorry kindly""".split()
)

# Words of the domain that are not in any tool's examples but belong to these questions.
_DOMAIN = frozenset(
    """order orders purchase purchased bought buy package parcel shipment shipping ship delivery
    deliver arrive arrival tracking track carrier courier status number id item items product
    return returned returning refund refunded money back credit processed process received receive
    send sent reject rejected cancel cancelled canceled date eta late delayed lost missing placed
    amount quantity estimated expected yet progress happen happened account""".split()
)

_WORD = re.compile(r"[a-z][a-z']*")
OFF_TOPIC_MIN_WORDS = 3
OFF_TOPIC_SHARE = 2 / 3


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=16)
def _vocabulary(registry: Registry) -> frozenset[str]:
    words: set[str] = set(_DOMAIN)
    for tool in registry:
        words.update(_WORD.findall(tool.description.lower()))
        for example in tool.examples:
            words.update(_WORD.findall(example.utterance.lower()))
    return frozenset(_stem(w) for w in words)


def _content_words(text: str, registry: Registry) -> list[str]:
    for parameter in registry.id_parameters():
        text = parameter.finder.sub(" ", text)
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


def uncovered_words(text: str, registry: Registry) -> list[str]:
    """The topic words of ``text`` that no tool covers (ids and stopwords aside)."""
    vocabulary = _vocabulary(registry)
    return [w for w in _content_words(text, registry) if _stem(w) not in vocabulary]


_SENTENCE_END = re.compile(r"(?<=[.?!;])\s+")


def _sentences_with_ids(text: str, registry: Registry) -> list[str]:
    """The sentences that mention an id: what the customer asks of a tool.

    "Has order 123456 shipped? My name is Jane." is judged on its first sentence only.
    """
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    with_ids = [s for s in sentences if any(p.find_all(s) for p in registry.id_parameters())]
    return with_ids or [text]


def covers(text: str, registry: Registry) -> bool:
    """True unless the question is mostly about something no tool covers.

    A sentence is off-topic when at least ``OFF_TOPIC_MIN_WORDS`` of its topic words, and more than
    ``OFF_TOPIC_SHARE`` of them, are outside every tool's vocabulary ("the impact of return rtn001 on
    world peace": impact, world, peace). Both were tuned on evals/devset.jsonl: a looser rule
    (2 words, half) refused 1 in 9 real order look-ups for words like "assistance locating".
    """
    for sentence in _sentences_with_ids(text, registry):
        off_topic = uncovered_words(sentence, registry)
        topic = _content_words(sentence, registry)
        if not (len(off_topic) >= OFF_TOPIC_MIN_WORDS and len(off_topic) > OFF_TOPIC_SHARE * len(topic)):
            return True
    return False


def answer_text(tool: Tool, result: ToolResult, arguments: Mapping[str, str] | None = None) -> str:
    """The output parser: what the customer reads, always in words this agent chose.

    A found item is the tool's sentence, cleaned (printable, one line, length-capped); a 404 is
    our own "couldn't find" for the id we validated; anything else (a 4xx or 5xx whose text may
    be a stack trace, or a 200 that reads like one) is our apology.
    """
    if result.status_code == 200 and result.body and not looks_internal(result.body):
        sentence = clean_text(result.body, MAX_TOOL_SENTENCE_CHARS)
        if sentence:
            return sentence
    if result.status_code == 404 and arguments:
        return NOT_FOUND_REPLY.format(noun=tool.noun, key=next(iter(arguments.values())))
    return UNAVAILABLE_REPLY.format(noun=tool.noun)


def conflict_text(tool: Tool, result: ToolResult, arguments: Mapping[str, str] | None = None) -> str:
    """Why a change was not made (a 409), rebuilt from the tool's data in our words."""
    from .confirm import fill

    data = {**dict(arguments or {}), **result.data}
    text = fill(tool.conflict, data) if tool.conflict else None
    key = next(iter((arguments or {}).values()), "")
    return text or f"Sorry, {tool.noun} {key} can't be changed now.".replace("  ", " ")


def answer_usable(result: ToolResult) -> bool:
    """Whether ``answer_text`` gives the tool's own answer (found, or not found)."""
    if result.status_code == 404:
        return True
    return result.status_code == 200 and bool(clean_text(result.body)) and not looks_internal(result.body)
