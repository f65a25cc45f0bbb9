"""`python -m backend stats [--json]`: collections, documents, chunks, index sizes, and what built each index."""
from __future__ import annotations

import json

from backend.commands.ingest import format_table
from backend.settings import get_settings


def register(subparsers) -> None:
    parser = subparsers.add_parser("stats", help="what is indexed: collections, documents, chunks, index sizes, model",
                                   description="Collections, documents, chunks, index sizes and the settings that built each index.")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def run(args) -> int:
    from backend.platform import Platform

    with Platform(get_settings()) as platform:
        stats = platform.corpus.stats(load_indexes=True)
    if args.json:
        print(json.dumps(stats, default=str))
        return 0
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
    return 0
