"""The HTTP API's corpus answers beyond listing and reading: a collection's stats, an upload, an ingest run, a delete."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from backend.gateway.api_models import Collection

IngestOutcome = Literal["ingested", "updated", "unchanged", "duplicate", "near-duplicate", "failed"]  # ingest.items.OUTCOMES
UploadStatus = Literal["added", "updated", "unchanged", "failed"]


class CollectionStats(Collection):
    """One collection as `python -m backend stats --json` prints it."""

    mime_types: dict[str, int] = Field(description="active documents per mime type")
    index_bytes: int = Field(description="the collection's index files on disk")
    index: dict[str, Any] | None = Field(description="the open index: vectors, lexical_docs, index_kind, bytes_on_disk, "
                                                     "lexical_segments, manifest")


class IngestFile(BaseModel):
    file: str = Field(description="the file's name")
    source: str | None = Field(description="the document's source as stored (its path on the server); null for a file "
                                           "refused before ingest")
    status: UploadStatus = Field(description="added, updated (a new version), unchanged (also a duplicate or a skipped "
                                             "near-duplicate: nothing stored changed) or failed")
    outcome: IngestOutcome = Field(description="what ingest did, in its own words")
    document_id: int | None = None
    chunks: int
    message: str = Field(description="why it failed, or what it duplicates; empty otherwise")
    near_duplicate_of: int | None = None
    near_duplicate_title: str | None = None
    similarity: float | None = None
    duration_ms: float | None = None


class UploadResult(BaseModel):
    run_id: int | None = Field(description="GET /api/v1/ingest-runs/{run_id} reads the run again")
    collection: str
    status: Literal["running", "finished", "interrupted"]
    chunks_added: int
    counts: dict[str, int] = Field(description="files per outcome")
    files: list[IngestFile] = Field(description="one per part, in the order sent")


class IngestRun(BaseModel):
    id: int
    collection: str | None = Field(description="null once its collection is deleted")
    tenant: str | None
    label: str
    status: Literal["running", "finished", "interrupted"]
    started_at: datetime
    finished_at: datetime | None
    files_total: int
    files_ok: int
    files_skipped: int
    files_failed: int
    chunks_added: int
    files: list[IngestFile]


class DeletedDocument(BaseModel):
    id: int
    collection: str
    status: Literal["deleted"]
    chunks_removed: int
