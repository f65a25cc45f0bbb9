"""`python -m backend ask "question" [--collection NAME] [--session ID] [--json]` and `--batch FILE.jsonl`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from backend.jsonl import json_objects
from backend.models import Answer, GroundworkError, InputError
from backend.settings import get_settings


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
    parser.set_defaults(handler=run)


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


def _where(citation) -> str:
    parts = []
    if citation.page is not None:
        parts.append(f"p. {citation.page}")
    if citation.heading_path:
        parts.append(" > ".join(citation.heading_path))
    return f" ({', '.join(parts)})" if parts else ""


def _print_human(answer: Answer, streamed: bool) -> None:
    if not streamed:
        print(answer.text)
    else:
        print()
    for notice in answer.notices:
        print(f"note: {notice}")
    if answer.citations:
        print()
    for c in answer.citations:
        flag = "supported" if c.supported else "NOT SUPPORTED"
        print(f"[{c.marker}] {c.title}{_where(c)} - support {c.score:.2f} ({flag})")
        print(f'    "{c.quote}"')
    cached = ", from cache" if answer.cached else ""
    print(f"\n{'grounded' if answer.grounded else 'not grounded'}, {answer.latency_ms:.0f} ms{cached}")
    if answer.conversation_id:
        print(f"session {answer.conversation_id} (follow up with --session {answer.conversation_id})")


def run(args) -> int:
    from backend.platform import Platform

    settings = get_settings()
    if args.batch is None and args.question is None:
        raise InputError('question: give a question, e.g. `ask "What does a SWIFT transfer cost?"`, or --batch FILE.jsonl')
    if args.batch is not None and args.question is not None:
        raise InputError("give either a question or --batch FILE.jsonl, not both")
    batch = read_batch(args.batch) if args.batch is not None else None
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
        _print_human(stream.answer, streamed=True)
    return 0


def _run_batch(rag, batch, args, options) -> int:
    failed = 0
    for item_id, question in batch:
        try:
            answer = rag.ask(question, args.collection, args.session, remember=args.session is not None, **options)
            record = {"id": item_id, **answer_json(answer)}
        except GroundworkError as exc:  # one bad question does not stop the batch
            failed += 1
            record = {"id": item_id, "error": str(exc)}
        print(json.dumps(record, default=str), flush=True)
    if failed:
        print(f"{failed} of {len(batch)} questions failed", file=sys.stderr)
    return 1 if failed else 0
