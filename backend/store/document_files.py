"""The original files of document versions (PDFs, for their page images): written at ingest, read by page_images."""
from __future__ import annotations

from typing import Sequence

import pyarrow as pa

from backend.store.rows import Con, registered


def insert_files(con: Con, rows: Sequence[tuple[int, int, str, bytes]]) -> None:
    """Bulk store original files, (document id, version, mime type, bytes) each, in the transaction that records
    their versions."""
    if not rows:
        return
    table = pa.table({
        "document_id": pa.array([r[0] for r in rows], type=pa.int32()),
        "version": pa.array([r[1] for r in rows], type=pa.int32()),
        "mime_type": [r[2] for r in rows],
        "size_bytes": pa.array([len(r[3]) for r in rows], type=pa.int64()),
        "content": pa.array([r[3] for r in rows], type=pa.binary()),
    })
    with registered(con, "new_document_files_view", table):
        con.execute(
            "INSERT INTO document_files (document_id, version, mime_type, size_bytes, content)"
            " SELECT document_id, version, mime_type, size_bytes, content FROM new_document_files_view"
        )


def file_content(con: Con, document_id: int, version: int) -> bytes | None:
    """The stored original of one document version; None when none was stored (e.g. ingested before 070)."""
    row = con.execute("SELECT content FROM document_files WHERE document_id = ? AND version = ?",
                      [document_id, version]).fetchone()
    return bytes(row[0]) if row else None


def delete_document_files(con: Con, document_id: int) -> None:
    """Every stored version's file of a document (it is deleted: its bytes go with it)."""
    con.execute("DELETE FROM document_files WHERE document_id = ?", [document_id])
