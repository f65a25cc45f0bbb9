"""`python -m backend eval ...`: evaluation commands (`eval beir` scores retrieval on a BEIR dataset; `eval run`/`eval list` experiments)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from backend.settings import get_settings


def register(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="evaluate retrieval and answers", description="Evaluation commands.")
    # `eval beir` and `eval run` write the DuckDB file in this process; `eval list` also reads the API (its `remote`).
    parser.set_defaults(local_only="evaluation runs its grids (and `eval beir` its index) in this process, on the "
                                   "DuckDB file; the app's Experiments and Evaluation leaderboard pages run and show "
                                   "them through the server")
    commands = parser.add_subparsers(dest="eval_command", required=True, metavar="EVAL_COMMAND")
    _register_beir(commands)
    from backend.evaluation import commands as experiments  # `eval run` and `eval list`

    experiments.register(commands)


def _register_beir(commands) -> None:
    parser = commands.add_parser(
        "beir",
        help="nDCG@10, Recall@10/100, MRR@10 and latency on a BEIR dataset",
        description="Index a BEIR dataset (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) into the collection "
        "beir-<directory name> (reused when already built with the same settings), run every judged query and "
        "score documents by their best chunk.",
        epilog="Retrieval settings come from the environment as usual, e.g. GROUNDWORK_FUSION=weighted, "
        "GROUNDWORK_DENSE_WEIGHT=0.5, GROUNDWORK_RRF_K=60, GROUNDWORK_BM25_K1=1.2.",
    )
    parser.add_argument("directory", type=Path, help="BEIR dataset directory")
    parser.add_argument("--mode", choices=["bm25", "dense", "hybrid"], default=None, help="retriever (default from settings)")
    parser.add_argument("--split", default="test", help="qrels split: qrels/SPLIT.tsv (default test)")
    parser.add_argument("--collection", default=None, help="collection name (default beir-<directory name>)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run_beir_command)


def _progress_printer(stream):
    def show(event) -> None:
        if event.kind == "file" and event.total and (event.done % 500 == 0 or event.done == event.total):
            print(f"indexing: {event.done:,}/{event.total:,} documents", file=stream, flush=True)

    return show


def run_beir_command(args) -> int:
    from backend.evaluation.beir import load_beir, run_beir
    from backend.platform import Platform

    settings = get_settings()
    dataset = load_beir(args.directory, args.split)  # validate before touching the store
    directory_name = args.directory.resolve().name
    collection = args.collection or f"beir-{directory_name}"
    mode = args.mode or settings.retrieval_mode
    with Platform(settings) as platform:
        result = run_beir(platform, dataset, collection, mode, progress=_progress_printer(sys.stderr))
    summary = result.to_dict()
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"BEIR {dataset.name} ({args.split}), mode {mode}, collection {collection}: "
          f"{summary['documents']:,} documents, {summary['queries']} queries")
    if result.ingest_seconds:
        print(f"indexed in {result.ingest_seconds:.1f} s")
    for name in ("ndcg@10", "recall@10", "recall@100", "mrr@10"):
        print(f"  {name:<11} {summary[name]:.4f}")
    print(f"  latency     p50 {summary['latency_ms_p50']:.1f} ms, p95 {summary['latency_ms_p95']:.1f} ms per query")
    return 0
