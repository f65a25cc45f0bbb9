"""Personal data in the corpus browser: masking slices of one analysed text, and the PII report of a document."""
from __future__ import annotations

from dataclasses import dataclass

from backend.ingest.personal_data import without_overlaps as _without_overlaps


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
