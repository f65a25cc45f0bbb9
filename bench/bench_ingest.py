"""Ingest throughput through the platform against the raw encoder throughput on the same chunks."""
from __future__ import annotations

import argparse
import shutil
import time

from bench import SCIFACT_DIR, bench_settings, heading, machine, write_results


def bench_ingest(documents: int) -> dict:
    """Ingest `documents` SciFact abstracts into a fresh data dir, then encode exactly the chunks it made."""
    from backend.evaluation.beir import load_beir
    from backend.platform import Platform

    records = load_beir(SCIFACT_DIR, "test").records()[:documents]
    settings = bench_settings("ingest-run")
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    with Platform(settings) as platform:
        embedder = platform.embedder
        embedder.encode(["warm up the model"])  # the model load is not ingest time
        started = time.perf_counter()
        report = platform.corpus.ingest_records("bench-ingest", records, label="bench")
        ingest_s = time.perf_counter() - started
        # The exact texts the pipeline embedded ("title: chunk text"), as the index stored them.
        index = platform.corpus.collection_index("bench-ingest")
        texts = list(index.texts(sorted(index.ids()[1])).values())
    started = time.perf_counter()
    embedder.encode(texts, batch_size=settings.embedding_batch_size)
    encode_s = time.perf_counter() - started
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    return {
        "documents": len(records),
        "ingested": report.counts.get("ingested", 0),
        "chunks": len(texts),
        "ingest_s": round(ingest_s, 1),
        "ingest_chunks_per_s": round(len(texts) / ingest_s, 1),
        "ingest_docs_per_s": round(len(records) / ingest_s, 1),
        "encoder_s": round(encode_s, 1),
        "encoder_chunks_per_s": round(len(texts) / encode_s, 1),
        "pipeline_overhead": f"{(ingest_s / encode_s - 1) * 100:.0f}% on top of encoding",
    }


def main(quick: bool = False) -> dict:
    results = {"machine": machine(), "quick": quick}
    if not SCIFACT_DIR.is_dir():
        results["ingest"] = f"skipped: {SCIFACT_DIR} not found"
    else:
        results["ingest"] = bench_ingest(300 if quick else 2000)
    print_report(results)
    write_results("ingest", results)
    return results


def print_report(results: dict) -> None:
    print(heading("ingest", results))
    figures = results["ingest"]
    if isinstance(figures, str):
        print(figures)
        return
    print(f"SciFact: {figures['documents']:,} documents -> {figures['chunks']:,} chunks")
    print(f"  ingest (load, clean, dedupe, chunk, embed, DuckDB, FAISS, BM25): {figures['ingest_s']} s, "
          f"{figures['ingest_chunks_per_s']} chunks/s, {figures['ingest_docs_per_s']} docs/s")
    print(f"  raw encoder on the same chunk texts: {figures['encoder_s']} s, {figures['encoder_chunks_per_s']} chunks/s")
    print(f"  pipeline overhead: {figures['pipeline_overhead']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 documents instead of 2,000")
    main(parser.parse_args().quick)
