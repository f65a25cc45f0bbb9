"""The id sequences of the corpus and gateway tables: allocating ids inside a write, and repairing a sequence left behind."""
from __future__ import annotations

from backend.store.rows import Con

# Sequences and the tables whose ids they hand out (ids are never reused: FAISS and caches key on them).
_SEQUENCES = {"collection_id_seq": "collections", "document_id_seq": "documents", "chunk_id_seq": "chunks",
              "ingest_run_id_seq": "ingest_runs", "user_id_seq": "users", "group_id_seq": "groups",
              "api_key_id_seq": "api_keys", "sign_in_attempt_id_seq": "sign_in_attempts",
              "ticket_id_seq": "tickets"}


def allocate_ids(con: Con, sequence: str, n: int) -> list[int]:
    """n fresh ids; call inside the write transaction that uses them (a bare SELECT nextval is not
    always made durable, so after a crash the sequence could hand the same ids out again)."""
    if n <= 0:
        return []
    return [r[0] for r in con.execute(f"SELECT nextval('{sequence}') FROM range(?)", [n]).fetchall()]


def repair_sequences(con: Con) -> dict[str, int]:
    """Move each sequence past its table's largest id (a crash can leave a sequence behind its rows)."""
    last = {name: (value or 0) for name, value in con.execute(
        "SELECT sequence_name, last_value FROM duckdb_sequences()").fetchall()}
    advanced = {}
    for sequence, table in _SEQUENCES.items():
        behind = con.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0] - last.get(sequence, 0)
        if behind > 0:
            con.execute(f"SELECT max(nextval('{sequence}')) FROM range(?)", [behind]).fetchone()
            advanced[sequence] = behind
    return advanced
