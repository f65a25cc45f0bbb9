"""The HTTP API's corpus answers beyond listing and reading: stats, an upload, an ingest run, a delete, personal data."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
    attachment_of: str | None = Field(None, description="the e-mail (.eml, .msg) this file was attached to, ingested "
                                                        "as its own document; null for a file of its own")
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
    files: list[IngestFile] = Field(description="one per part, in the order sent; an e-mail's attachments right after it")


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
    chunks_removed: int = Field(description="the document's chunks and those of the attachments deleted with it")
    attachments_removed: list[int] = Field(
        default_factory=list, description="ids of an e-mail's attachments' documents, deleted with it in one operation")


class UploadQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ocr: Literal["auto", "always", "off"] | None = Field(
        None, description="OCR for these files: auto (pages with too little text, and images), always (every PDF "
                          "page), off; default: the server's GROUNDWORK_OCR")


class PersonalDataQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt parameter is named in a 422, never silently ignored
    value: str = Field(min_length=1, max_length=320, description="an e-mail address, phone number (any format), name, "
                                                                 "IBAN...: normalised and hashed as at ingest, never stored")
    collection: str | None = Field(None, description="only this collection (default: every one the caller reads)")


class PersonalDataPlace(BaseModel):
    entity_type: str
    chunk_id: int | None = Field(description="the chunk holding it; null when it falls between chunks")
    chunk: int | None = Field(description="that chunk's position in the document, from 1")
    page: int | None
    char_start: int = Field(description="offsets in the document's stored text")
    char_end: int


class PersonalDataDocument(BaseModel):
    id: int
    collection: str
    title: str
    source: str
    entity_types: list[str] = Field(description="what the value was found as (e.g. EMAIL_ADDRESS)")
    findings: int
    places: list[PersonalDataPlace]


class PersonalDataDocuments(BaseModel):
    """The caller's documents whose recorded findings hold the value (the value itself is not echoed)."""

    total: int
    documents: list[PersonalDataDocument]
