"""Personal data in the corpus browser: masking slices of one analysed text, a document's PII report, withheld originals."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backend.ingest.personal_data import without_overlaps as _without_overlaps
from backend.store import collections as collection_store
from backend.store import document_pii


def redactor_for(settings):
    """The platform's redactor (backend.pii, built once per process)."""
    from backend.pii import get_redactor  # Presidio loads on first use, not on import

    return get_redactor(settings)


class PiiMasker:
    """Personal data of one text found once (the platform's redactor), masked with the configured action
    (settings.pii_action) in any slice of it: the preview's sections without analysing each one again."""

    def __init__(self, settings, text: str):
        self.text = text
        self.redactor = redactor_for(settings)
        self.findings = _without_overlaps(self.redactor.analyze(text))

    def piece(self, start: int, end: int) -> str:
        from presidio_analyzer import RecognizerResult

        piece = self.text[start:end]
        inside = [RecognizerResult(f.entity_type, max(f.start, start) - start, min(f.end, end) - start, f.score)
                  for f in self.findings if f.start < end and f.end > start]
        if not inside:
            return piece
        return self.redactor.anonymizer.anonymize(text=piece, analyzer_results=inside,
                                                  operators=self.redactor.operators).text


@dataclass
class PiiReport:
    counts: dict[str, int]  # entity type -> findings
    segments: list[tuple[str, str | None]]  # the text with each finding replaced by its type (type, else None)
    analysed_chars: int
    total_chars: int

    @property
    def findings(self) -> int:
        return sum(self.counts.values())

    @property
    def truncated(self) -> bool:
        return self.analysed_chars < self.total_chars


def pii_report(settings, text: str, max_chars: int = 100_000) -> PiiReport:
    """Findings of the platform's redactor (backend.pii, built once per process) and the text with them masked."""
    sample = text[:max_chars]
    kept = _without_overlaps(redactor_for(settings).analyze(sample))
    counts: dict[str, int] = {}
    segments: list[tuple[str, str | None]] = []
    position = 0
    for finding in kept:
        counts[finding.entity_type] = counts.get(finding.entity_type, 0) + 1
        if finding.start > position:
            segments.append((sample[position:finding.start], None))
        segments.append((f"<{finding.entity_type}>", finding.entity_type))
        position = finding.end
    if position < len(sample):
        segments.append((sample[position:], None))
    return PiiReport(dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))), segments, len(sample), len(text))


# A collection that redacts at ingest keeps no uploaded original (uploads/collection-<id>/): the file is the personal
# data the stored text lost. Not kept rather than rewritten: a PDF, XLSX or e-mail cannot be redacted in place, and a
# text rendering under the original's name would be read as that format by a re-ingest. Nothing in the document view
# needs the file: its preview, chunks, versions and citations are the stored (redacted) text, and page images and
# query_table already refuse a document stored redacted. A new version comes from uploading the file again.
def withhold_originals(platform, collection: str, folder: Path) -> list[Path]:
    """Delete the files of an upload folder that are the source of a document the collection stored redacted (the
    ones just ingested, and any an earlier upload left); the deleted paths."""
    if not folder.is_dir():
        return []
    files = {str(path.resolve()): path for path in folder.iterdir() if path.is_file() and not path.name.startswith(".")}
    with platform.store.cursor() as cur:
        row = collection_store.require_collection(cur, collection)
        redacted = document_pii.redacted_sources(cur, row["id"], sorted(files))
    removed = []
    for source in sorted(redacted):
        files[source].unlink(missing_ok=True)
        removed.append(files[source])
    return removed


def original_notice(platform, document_id: int, mime_type: str) -> str:
    """The document view's sentence on a document stored redacted, whose original file is not kept ("" otherwise)."""
    with platform.store.cursor() as cur:
        if not document_pii.stored_redacted(cur, document_id):
            return ""
    kind = {"application/pdf": "PDF", "text/csv": "CSV"}.get(mime_type, "file")
    if kind == "CSV":  # a CSV is the one original kept, with its cells redacted as the text was
        return ("Its collection redacts personal data at ingest: the text was stored redacted, and so was the CSV "
                "it was read from; the uploaded original was not kept.")
    return (f"The original {kind} is not kept: its collection redacts personal data at ingest, so only the redacted "
            "text was stored (preview, chunks and citations are that text). To make a new version, upload the file "
            "again.")
