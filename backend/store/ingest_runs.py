"""Queries over ingest runs and the per-file outcomes they record."""
from __future__ import annotations

from typing import Iterable

import pyarrow as pa

from backend.store.rows import Con, dicts, registered
from backend.store.sequences import allocate_ids


def start_run(con: Con, collection_id: int, label: str, files_total: int = 0) -> int:
    run_id = allocate_ids(con, "ingest_run_id_seq", 1)[0]
    con.execute("INSERT INTO ingest_runs (id, collection_id, label, files_total) VALUES (?, ?, ?, ?)",
                [run_id, collection_id, label, files_total])
    return run_id


def record_files(con: Con, run_id: int, outcomes: Iterable[dict]) -> None:
    outcomes = list(outcomes)
    if not outcomes:
        return
    table = pa.table({
        "path": pa.array([o["path"] for o in outcomes], type=pa.string()),
        "outcome": pa.array([o["outcome"] for o in outcomes], type=pa.string()),
        "document_id": pa.array([o.get("document_id") for o in outcomes], type=pa.int32()),
        "chunks": pa.array([o.get("chunks", 0) for o in outcomes], type=pa.int32()),
        "message": pa.array([o.get("message", "") for o in outcomes], type=pa.string()),
        "near_duplicate_of": pa.array([o.get("near_duplicate_of") for o in outcomes], type=pa.int32()),
        "similarity": pa.array([o.get("similarity") for o in outcomes], type=pa.float64()),
        "duration_ms": pa.array([o.get("duration_ms") for o in outcomes], type=pa.float64()),
    })
    with registered(con, "new_ingest_files_view", table):
        con.execute(
            "INSERT INTO ingest_files (run_id, path, outcome, document_id, chunks, message, near_duplicate_of,"
            " similarity, duration_ms) SELECT ?, path, outcome, document_id, chunks, message, near_duplicate_of,"
            " similarity, duration_ms FROM new_ingest_files_view",
            [run_id],
        )


def finish_run(con: Con, run_id: int, status: str, files_total: int, files_ok: int, files_skipped: int,
               files_failed: int, chunks_added: int) -> None:
    con.execute(
        "UPDATE ingest_runs SET finished_at = current_timestamp, status = ?, files_total = ?, files_ok = ?,"
        " files_skipped = ?, files_failed = ?, chunks_added = ? WHERE id = ?",
        [status, files_total, files_ok, files_skipped, files_failed, chunks_added, run_id],
    )


def mark_interrupted_runs(con: Con) -> int:
    """Runs left 'running' by a process that died; only the one writing process can call this."""
    return len(con.execute(
        "UPDATE ingest_runs SET status = 'interrupted' WHERE status = 'running' RETURNING id"
    ).fetchall())


def ingest_runs(con: Con, limit: int = 50, collection_id: int | list[int] | None = None) -> list[dict]:
    params: list
    if isinstance(collection_id, (list, tuple)):
        where, params = "WHERE r.collection_id IN (SELECT unnest(?::BIGINT[]))", [list(collection_id)]
    else:
        where = "WHERE r.collection_id = ?" if collection_id is not None else ""
        params = [collection_id] if collection_id is not None else []
    return dicts(con.execute(
        "SELECT r.id, col.name AS collection, r.label, r.started_at, r.finished_at, r.status, r.files_total,"
        " r.files_ok, r.files_skipped, r.files_failed, r.chunks_added FROM ingest_runs r"
        f" LEFT JOIN collections col ON col.id = r.collection_id {where} ORDER BY r.id DESC LIMIT ?",
        params + [int(limit)],
    ))


def ingest_run(con: Con, run_id: int) -> dict | None:
    """One run with its collection's name and tenant (both None once that collection is deleted)."""
    rows = dicts(con.execute(
        "SELECT r.id, col.name AS collection, col.tenant, r.label, r.started_at, r.finished_at, r.status,"
        " r.files_total, r.files_ok, r.files_skipped, r.files_failed, r.chunks_added FROM ingest_runs r"
        " LEFT JOIN collections col ON col.id = r.collection_id WHERE r.id = ?",
        [int(run_id)],
    ))
    return rows[0] if rows else None


def ingest_files(con: Con, run_id: int) -> list[dict]:
    return dicts(con.execute(
        "SELECT f.path, f.outcome, f.document_id, f.chunks, f.message, f.near_duplicate_of,"
        " nd.title AS near_duplicate_title, f.similarity, f.duration_ms, f.created_at"
        " FROM ingest_files f LEFT JOIN documents nd ON nd.id = f.near_duplicate_of"
        " WHERE f.run_id = ? ORDER BY f.created_at, f.path",
        [run_id],
    ))
