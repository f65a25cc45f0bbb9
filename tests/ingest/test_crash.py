"""Crash consistency: SIGKILL an ingest midway, then DuckDB, FAISS and BM25 agree and a re-run completes cleanly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from backend.platform import Platform
from backend.settings import Settings
from tests.store.corpus_fixtures import assert_stores_agree, store_ids, write_corpus

ROOT = Path(__file__).resolve().parents[2]
DOCS = 40
KILL_AFTER_LINES = 15


def chunk_counts(platform: Platform, collection: str) -> dict[str, int]:
    return {Path(d["source"]).name: d["chunks"] for d in platform.corpus.documents(collection, limit=None)}


def test_sigkill_midway_then_stores_agree_and_rerun_completes(tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, DOCS)
    data_dir = tmp_path / "killed"
    env = {
        **os.environ, "GROUNDWORK_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
        # Small transactions and rarer index saves: the kill lands with DuckDB ahead of the saved indexes.
        "GROUNDWORK_INGEST_BATCH_DOCS": "2", "GROUNDWORK_INGEST_SAVE_EVERY": "6",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend", "ingest", str(corpus), "--collection", "crash"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    progress_lines = 0
    deadline = time.monotonic() + 300
    try:
        for line in proc.stdout:
            if line.startswith("["):
                progress_lines += 1
            if progress_lines >= KILL_AFTER_LINES or time.monotonic() > deadline:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"the ingest ended on its own: {proc.stderr.read()[-2000:]}"
    assert progress_lines == KILL_AFTER_LINES

    settings = Settings(data_dir=data_dir)
    with Platform(settings) as platform:
        documents_after_crash = platform.corpus.count_documents("crash")
        assert KILL_AFTER_LINES <= documents_after_crash < DOCS, "killed midway"
        ids = assert_stores_agree(platform, "crash")  # opening the index reconciled it with DuckDB
        repair = platform.corpus.indexes.last_reconcile["crash"]
        assert repair.db_chunks == len(ids)
        run = platform.corpus.ingest_runs(1)[0]
        assert run["status"] == "interrupted"
        # Stored embeddings were used as they are, not recomputed: FAISS returns the DuckDB vectors.
        some = sorted(ids)[:3]
        stored = {r[0]: np.asarray(r[1], dtype=np.float32) for r in platform.store.query(
            "SELECT id, embedding FROM chunks WHERE id IN (SELECT unnest(?))", [some])}
        indexed = platform.corpus.collection_index("crash").vectors(some)
        for chunk_id in some:
            assert np.allclose(indexed[chunk_id], stored[chunk_id], atol=1e-6)

        rerun = platform.corpus.ingest([corpus], "crash")
        assert rerun.status == "finished" and rerun.counts["failed"] == 0
        assert rerun.counts["unchanged"] == documents_after_crash
        assert rerun.counts["ingested"] == DOCS - documents_after_crash
        assert_stores_agree(platform, "crash")
        sources = [d["source"] for d in platform.corpus.documents("crash", limit=None)]
        assert len(sources) == len(set(sources)) == DOCS, "no document twice"
        after_rerun = chunk_counts(platform, "crash")

    with Platform(Settings(data_dir=tmp_path / "clean")) as clean:
        clean.corpus.ingest([corpus], "crash")
        assert chunk_counts(clean, "crash") == after_rerun, "chunk counts equal a clean single run"
        db, _, _ = store_ids(clean, "crash")
        assert len(db) == sum(after_rerun.values())


def test_reconcile_removes_extra_ids_and_restores_missing_ones(settings, tmp_path):
    with Platform(settings) as platform:
        report = platform.corpus.ingest(write_corpus(tmp_path / "docs", 4), "fix")
        ids = assert_stores_agree(platform, "fix")
        keep_id, drop_id = report.files[0].document_id, report.files[1].document_id
        dropped = {r[0] for r in platform.store.query("SELECT id FROM chunks WHERE document_id = ?", [drop_id])}
        # DuckDB loses a document's chunks behind the index's back (as if its delete committed and the
        # process died before touching the indexes), and BM25 alone loses a chunk.
        platform.store.execute("DELETE FROM chunks WHERE document_id = ?", [drop_id])
        lost = {r[0] for r in platform.store.query("SELECT id FROM chunks WHERE document_id = ?", [keep_id])}
        index = platform.corpus.collection_index("fix")
        index.lexical.remove(sorted(lost))
        index.save()

    with Platform(Settings(data_dir=settings.data_dir)) as platform:
        after = assert_stores_agree(platform, "fix")
        repair = platform.corpus.indexes.last_reconcile["fix"]
        assert after == ids - dropped
        assert repair.removed == len(dropped) and repair.added == len(lost) and repair.repaired
        title = platform.corpus.document(keep_id).title
        hits = platform.retriever.search(title, "fix", mode="bm25", k=10, filters={"document_ids": [keep_id]})
        assert {h.chunk_id for h in hits} & lost, "the restored chunk is searchable by BM25 again"
