"""Corpus browser latency with 10,000 documents: the documents table (filter, sort, page in SQL) and the search explorer."""
from __future__ import annotations

import argparse
import os
import time

from bench import bench_settings, heading, machine, percentiles, timed, write_results

COLLECTION = "bench-corpus"
TOPICS = ["fees", "transfers", "savings", "mortgages", "cards", "fraud", "complaints", "privacy", "lending", "insurance"]
REGIONS = ["north", "south", "east", "west", "harbour", "valley", "city", "coast"]
MIME_TYPES = ["text/markdown", "application/pdf", "text/html", "text/plain"]
MONTHS = ["January", "March", "May", "July", "September", "November"]
QUERIES = [
    "international transfer fees", "how much does a savings account pay", "report card fraud", "harbour branch contact",
    "mortgage fees from March", "complaints in the valley region", "privacy notice for the city office",
    "insurance services coast", "lending rates north", "card fees 2025",
]


def _records(n: int):
    from backend.models import LoadedDocument

    for i in range(n):
        topic, region = TOPICS[i % len(TOPICS)], REGIONS[(i // len(TOPICS)) % len(REGIONS)]
        text = (f"{topic.capitalize()} notice {i} for the {region} branch. Customers in the {region} region pay "
                f"{(i % 37) + 1} pounds for {topic} services from {MONTHS[i % len(MONTHS)]} {2020 + i % 6}. "
                f"Contact the {region} office, desk {i % 97}, for details of {topic} charges and exemptions.")
        status = "superseded" if i % 10 == 0 else "current"
        yield LoadedDocument(source=f"notice-{i:05d}.md", title=f"{topic.capitalize()} notice {i:05d} ({region})",
                             mime_type=MIME_TYPES[i % len(MIME_TYPES)], text=text, metadata={"status": status})


def ensure_corpus(platform, n: int) -> float | None:
    """Ingest n generated documents through ingest_records (once; a later run reuses them). Seconds, or None if reused."""
    if platform.corpus.has_collection(COLLECTION) and platform.corpus.count_documents(COLLECTION) >= n:
        return None
    started = time.perf_counter()
    report = platform.corpus.ingest_records(COLLECTION, list(_records(n)), label=f"bench-corpus {n}")
    if report.counts["failed"]:
        raise SystemExit(f"bench corpus: {report.counts['failed']} documents failed: {report.failed[0].message}")
    return round(time.perf_counter() - started, 1)


def _repeat(fn, times: int) -> dict:
    fn()  # warm: first query plans, caches
    return percentiles([timed(fn)[1] for _ in range(times)])


def bench_documents_table(platform, reps: int) -> dict:
    from backend.corpus.document_list import DocumentQuery, document_facets, document_page

    total = platform.corpus.count_documents(COLLECTION)
    cases = {
        "first page, newest first": DocumentQuery(collection=COLLECTION),
        "title search 'harbour', sorted by title": DocumentQuery(collection=COLLECTION, search="harbour", order_by="title",
                                                                  descending=False),
        "type + status filter, page 20 by title": DocumentQuery(collection=COLLECTION, mime_types=("application/pdf",),
                                                                statuses=("current",), order_by="title", page=20),
        "sorted by chunk count": DocumentQuery(collection=COLLECTION, order_by="chunks"),
        "last page (offset ~10k)": DocumentQuery(collection=COLLECTION, page=10**6, page_size=50),
        "every collection, 200 rows": DocumentQuery(page_size=200),
    }
    results = {name: _repeat(lambda q=query: document_page(platform, q), reps) for name, query in cases.items()}
    results["filter choices (facets)"] = _repeat(lambda: document_facets(platform, COLLECTION), reps)
    return {"documents": total, "ms": results}


def bench_search_explorer(platform, reps: int) -> dict:
    from backend.corpus.search_explorer import explain_search

    embed = percentiles([timed(platform.embedder.encode_query, q)[1] for q in QUERIES])
    explain_search(platform, QUERIES[0], COLLECTION, k=8)
    runs = [timed(explain_search, platform, QUERIES[i % len(QUERIES)], COLLECTION, 8)[1] for i in range(reps)]
    without = [timed(explain_search, platform, QUERIES[i % len(QUERIES)], COLLECTION, 8, True)[1] for i in range(reps)]
    return {"explain_ms": percentiles(runs), "explain_without_superseded_ms": percentiles(without),
            "query_embedding_ms": embed}


def bench_pages(data_dir, reps: int) -> dict:
    """Whole page scripts under AppTest (Streamlit's script run, minus the browser's drawing)."""
    from streamlit.testing.v1 import AppTest

    from bench import PROJECT_ROOT

    os.environ["GROUNDWORK_DATA_DIR"] = str(data_dir)
    from backend.settings import get_settings

    get_settings.cache_clear()

    def documents_page():
        app = AppTest.from_file(str(PROJECT_ROOT / "pages" / "corpus_documents.py"), default_timeout=300)
        app.session_state["docs_collection"] = COLLECTION
        app.run()
        assert not app.exception and app.dataframe, app.exception

    def search_page():
        app = AppTest.from_file(str(PROJECT_ROOT / "pages" / "corpus_search.py"), default_timeout=300)
        app.session_state["search_collection"] = COLLECTION
        app.query_params["q"] = QUERIES[1]
        app.run()
        assert not app.exception and app.html, app.exception

    def empty_page():  # AppTest's own cost per run (a fresh script runner), subtracted below
        AppTest.from_string("import streamlit as st\nst.write('empty')").run()

    results = {"empty page (AppTest overhead)": _repeat(empty_page, reps),
               "documents page": _repeat(documents_page, reps), "search explorer page": _repeat(search_page, reps)}
    base = results["empty page (AppTest overhead)"]["p50"]
    for name in ("documents page", "search explorer page"):
        results[f"{name}, net of overhead"] = {"p50": round(results[name]["p50"] - base, 3)}
    from components.platform import get_platform

    get_platform().close()
    return results


def main(quick: bool = False) -> dict:
    from backend.platform import Platform

    n = 1_000 if quick else 10_000
    settings = bench_settings("corpus-quick" if quick else "corpus")
    results = {"machine": machine(), "quick": quick}
    with Platform(settings) as platform:
        results["ingest_s"] = ensure_corpus(platform, n)
        results["table"] = bench_documents_table(platform, 10 if quick else 30)
        results["search"] = bench_search_explorer(platform, 10 if quick else 30)
    results["pages_ms"] = bench_pages(settings.data_dir, 3 if quick else 5)
    print_report(results)
    write_results("corpus", results)
    return results


def print_report(results: dict) -> None:
    table, search = results["table"], results["search"]
    print(heading("corpus browser", results))
    ingest = results["ingest_s"]
    print(f"{table['documents']:,} documents" + (f", ingested in {ingest} s" if ingest else " (reused)"))
    print("documents table (filter, sort and page in DuckDB):")
    for name, figures in table["ms"].items():
        print(f"  {name:<42} p50 {figures['p50']:8.2f} ms  p95 {figures['p95']:8.2f} ms")
    print("search explorer (BM25, dense and fused rankings, highlights, statuses):")
    for name, key in (("three rankings", "explain_ms"), ("superseded left out", "explain_without_superseded_ms"),
                      ("of which: query embedding", "query_embedding_ms")):
        print(f"  {name:<42} p50 {search[key]['p50']:8.2f} ms  p95 {search[key]['p95']:8.2f} ms")
    print("whole page script runs (AppTest):")
    for name, figures in results["pages_ms"].items():
        p95 = f"  p95 {figures['p95']:8.2f} ms" if "p95" in figures else ""
        print(f"  {name:<42} p50 {figures['p50']:8.2f} ms{p95}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 documents instead of 10,000")
    main(parser.parse_args().quick)
