"""`python -m backend simulate --questions FILE --rate QPS --duration SECONDS`: replay traffic through the real hot path."""
from __future__ import annotations

import json
import sys

from backend.models import InputError
from backend.settings import get_settings


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate", help="replay questions through the real pipeline in-process (fills dashboards, shows drift)",
        description="Send questions from FILE through the hot path at QPS for SECONDS (in-process, loopback only, "
                    "at most 50 QPS, 1 hour and 20,000 requests). Replaying a second question set shows drift.")
    parser.add_argument("--questions", required=True, help="text file (one question per line) or JSONL with 'question'")
    parser.add_argument("--rate", type=float, required=True, help="requests per second (at most 50)")
    parser.add_argument("--duration", type=float, required=True, help="seconds to run (at most 3600)")
    parser.add_argument("--collection", default=None, help="collection to ask (default from settings)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the question order")
    parser.add_argument("--in-order", action="store_true", help="cycle through the file in order instead of sampling")
    parser.add_argument("--no-cache", action="store_true", help="bypass the answer cache")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.set_defaults(handler=run, local_only="simulate replays traffic through this process's own pipeline and "
                        "store, not over HTTP (to send questions through the server, use `ask --batch FILE.jsonl`)")


def run(args) -> int:
    from backend.observability.simulate import check_bounds, check_loopback, load_questions, replay
    from backend.platform import Platform

    settings = get_settings()
    questions = load_questions(args.questions)
    planned = check_bounds(args.rate, args.duration)
    check_loopback(settings)
    collection = args.collection or settings.default_collection
    with Platform(settings) as platform:
        if not platform.corpus.has_collection(collection):
            known = ", ".join(platform.corpus.collection_names()) or "none yet"
            raise InputError(f"--collection: {collection!r} does not exist (collections: {known})")
        # One untraced, uncached warm-up question loads the models, so the clock starts on a warm pipeline.
        platform.derive(tracing_enabled=False).chat.ask(questions[0], collection, remember=False, use_cache=False)
        rag = platform.chat

        def ask(question: str):
            return rag.ask(question, collection, remember=False, use_cache=not args.no_cache)

        def progress(report) -> None:
            if not args.json and sys.stderr.isatty():
                print(f"\r{report.sent}/{planned} sent, {report.errors} errors", end="", file=sys.stderr, flush=True)

        report = replay(ask, questions, args.rate, args.duration, seed=args.seed, shuffle=not args.in_order,
                        progress=progress)
        platform.tracer.flush()
    summary = report.to_dict()
    if args.json:
        print(json.dumps(summary))
        return 0
    if sys.stderr.isatty():
        print(file=sys.stderr)
    p50 = f"{summary['p50_ms']:.0f}" if summary["p50_ms"] is not None else "-"
    p95 = f"{summary['p95_ms']:.0f}" if summary["p95_ms"] is not None else "-"
    print(f"sent {report.sent} of {planned} planned in {report.elapsed_s:.1f} s ({report.achieved_qps:.2f} QPS): "
          f"{report.ok} ok, {report.errors} errors, {report.cache_hits} cache hits, {report.not_found} not found; "
          f"p50 {p50} ms, p95 {p95} ms")
    for message, count in report.error_messages.items():
        print(f"  {count} x {message}")
    return 0
