"""Store queries behind the corpus pages: document listing, paging, versions, runs; sequences; thread safety."""
from __future__ import annotations

import threading

import pytest

from backend.models import InputError
from backend.platform import Platform
from backend.settings import Settings
from backend.store import collections as collection_store
from backend.store import ingest_runs as ingest_run_store
from backend.store.db import Store
from backend.store.sequences import allocate_ids, repair_sequences
from tests.store.corpus_fixtures import assert_stores_agree, write_corpus


@pytest.fixture
def platform(settings):
    with Platform(settings) as instance:
        yield instance


def test_documents_listing_filters_sorts_and_pages(platform, tmp_path):
    write_corpus(tmp_path / "docs", 6)
    (tmp_path / "docs" / "table.csv").write_text("item,fee\nwire,15\n")
    platform.corpus.ingest([tmp_path / "docs"], "list")
    platform.corpus.ingest(write_corpus(tmp_path / "other", 1, start=30), "other")

    assert platform.corpus.count_documents() == 8 and platform.corpus.count_documents("list") == 7
    titles = [d["title"] for d in platform.corpus.documents("list", order_by="title", descending=False)]
    assert titles == sorted(titles)
    page = platform.corpus.documents("list", order_by="title", descending=False, limit=3, offset=3)
    assert [d["title"] for d in page] == titles[3:6]
    assert set(page[0]) >= {"id", "collection", "source", "title", "mime_type", "version", "status", "chunks",
                            "updated_at", "size_bytes"}
    assert [d["mime_type"] for d in platform.corpus.documents("list", mime_type="text/csv")] == ["text/csv"]
    assert platform.corpus.count_documents("list", title_contains="REFUND") == 1  # case-insensitive, literal
    assert platform.corpus.count_documents("list", title_contains="%") == 0
    with pytest.raises(InputError, match="cannot sort documents by"):
        platform.corpus.documents("list", order_by="id; DROP TABLE documents")

    doc_id = platform.corpus.documents("list", title_contains="refund")[0]["id"]
    platform.corpus.delete_document(doc_id)
    assert platform.corpus.count_documents("list") == 6
    assert platform.corpus.count_documents("list", status="deleted") == 1
    assert platform.corpus.count_documents("list", status=None) == 7

    document = platform.corpus.document(platform.corpus.documents("list", title_contains="retention")[0]["id"])
    assert document.text.startswith("Data retention 001") and document.sections and document.version == 1
    chunks = platform.corpus.chunks(document.id)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(document.text[c.char_start:c.char_end] == c.text and c.title == document.title for c in chunks)
    assert platform.corpus.chunks_by_ids([chunks[0].id])[chunks[0].id].document_id == document.id
    with pytest.raises(InputError, match="unknown document id 999999"):
        platform.corpus.document(999999)


def test_ingest_runs_and_files_are_recorded(platform, tmp_path):
    paths = write_corpus(tmp_path / "docs", 2)
    (tmp_path / "docs" / "bad.md").write_bytes(b"")
    first = platform.corpus.ingest([tmp_path / "docs"], "runs")
    second = platform.corpus.ingest([paths[0]], "runs")
    runs = platform.corpus.ingest_runs(10)
    assert [r["id"] for r in runs] == [second.run_id, first.run_id]
    assert runs[1]["files_total"] == 3 and runs[1]["files_ok"] == 2 and runs[1]["files_failed"] == 1
    assert runs[1]["chunks_added"] == first.chunks_added and runs[1]["collection"] == "runs"
    assert runs[0]["files_ok"] == 1 and runs[0]["chunks_added"] == 0
    files = platform.corpus.ingest_files(first.run_id)
    assert sorted(f["outcome"] for f in files) == ["failed", "ingested", "ingested"]
    assert next(f for f in files if f["outcome"] == "failed")["message"] == "bad.md: file is empty"
    assert platform.corpus.ingest_runs(10, collection="runs") == runs


def test_interrupted_runs_and_sequences_behind_their_tables_are_repaired_on_open(settings):
    settings.ensure_dirs()
    store = Store(settings.db_path)
    with store.transaction() as cur:
        collection_id = collection_store.insert_collection(cur, "seq", "default")
        run_id = ingest_run_store.start_run(cur, collection_id, "left running")
        # Rows written with ids the sequence never handed out: the sequence is now behind the table.
        cur.execute("INSERT INTO documents (id, collection_id, source, title, mime_type, content_hash)"
                    " VALUES (41, ?, 's', 't', 'text/plain', 'h')", [collection_id])
    store.close()
    with Platform(Settings(data_dir=settings.data_dir)) as platform:
        assert platform.corpus.ingest_runs(1)[0]["id"] == run_id
        assert platform.corpus.ingest_runs(1)[0]["status"] == "interrupted"
        with platform.store.transaction() as cur:
            assert allocate_ids(cur, "document_id_seq", 2) == [42, 43]
            assert repair_sequences(cur) == {}


def test_concurrent_searches_while_ingesting(platform, tmp_path):
    platform.corpus.ingest(write_corpus(tmp_path / "first", 3), "busy")
    errors: list[BaseException] = []
    stop = threading.Event()

    def search_loop():
        try:
            while not stop.is_set():
                hits = platform.retriever.search("refund policy", "busy", k=3)
                assert all(h.chunk is not None for h in hits)
                platform.corpus.collections()
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=search_loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        report = platform.corpus.ingest(write_corpus(tmp_path / "second", 6, start=20), "busy")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors
    assert report.counts["ingested"] == 6
    assert len(assert_stores_agree(platform, "busy")) == platform.corpus.stats()["chunks"]
