"""One document in the corpus browser: its detail and status notice, version diffs, a readable preview, its chunks."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from backend.context import RequestContext
from backend.corpus.privacy import PiiMasker, redactor_for
from backend.models import Document, InputError
from backend.store import documents


@dataclass
class DocumentDetail:
    document: Document
    status: str  # by the store's one status rule (documents.STATUS_SQL), as in the table
    file: str
    size_bytes: int | None
    chunks: int
    tokens: int
    versions: list[dict]  # version, content_hash, created_at, characters (oldest first)
    notice: str = ""  # e.g. "Superseded by fees-and-charges-2025.md on 2025-04-01."

    @property
    def superseded(self) -> bool:
        return self.status == "superseded"


def status_notice(status: str, metadata: dict) -> str:
    """One sentence on a document's declared status, from its front matter (empty when there is nothing to say)."""
    if status == "superseded":
        by, on = metadata.get("superseded_by"), metadata.get("superseded_on")
        return "Superseded" + (f" by {by}" if by else "") + (f" on {on}" if on else "") + \
            ": answers quoting it may give outdated figures."
    if status == "current" and metadata.get("supersedes"):
        return f"Current version; supersedes {metadata['supersedes']}."
    return ""


def document_detail(platform, document_id: int, ctx: RequestContext | None = None) -> DocumentDetail:
    document = platform.corpus.document(document_id, ctx)
    with platform.store.cursor() as cur:
        status, size, chunks, tokens = documents.document_summary(cur, document_id)
        versions = documents.version_summaries(cur, document_id)
    return DocumentDetail(document, status, Path(document.source).name or document.source, size, chunks,
                          int(tokens), versions, status_notice(status, document.metadata))


def version_text(platform, document_id: int, version: int, ctx: RequestContext | None = None) -> str:
    platform.corpus.require_document(document_id, ctx)
    with platform.store.cursor() as cur:
        text = documents.version_text(cur, document_id, version)
    if text is None:
        raise InputError(f"document {document_id} has no version {version}")
    return text


@dataclass
class VersionDiff:
    unified: str  # unified diff of the lines, for a `diff` code block
    added: int
    removed: int
    similarity: float  # 0..1, share of lines in common

    @property
    def identical(self) -> bool:
        return not self.added and not self.removed


def diff_texts(old: str, new: str, old_label: str = "old", new_label: str = "new", context: int = 2) -> VersionDiff:
    old_lines, new_lines = old.splitlines(), new.splitlines()
    lines = list(difflib.unified_diff(old_lines, new_lines, old_label, new_label, n=context, lineterm=""))
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    similarity = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).ratio() if old_lines or new_lines else 1.0
    return VersionDiff("\n".join(lines), added, removed, round(similarity, 4))


def version_diff(platform, document_id: int, old_version: int, new_version: int, masked: bool = True,
                 ctx: RequestContext | None = None) -> VersionDiff:
    """Line diff of two versions; with `masked`, of their texts with personal data masked (what the screen shows)."""
    old = version_text(platform, document_id, old_version, ctx)
    new = version_text(platform, document_id, new_version, ctx)
    if masked:
        redactor = redactor_for(platform.settings)
        old, new = redactor(old), redactor(new)
    return diff_texts(old, new, f"version {old_version}", f"version {new_version}")


def preview_sections(document: Document, max_chars: int = 20_000,
                     masker: PiiMasker | None = None) -> tuple[list[tuple[str, str]], bool]:
    """(label, text) per section for a readable preview (label: page and heading path), and whether it was cut.

    With a `masker` (built on this document's text) personal data in the bodies is masked."""
    text = document.text
    spans = [(s.start, s.end, s.page, s.heading_path) for s in document.sections if s.end > s.start]
    pieces: list[tuple[str, str]] = []
    budget = max_chars
    for start, end, page, heading_path in spans or [(0, len(text), None, ())]:
        if budget <= 0:
            return pieces, True
        body = masker.piece(start, min(end, start + budget)) if masker else text[start:min(end, start + budget)]
        budget -= end - start
        body = body.strip()
        if heading_path and body.startswith(heading_path[-1]):
            body = body[len(heading_path[-1]):].strip()  # the label carries the heading
        if not body:
            continue
        label = " › ".join(heading_path)
        if page is not None:
            label = f"Page {page}" + (f" · {label}" if label else "")
        if pieces and pieces[-1][0] == label:  # consecutive spans under one heading read as one
            pieces[-1] = (label, pieces[-1][1] + "\n\n" + body)
        else:
            pieces.append((label, body))
    return pieces, budget < 0


def chunk_rows(platform, document_id: int, masked: bool = True, ctx: RequestContext | None = None) -> list[dict]:
    """The document's chunks; with `masked`, personal data in their texts is masked by the platform's redactor."""
    chunks = platform.corpus.chunks(document_id, ctx)
    redactor = redactor_for(platform.settings) if masked and chunks else None
    return [
        {"#": c.ordinal + 1, "tokens": c.token_count, "page": c.page,
         "OCR": None if c.ocr_confidence is None else round(c.ocr_confidence * 100),  # percent, when read by OCR
         "heading path": " › ".join(c.heading_path),
         "characters": c.char_end - c.char_start, "text": redactor(c.text) if redactor else c.text, "chunk id": c.id}
        for c in chunks
    ]
