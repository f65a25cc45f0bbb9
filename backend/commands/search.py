"""`python -m backend search "question" [--collection NAME] [--mode bm25|dense|hybrid] [--k 5] [--json]`."""
from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from backend.commands.ingest import format_table, one_line
from backend.settings import get_settings

if TYPE_CHECKING:
    from backend.client import ServerClient


def register(subparsers) -> None:
    parser = subparsers.add_parser("search", help="ranked chunks for a question, with each retriever's score",
                                   description="Search a collection: each retriever's score and rank and the fused score.")
    parser.add_argument("query", help="the question or keywords")
    parser.add_argument("--collection", default=None, help="collection to search (default from settings)")
    parser.add_argument("--mode", choices=["bm25", "dense", "hybrid"], default=None, help="retriever (default from settings)")
    parser.add_argument("--k", type=int, default=None, help="number of chunks (default from settings)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run, remote=run_remote)


def hit_dict(hit) -> dict:
    chunk = hit.chunk
    return {
        "rank": hit.rank, "chunk_id": hit.chunk_id, "document_id": chunk.document_id if chunk else None,
        "fused_score": hit.fused_score, "scores": hit.scores, "ranks": hit.ranks,
        "title": chunk.title if chunk else "", "source": chunk.source if chunk else "",
        "page": chunk.page if chunk else None, "heading_path": list(chunk.heading_path) if chunk else [],
        "text": chunk.text if chunk else "",
    }


def _score(hit: dict, name: str) -> str:
    if name not in hit["scores"]:
        return "-"
    return f"{hit['scores'][name]:.3f} (#{hit['ranks'].get(name, '-')})"


def _checked_k(args) -> None:
    from backend.models import InputError

    if args.k is not None and args.k < 1:
        raise InputError(f"--k: must be at least 1, got {args.k}")


def print_result(result: dict, as_json: bool) -> None:
    """A search result ({query, collection, mode, k, latency_ms, hits: [hit_dict...]}, local or the server's)."""
    if as_json:
        print(json.dumps(result, default=str))
        return
    hits, collection, query = result["hits"], result["collection"], result["query"]
    if not hits:
        print(f"no results in {collection!r} for {query!r}")
        return
    rows = []
    for hit in hits:
        where = f"p.{hit['page']}" if hit["page"] is not None else ""
        if hit["heading_path"]:
            where = f"{where} {' > '.join(hit['heading_path'])}".strip()
        rows.append([hit["rank"], f"{hit['fused_score']:.4f}", _score(hit, "bm25"), _score(hit, "dense"),
                     one_line(hit["title"], 40), one_line(where, 40), one_line(hit["text"], 80)])
    print(format_table(["rank", "fused", "bm25 (rank)", "dense (rank)", "title", "page/heading", "text"], rows,
                       right={0, 1}))
    print(f"\n{len(hits)} hits from {collection!r} ({result['mode']}) in {result['latency_ms']:.1f} ms")


def run(args) -> int:
    from backend.platform import Platform

    settings = get_settings()
    _checked_k(args)
    collection = args.collection or settings.default_collection
    mode = args.mode or settings.retrieval_mode
    with Platform(settings) as platform:
        # Open (and reconcile) before timing the query; an unknown collection raises the error listing the known ones.
        platform.corpus.collection_index(collection)
        started = time.perf_counter()
        hits = platform.retriever.search(args.query, collection, mode=mode, k=args.k)
        latency_ms = (time.perf_counter() - started) * 1000
    print_result({"query": args.query, "collection": collection, "mode": mode, "k": args.k or settings.top_k,
                  "latency_ms": round(latency_ms, 2), "hits": [hit_dict(h) for h in hits]}, args.json)
    return 0


def run_remote(args, client: ServerClient) -> int:
    """The same search through the running server's POST /api/v1/search; latency_ms is the request's round trip."""
    _checked_k(args)
    started = time.perf_counter()
    data = client.post("/api/v1/search", {"query": args.query, "collection": args.collection, "mode": args.mode,
                                          "k": args.k})
    latency_ms = (time.perf_counter() - started) * 1000
    print_result({"query": data["query"], "collection": data["collection"], "mode": data["mode"], "k": data["k"],
                  "latency_ms": round(latency_ms, 2), "hits": data["hits"]}, args.json)
    return 0
