"""`python -m backend search "question" [--collection NAME] [--mode bm25|dense|hybrid] [--k 5] [--json]`."""
from __future__ import annotations

import json
import time

from backend.commands.ingest import format_table, one_line
from backend.settings import get_settings


def register(subparsers) -> None:
    parser = subparsers.add_parser("search", help="ranked chunks for a question, with each retriever's score",
                                   description="Search a collection: each retriever's score and rank and the fused score.")
    parser.add_argument("query", help="the question or keywords")
    parser.add_argument("--collection", default=None, help="collection to search (default from settings)")
    parser.add_argument("--mode", choices=["bm25", "dense", "hybrid"], default=None, help="retriever (default from settings)")
    parser.add_argument("--k", type=int, default=None, help="number of chunks (default from settings)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def hit_dict(hit) -> dict:
    chunk = hit.chunk
    return {
        "rank": hit.rank, "chunk_id": hit.chunk_id, "document_id": chunk.document_id if chunk else None,
        "fused_score": hit.fused_score, "scores": hit.scores, "ranks": hit.ranks,
        "title": chunk.title if chunk else "", "source": chunk.source if chunk else "",
        "page": chunk.page if chunk else None, "heading_path": list(chunk.heading_path) if chunk else [],
        "text": chunk.text if chunk else "",
    }


def _score(hit, name: str) -> str:
    if name not in hit.scores:
        return "-"
    return f"{hit.scores[name]:.3f} (#{hit.ranks.get(name, '-')})"


def run(args) -> int:
    from backend.models import InputError
    from backend.platform import Platform

    settings = get_settings()
    if args.k is not None and args.k < 1:
        raise InputError(f"--k: must be at least 1, got {args.k}")
    collection = args.collection or settings.default_collection
    mode = args.mode or settings.retrieval_mode
    with Platform(settings) as platform:
        # Open (and reconcile) before timing the query; an unknown collection raises the error listing the known ones.
        platform.corpus.collection_index(collection)
        started = time.perf_counter()
        hits = platform.retriever.search(args.query, collection, mode=mode, k=args.k)
        latency_ms = (time.perf_counter() - started) * 1000
    if args.json:
        print(json.dumps({"query": args.query, "collection": collection, "mode": mode, "k": args.k or settings.top_k,
                          "latency_ms": round(latency_ms, 2), "hits": [hit_dict(h) for h in hits]}, default=str))
        return 0
    if not hits:
        print(f"no results in {collection!r} for {args.query!r}")
        return 0
    rows = []
    for hit in hits:
        chunk = hit.chunk
        assert chunk is not None, "Retriever.search fills hit.chunk"
        where = f"p.{chunk.page}" if chunk.page is not None else ""
        if chunk.heading_path:
            where = f"{where} {' > '.join(chunk.heading_path)}".strip()
        rows.append([hit.rank, f"{hit.fused_score:.4f}", _score(hit, "bm25"), _score(hit, "dense"),
                     one_line(chunk.title, 40), one_line(where, 40), one_line(chunk.text, 80)])
    print(format_table(["rank", "fused", "bm25 (rank)", "dense (rank)", "title", "page/heading", "text"], rows,
                       right={0, 1}))
    print(f"\n{len(hits)} hits from {collection!r} ({mode}) in {latency_ms:.1f} ms")
    return 0
