"""`python -m backend ask "question" [--collection NAME] [--session ID] [--json]` and `--batch FILE.jsonl`."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from backend.jsonl import json_objects
from backend.models import Answer, GroundworkError, InputError
from backend.settings import get_settings

if TYPE_CHECKING:
    from backend.client import ServerClient


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ask", help="answer a question from a collection, with verified citations",
        description="Answer a question from a collection's documents, with citations checked against their sources. "
                    "Without --session a new conversation starts; its id is printed so a follow-up can continue it.")
    parser.add_argument("question", nargs="?", help="the question (omit with --batch)")
    parser.add_argument("--collection", default=None, help="collection to ask (default from settings)")
    parser.add_argument("--session", default=None, help="conversation id to continue (follow-up questions)")
    parser.add_argument("--batch", type=Path, default=None, metavar="FILE.jsonl",
                        help='one {"id": ..., "question": ...} per line; prints one JSON object per line')
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--mode", choices=["bm25", "dense", "hybrid"], default=None, help="retriever (default from settings)")
    parser.add_argument("--k", type=int, default=None, help="chunks given to the generator (default from settings)")
    parser.add_argument("--generator", choices=["extractive", "openai", "vllm"], default=None,
                        help="answer generator (default from settings)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the answer cache")
    parser.set_defaults(handler=run, remote=run_remote)


def answer_json(answer: Answer) -> dict:
    """The CLI's JSON contract (extra keys beyond the documented ones are additive)."""
    return {
        "answer": answer.text,
        "citations": [
            {"document_id": c.document_id, "chunk_id": c.chunk_id, "title": c.title, "quote": c.quote,
             "score": c.score, "marker": c.marker, "supported": c.supported, "page": c.page,
             "heading_path": list(c.heading_path)}
            for c in answer.citations
        ],
        "grounded": answer.grounded,
        "latency_ms": answer.latency_ms,
        "cached": answer.cached,
        "found": answer.found,
        "session": answer.conversation_id or None,
        "trace_id": answer.trace_id or None,
        "generator": answer.generator,
        "notices": answer.notices,
    }


ANSWER_KEYS = ("answer", "citations", "grounded", "latency_ms", "cached", "found", "session", "trace_id", "generator",
               "notices")


def read_batch(path: Path) -> list[tuple[object, str]]:
    """(id, question) per line; any malformed line fails the whole file before anything is asked."""
    if not path.is_file():
        raise InputError(f"--batch {path}: no such file")
    items = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"--batch {path}: not UTF-8 text") from None
    for number, record in json_objects(text, lambda n: f"--batch {path} line {n}", bad_json="not JSON"):
        if "question" not in record or "id" not in record:
            raise InputError(f'--batch {path} line {number}: needs an object with "id" and "question"')
        if not isinstance(record["question"], str):
            raise InputError(f"--batch {path} line {number}: question must be a string")
        items.append((record["id"], record["question"]))
    if not items:
        raise InputError(f"--batch {path}: no questions in the file")
    return items


def _where(citation: dict) -> str:
    parts = []
    if citation.get("page") is not None:
        parts.append(f"p. {citation['page']}")
    if citation.get("heading_path"):
        parts.append(" > ".join(citation["heading_path"]))
    return f" ({', '.join(parts)})" if parts else ""


def print_human(answer: dict, streamed: bool) -> None:
    """An answer in answer_json's shape (local, or the server's), for a person; `streamed`: its text is printed."""
    if not streamed:
        print(answer["answer"])
    else:
        print()
    for notice in answer["notices"]:
        print(f"note: {notice}")
    if answer["citations"]:
        print()
    for c in answer["citations"]:
        flag = "supported" if c["supported"] else "NOT SUPPORTED"
        print(f"[{c['marker']}] {c['title']}{_where(c)} - support {c['score']:.2f} ({flag})")
        print(f'    "{c["quote"]}"')
    cached = ", from cache" if answer["cached"] else ""
    print(f"\n{'grounded' if answer['grounded'] else 'not grounded'}, {answer['latency_ms']:.0f} ms{cached}")
    if answer["session"]:
        print(f"session {answer['session']} (follow up with --session {answer['session']})")


def _checked_batch(args) -> list[tuple[object, str]] | None:
    if args.batch is None and args.question is None:
        raise InputError('question: give a question, e.g. `ask "What does a SWIFT transfer cost?"`, or --batch FILE.jsonl')
    if args.batch is not None and args.question is not None:
        raise InputError("give either a question or --batch FILE.jsonl, not both")
    return read_batch(args.batch) if args.batch is not None else None


def run(args) -> int:
    from backend.platform import Platform

    settings = get_settings()
    batch = _checked_batch(args)
    options = {"mode": args.mode, "k": args.k, "generator": args.generator, "use_cache": not args.no_cache}
    with Platform(settings) as platform:
        rag = platform.chat
        if batch is not None:
            return _run_batch(rag, batch, args, options)
        if args.json:
            answer = rag.ask(args.question, args.collection, args.session, **options)
            print(json.dumps(answer_json(answer), default=str))
            return 0
        stream = rag.ask_stream(args.question, args.collection, args.session, **options)
        for delta in stream:
            print(delta, end="", flush=True)
        print_human(answer_json(stream.answer), streamed=True)
    return 0


def _run_batch(rag, batch, args, options) -> int:
    return _print_batch(batch, lambda question: answer_json(
        rag.ask(question, args.collection, args.session, remember=args.session is not None, **options)))


def _print_batch(batch: list[tuple[object, str]], answer: Callable[[str], dict]) -> int:
    failed = 0
    for item_id, question in batch:
        try:
            record = {"id": item_id, **answer(question)}
        except GroundworkError as exc:  # one bad question does not stop the batch
            failed += 1
            record = {"id": item_id, "error": str(exc)}
        print(json.dumps(record, default=str), flush=True)
    if failed:
        print(f"{failed} of {len(batch)} questions failed", file=sys.stderr)
    return 1 if failed else 0


def run_remote(args, client: ServerClient) -> int:
    """The same command through the running server's POST /api/v1/ask (the server's generator and cache answer)."""
    batch = _checked_batch(args)
    for flag, given in (("--generator", args.generator is not None), ("--no-cache", args.no_cache)):
        if given:
            raise InputError(f"{flag}: the server at {client.url} answers with its own settings; drop {flag}, or stop "
                             "the server to answer in this process", field=flag.lstrip("-").replace("-", "_"))
    options = {"collection": args.collection, "mode": args.mode, "k": args.k}

    def ask(question: str, conversation_id: str | None) -> dict:
        data = client.post("/api/v1/ask", {"question": question, "conversation_id": conversation_id, **options})
        return {key: data.get(key) for key in ANSWER_KEYS}

    if batch is not None:
        return _print_batch(batch, lambda question: ask(question, args.session))
    answer = ask(args.question, args.session)
    if args.json:
        print(json.dumps(answer, default=str))
    else:
        print_human(answer, streamed=False)
    return 0
