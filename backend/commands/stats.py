"""`python -m backend stats [--json]`: collections, documents, chunks, index sizes, and what built each index."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from backend.commands.ingest import format_table
from backend.settings import get_settings

if TYPE_CHECKING:
    from backend.client import ServerClient


def register(subparsers) -> None:
    parser = subparsers.add_parser("stats", help="what is indexed: collections, documents, chunks, index sizes, model",
                                   description="Collections, documents, chunks, index sizes and the settings that built each index.")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run, remote=run_remote)


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def print_stats(stats: dict, as_json: bool) -> None:
    """What `stats` prints, from the corpus service's stats() (or the same shape assembled from the API)."""
    if as_json:
        print(json.dumps(stats, default=str))
        return
    print(f"model {stats['model']} (dim {stats['dim']}), chunks of {stats['chunk_tokens']} word pieces "
          f"with {stats['chunk_overlap']} overlap")
    print(f"{len(stats['collections'])} collections, {stats['documents']} documents, {stats['chunks']} chunks, "
          f"indexes {_mb(stats['index_bytes'])} on disk\n")
    rows = []
    for c in stats["collections"]:
        index = c["index"] or {}
        built = c["index_settings"] or {}
        rows.append([c["name"], c["tenant"], c["documents"], c["chunks"], index.get("vectors", "-"),
                     index.get("lexical_docs", "-"), _mb(c["index_bytes"]),
                     f"{built.get('model_id', '-')} {built.get('chunk_tokens', '-')}/{built.get('chunk_overlap', '-')}",
                     c["index_version"], str(c["last_ingest_at"] or "-")[:19]])
    if rows:
        print(format_table(["collection", "tenant", "documents", "chunks", "faiss", "bm25", "disk", "built with",
                            "version", "last ingest"], rows, right={2, 3, 4, 5, 8}))
    else:
        print("nothing indexed yet: python -m backend ingest PATH... --collection NAME")


def run(args) -> int:
    from backend.platform import Platform

    with Platform(get_settings()) as platform:
        stats = platform.corpus.stats(load_indexes=True)
    print_stats(stats, args.json)
    return 0


def run_remote(args, client: ServerClient) -> int:
    """The same figures from the server: its readable collections, then each one's stats. The model and chunk
    settings are this process's, as they are for a local run; the API lists no ingest runs, so the last run
    (`last_ingest_run` in --json) is left out."""
    from backend.client import parse_time, segment

    names = [c["name"] for c in client.get("/api/v1/collections")["collections"]]
    collections = []
    for name in names:
        entry = client.get(f"/api/v1/collections/{segment(name)}/stats")
        collections.append({**entry, **{key: parse_time(entry.get(key)) for key in ("created_at", "last_ingest_at")}})
    settings = get_settings()
    print_stats({
        "documents": sum(c["documents"] for c in collections),
        "chunks": sum(c["chunks"] for c in collections),
        "tokens": sum(c["tokens"] for c in collections),
        "model": settings.embedding_model,
        "dim": next((c["index_settings"]["dim"] for c in collections if c["index_settings"]), None),
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "index_bytes": sum(c["index_bytes"] for c in collections),
        "collections": collections,
    }, args.json)
    return 0
