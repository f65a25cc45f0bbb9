"""`python -m bench [--quick]`: every benchmark, one after another (they share 2 cores with everything else)."""
from __future__ import annotations

import argparse

from bench import (
    bench_ask,
    bench_citation_redaction,
    bench_corpus,
    bench_followups,
    bench_gateway,
    bench_ingest,
    bench_llm,
    bench_ocr,
    bench_pii,
    bench_retrieval,
    bench_tables,
    bench_tracing,
    bench_upload,
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs: 100 queries, 100k synthetic vectors, 300 documents")
    args = parser.parse_args()
    bench_retrieval.main(args.quick)
    bench_ingest.main(args.quick)
    bench_ask.main([])  # chat quality, ask latency, cache, semantic-cache false hits on the demo gold set
    bench_followups.main([])  # follow-up decision precision and recall, rewrite words, on data/gold/follow_ups.jsonl
    bench_pii.main(["--skip-gold"] if args.quick else [])  # PII recall/precision per type, cost, demo gold-set effect
    bench_citation_redaction.main(1 if args.quick else 3)  # per-citation redaction: NER again vs stored findings
    bench_tracing.main(["--rounds", "1"] if args.quick else [])  # tracing overhead: off / DuckDB / dead OTLP
    bench_ocr.main(args.quick)  # OCR: character error rate on generated scans at 3 noise levels, pages per second
    bench_tables.main([])  # table questions: recall@5 of the chunk holding the row, PDFs as pypdf text vs layout
    bench_corpus.main(args.quick)  # corpus browser: documents table and search explorer over 10,000 documents
    bench_upload.main(["--repeats", "1"] if args.quick else [])  # upload to searchable on a real server: 1-page MD, 20-page PDF
    # gateway overhead (/api/v1/ask against in-process ask) and 20 concurrent API clients
    bench_gateway.main(["--rounds", "1", "--seconds", "20"] if args.quick else [])
    bench_llm.main(["--runs", "4", "--rag-runs", "2"] if args.quick else [])  # SmolLM2-135M on llama-cpp-python: tok/s, TTFT


if __name__ == "__main__":
    main()
