"""``python -m orchestrator``: ask one question, chat, or run the blog's cases through the Lex handler.

Planner, backend, transport and store come from flags, else from the environment
(``settings.py``), else the local defaults: the router planner, no LLM, tools in-process,
SQLite store.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import uuid
from typing import Any, Sequence

from .settings import MODEL_ADAPTERS, Settings, SettingsError, build_agent


def _add_agent_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("agent (flags override environment variables)")
    group.add_argument("--model-adapter", dest="model", choices=list(MODEL_ADAPTERS),
                       help="MODEL_ADAPTER (default: embedded, or flan with --planner fewshot|toolcall)")
    group.add_argument("--bedrock-model-id", dest="bedrock_model_id", help="BEDROCK_MODEL_ID, e.g. us.amazon.nova-lite-v1:0")
    group.add_argument("--planner", choices=["router", "fewshot", "toolcall"],
                       help="AGENT_PLANNER (default router)")
    group.add_argument("--backend", choices=["none", "sagemaker", "openai"], help="LLM_BACKEND (default none)")
    group.add_argument("--transport", choices=["inprocess", "lambda"], help="TOOL_TRANSPORT (default inprocess)")
    group.add_argument("--store", choices=["sqlite", "dynamodb"], help="STORE_BACKEND for in-process tools (default sqlite)")
    group.add_argument("--max-steps", type=int, help="MAX_STEPS (default 2)")
    group.add_argument("--endpoint-name", dest="sagemaker_endpoint_name", help="SAGEMAKER_ENDPOINT_NAME")
    group.add_argument("--payload-format", dest="sagemaker_payload_format", choices=["jumpstart", "tgi"],
                       help="SAGEMAKER_PAYLOAD_FORMAT (default jumpstart)")
    group.add_argument("--base-url", dest="openai_base_url", help="OPENAI_BASE_URL, e.g. http://127.0.0.1:8000/v1")
    group.add_argument("--model", dest="openai_model", help="OPENAI_MODEL")
    group.add_argument("--prompt-file", dest="fewshot_prompt_file",
                       help="FEWSHOT_PROMPT_FILE: the fewshot planner's prompt, with {question} in it")


def settings_from_args(args: argparse.Namespace) -> Settings:
    if getattr(args, "store", None):
        os.environ["STORE_BACKEND"] = args.store  # read by the tools' store, in this process
    overrides = {
        name: getattr(args, name, None)
        for name in ("model", "bedrock_model_id", "planner", "backend", "transport", "max_steps", "sagemaker_endpoint_name",
                     "sagemaker_payload_format", "openai_base_url", "openai_model", "fewshot_prompt_file")
    }
    return Settings.from_env(**overrides)


def _ask(agent: Any, text: str, history: list[dict[str, Any]], trace: bool) -> None:
    record = agent.run_turn(text, history)
    history.extend(record.messages)  # the conversation is the memory
    print(record.answer)
    if trace:
        print(json.dumps(record.to_dict(), indent=2))


def cmd_ask(args: argparse.Namespace) -> int:
    agent = build_agent(settings_from_args(args))
    _ask(agent, " ".join(args.text), [], args.trace)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    agent = build_agent(settings_from_args(args))
    history: list[dict[str, Any]] = []
    print("Ask about an order or a return (Ctrl-D or 'quit' to leave).", file=sys.stderr)
    while True:
        try:
            text = input("you> ")
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return 0
        if text.strip().lower() in {"quit", "exit"}:
            return 0
        print("agent> ", end="")
        _ask(agent, text, history, args.trace)


def cmd_demo(args: argparse.Namespace) -> int:
    """The blog's cases, then a clarify-then-id conversation, each as a Lex V2 event through the handler."""
    from . import handler
    from .samples import BLOG_CASES, text_event

    handler.set_agent(build_agent(settings_from_args(args)))
    # Each blog case is a conversation of its own; the last two are one conversation.
    run = uuid.uuid4().hex[:12]
    conversation = [(text, None) for text in BLOG_CASES] + [("Where is my order?", "carry"), ("it's 123456", "carry")]
    attributes: dict[str, str] = {}
    for number, (text, carry) in enumerate(conversation):
        session = f"demo-{run}-{'carry' if carry else number}"
        response = handler.lambda_handler(text_event(text, attributes if carry else None, session_id=session))
        state = response["sessionState"]
        if carry:
            attributes = state["sessionAttributes"]
        print(f"Q: {text}")
        # A question keeps the conversation open (ElicitIntent); an answer closes the intent.
        outcome = state["intent"]["state"] if "intent" in state else state["dialogAction"]["type"]
        print(f"A: {response['messages'][0]['content']}  [{outcome}]")
        print()
    return 0


class Progress:
    """``eval: 120/935 lines, 31 s`` on stderr every few seconds, for runs against a real model."""

    def __init__(self, every_s: float = 5.0, stream=None) -> None:
        self.every_s, self.stream = every_s, stream or sys.stderr
        self.started = self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.every_s or (done == total and now - self.started >= self.every_s):
            self.last = now
            print(f"eval: {done}/{total} lines, {now - self.started:.0f} s", file=self.stream, flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    """The chat page on 127.0.0.1 (``serve.py``), over the same Lex handler as ``demo``."""
    from . import handler, serve

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
    agent = build_agent(settings_from_args(args))
    warm_up = getattr(agent.planner, "warm_up", None)
    if warm_up:  # load the model now, not on the first message
        warm_up(agent.registry)
    handler.set_agent(agent)
    try:
        return serve.serve(args.port)
    except OSError as exc:  # the port is taken, or not ours to bind
        raise ValueError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}") from None


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_report
    from .registry import DEFAULT_REGISTRY, LOOKUP_REGISTRY

    registry = LOOKUP_REGISTRY if args.tools == "lookups" else DEFAULT_REGISTRY
    agent = build_agent(settings_from_args(args), registry=registry)
    warm_up = getattr(agent.planner, "warm_up", None)
    if warm_up:  # keep the one-off model load out of the per-turn latency figures
        warm_up(agent.registry)
    try:
        source = open(args.file, encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {args.file}: {exc.strerror}") from None
    output = open(args.output, "w", encoding="utf-8") if args.output else None
    try:
        with source:
            summary = evaluate(agent, source, sys.stderr, output, progress=Progress(),
                               run_sample_specs=args.run_sample_specs)
    finally:
        if output:
            output.close()
    print(format_report(summary))
    print(json.dumps(summary))
    return 0


def cmd_converse(args: argparse.Namespace) -> int:
    from .converse import check_settings, converse, figures, format_report

    settings = settings_from_args(args)
    check_settings(settings)
    try:
        with open(args.file, encoding="utf-8") as source:
            lines = source.readlines()
    except OSError as exc:
        raise ValueError(f"cannot read {args.file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"cannot read {args.file}: not UTF-8 text") from None
    agent = build_agent(settings)
    warm_up = getattr(agent.planner, "warm_up", None)
    if warm_up:  # keep the one-off model load out of the per-turn latency figures
        warm_up(agent.registry)
    try:
        output = open(args.output, "w", encoding="utf-8") if args.output else None
    except OSError as exc:
        raise ValueError(f"cannot write {args.output}: {exc.strerror}") from None
    try:
        summary = converse(agent, lines, sys.stderr, output, progress=Progress())
    finally:
        if output:
            output.close()
    if not summary["conversations"]:
        raise ValueError(f"no conversation in {args.file} could be read")
    print(format_report(summary))
    print(json.dumps(figures(summary)))
    return 0


def cmd_training_data(args: argparse.Namespace) -> int:
    from collections import Counter

    from .registry import DEFAULT_REGISTRY
    from .training import generate

    lines = list(generate(DEFAULT_REGISTRY, args.count, args.seed))
    text = "".join(json.dumps(line) + "\n" for line in lines)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise ValueError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    counts = Counter(line["reward_model"]["behavior"] for line in lines)
    print(f"wrote {len(lines)} lines ({', '.join(f'{b} {counts[b]}' for b in ('execute', 'clarify', 'refuse'))})"
          f" to {args.output or 'stdout'}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m orchestrator", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    ask = commands.add_parser("ask", help="answer one question and exit")
    ask.add_argument("text", nargs="+", help="the customer's question")
    ask.add_argument("--trace", action="store_true", help="also print the turn record as JSON")
    _add_agent_flags(ask)
    ask.set_defaults(run=cmd_ask)

    chat = commands.add_parser("chat", help="a small REPL; keeps the session between turns")
    chat.add_argument("--trace", action="store_true", help="print the turn record after each answer")
    _add_agent_flags(chat)
    chat.set_defaults(run=cmd_chat)

    demo = commands.add_parser("demo", help="run the blog's test cases through the Lex V2 handler")
    _add_agent_flags(demo)
    demo.set_defaults(run=cmd_demo)

    page = commands.add_parser("serve", help="a chat page on 127.0.0.1 over the Lex V2 handler (Ctrl-C to stop)")
    page.add_argument("--port", type=int, default=8000, help="the port on 127.0.0.1 (default 8000; 0: any free port)")
    _add_agent_flags(page)
    page.set_defaults(run=cmd_serve)

    evaluate = commands.add_parser("eval", help="score the agent on a labelled JSONL file")
    evaluate.add_argument("file", help="JSONL: messages+expected, or the RLVR prompt+reward_model format")
    evaluate.add_argument("--output", help="write one JSON line of predictions per input line")
    evaluate.add_argument("--tools", choices=["all", "lookups"], default="all",
                          help="all (default): every tool; lookups: the order and return look-ups alone, with "
                          "cancelling among the requests no tool serves (how the committed sets are labelled)")
    evaluate.add_argument("--run-sample-specs", action="store_true",
                          help="run lines that bring the claude-tools-chatbot sample's tool specs against the "
                          "store (read-only; never its cancel_order) instead of only recording their calls")
    _add_agent_flags(evaluate)
    evaluate.set_defaults(run=cmd_eval)

    conversations = commands.add_parser("converse", help="play scripted multi-turn conversations, each on a fresh sample store")
    conversations.add_argument("file", help="JSONL: id, identity, turns and expected changes, replies and never")
    conversations.add_argument("--output", help="write one JSON line of replies, changes and turn records per conversation")
    _add_agent_flags(conversations)
    conversations.set_defaults(run=cmd_converse)

    training = commands.add_parser("training-data", help="write RLVR fine-tuning lines (JSONL) from the registry")
    training.add_argument("--count", type=int, default=1000, help="how many lines (default 1000)")
    training.add_argument("--seed", type=int, default=0, help="the same seed gives the same lines (default 0)")
    training.add_argument("--output", help="the JSONL file to write (default: standard output)")
    training.set_defaults(run=cmd_training_data)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The per-turn INFO log is for Lambda; on a terminal it would drown the answers.
    logging.getLogger("orchestrator").setLevel(os.environ.get("LOG_LEVEL", "WARNING").upper())
    try:
        return args.run(args)
    except (SettingsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head`: the reader left; stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
