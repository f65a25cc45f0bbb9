"""Personal data found at ingest: one analysis per document, each finding located by chunk and page, its value hashed."""
from __future__ import annotations

import bisect
import copy
import csv
import hashlib
import hmac
import io
import re
import threading
import unicodedata
import weakref
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from backend.models import ChunkSpan, LoadedDocument, Section

# Analysed in windows of at most this many characters, cut at a line break: spaCy refuses texts over its
# max_length (1,000,000) and a window this size keeps the NER model's memory small. Still one pass over the text.
ANALYSIS_WINDOW = 100_000
# How a value is normalised before it is hashed, per entity type; every other type is "text".
_KINDS = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "IBAN_CODE": "alnum", "CREDIT_CARD": "digits",
          "US_SSN": "digits", "US_BANK_NUMBER": "digits", "US_ITIN": "digits", "UK_NHS": "digits"}
_NOT_PHONE = re.compile(r"[^0-9+()\-.\s/]")
_SALTS: dict[str, bytes] = {}
_SALT_LOCK = threading.Lock()
CACHED_ANALYSES = 20_000  # texts per redactor; a few findings each
_ANALYSES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_ANALYSES_LOCK = threading.Lock()


@dataclass(frozen=True)
class Finding:
    """One personal-data finding in a document's stored text: never its value, only a salted hash of it."""

    entity_type: str
    start: int  # character offsets in the stored text (after redaction, in a collection that redacts)
    end: int
    score: float
    value_hash: str
    chunk: int | None = None  # ordinal of the first chunk holding its start (chunk ids exist only once written)
    page: int | None = None


# --- values: normalised, then hashed with the installation's salt -------------------------------------------
def normalise(kind: str, value: str) -> str:
    """The form two spellings of one value share: a lower-cased e-mail, a phone's national number, an IBAN's
    letters and digits, a card's digits, a name with its whitespace collapsed and its case folded."""
    value = unicodedata.normalize("NFKC", value).strip()
    if kind == "email":
        return value.casefold()
    if kind == "phone":
        return _national_number(value)
    if kind == "alnum":
        return re.sub(r"[^0-9A-Za-z]", "", value).upper()
    if kind == "digits":
        return re.sub(r"\D", "", value)
    return " ".join(value.split()).casefold()


def _national_number(value: str) -> str:
    """A phone number's digits without its country code or trunk prefix, so "+44 20 7946 0958", "0044 20 7946 0958"
    and "020 7946 0958" are one number (the national significant number)."""
    import phonenumbers  # presidio's phone recognizer depends on it

    digits = re.sub(r"\D", "", value)
    international = value.startswith("+") or digits.startswith("00")
    if international or (len(digits) == 11 and digits.startswith("1")):
        try:
            parsed = phonenumbers.parse("+" + digits.removeprefix("00") if international else "+" + digits, None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is not None and (international or phonenumbers.is_valid_number(parsed)):
            return str(parsed.national_number)
    return digits.lstrip("0") or digits


def _salt(data_dir: Path) -> bytes:
    key = str(Path(data_dir).resolve())
    with _SALT_LOCK:
        if key not in _SALTS:
            from backend.pii import _salt_for  # the installation's one salt file, shared with the redactor

            _SALTS[key] = _salt_for(Path(data_dir))
        return _SALTS[key]


def value_hash(data_dir: Path, entity_type: str, value: str) -> str:
    """HMAC-SHA256 of the normalised value (keyed by the installation's salt): equal for two spellings of one
    e-mail or phone number, useless to anyone without the salt."""
    kind = _KINDS.get(entity_type, "text")
    return _hmac(_salt(data_dir), kind, normalise(kind, value))


def _hmac(salt: bytes, kind: str, normalised: str) -> str:
    return hmac.new(salt, f"{kind}\x1f{normalised}".encode("utf-8"), hashlib.sha256).hexdigest()


def search_hashes(data_dir: Path, value: str) -> list[str]:
    """The hashes a typed value may have been recorded under: the value is not told what it is, so each form it
    could take (an e-mail, a phone number, an IBAN, digits, a name) is hashed."""
    value = unicodedata.normalize("NFKC", value).strip()
    kinds = ["text"]
    if "@" in value:
        kinds.append("email")
    digits = sum(ch.isdigit() for ch in value)
    if digits >= 4 and not _NOT_PHONE.search(value):
        kinds += ["phone", "digits"]
    if digits and re.search(r"[A-Za-z]", value):
        kinds.append("alnum")
    salt = _salt(data_dir)
    hashes = {_hmac(salt, kind, normalise(kind, value)) for kind in kinds if normalise(kind, value)}
    return sorted(hashes)


# --- finding them -------------------------------------------------------------------------------------------
def without_overlaps(findings) -> list:
    """Presidio can report overlapping spans; of each overlapping group the first (best scored, longest) wins, and
    one reaching past the winner's end keeps that part (clipped to start there): dropping it would leave the tail
    of an address or a name unredacted, where the anonymizer given both covers it."""
    kept, end = [], -1
    for finding in sorted(findings, key=lambda f: (f.start, -f.score, -(f.end - f.start))):
        if finding.start < end < finding.end:
            finding = copy.copy(finding)
            finding.start = end
        if finding.start >= end:
            kept.append(finding)
            end = finding.end
    return kept


def analyse(redactor, text: str) -> tuple[tuple[str, int, int, float], ...]:
    """The redactor's findings over the whole text as (entity type, start, end, score), overlaps removed. Kept per
    redactor and text: the same text ingested again (an evaluation's scratch copy of a collection, another data
    dir) is not analysed twice in one process."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    with _ANALYSES_LOCK:
        cache = _ANALYSES.setdefault(redactor, OrderedDict())
        if digest in cache:
            cache.move_to_end(digest)
            return cache[digest]
    results = []
    start = 0
    while start < len(text):
        end = min(len(text), start + ANALYSIS_WINDOW)
        if end < len(text):
            cut = text.rfind("\n", start + ANALYSIS_WINDOW // 2, end)
            end = cut + 1 if cut > start else end
        for found in redactor.analyze(text[start:end]):
            found.start += start
            found.end += start
            results.append(found)
        start = end
    analysed = tuple((f.entity_type, f.start, f.end, round(float(f.score), 4)) for f in without_overlaps(results))
    with _ANALYSES_LOCK:
        cache[digest] = analysed
        while len(cache) > CACHED_ANALYSES:
            cache.popitem(last=False)
    return analysed


def scan(redactor, data_dir: Path, text: str) -> list[Finding]:
    """Every finding of the text (chunk and page not yet known), each value hashed, none kept."""
    return [Finding(entity, start, end, score, value_hash(data_dir, entity, text[start:end]))
            for entity, start, end, score in analyse(redactor, text)]


def locate(findings: Sequence[Finding], spans: Sequence[ChunkSpan], sections: Sequence[Section]) -> list[Finding]:
    """Each finding with the first chunk that holds its start (chunks overlap) and its page: the chunk's, else its
    section's."""
    starts = [span.char_start for span in spans]
    located = []
    for finding in findings:
        chunk = None
        i = bisect.bisect_right(starts, finding.start) - 1
        while i >= 0 and spans[i].char_end <= finding.start:
            i -= 1  # an earlier, longer chunk may still hold it
        if i >= 0 and spans[i].char_start <= finding.start < spans[i].char_end:
            while i > 0 and spans[i - 1].char_start <= finding.start < spans[i - 1].char_end:
                i -= 1
            chunk = i
        page = spans[chunk].page if chunk is not None else None
        if page is None:
            page = next((s.page for s in sections if s.start <= finding.start < s.end and s.page is not None), None)
        located.append(replace(finding, chunk=chunk, page=page))
    return located


# --- redacting with what was found --------------------------------------------------------------------------
def replacement(redactor, entity_type: str, value: str, score: float) -> str:
    """What the redactor's configured action (settings.pii_action) writes in place of one value."""
    from presidio_analyzer import RecognizerResult

    return redactor.anonymizer.anonymize(text=value, analyzer_results=[RecognizerResult(entity_type, 0, len(value), score)],
                                         operators=redactor.operators).text


def redact_found(document: LoadedDocument, findings: Sequence[Finding], redactor) -> tuple[LoadedDocument, list[Finding]]:
    """The document with each finding replaced as the redactor would (no second analysis), its sections' offsets
    moved with the text, and the findings at their places in the redacted text. A finding that crosses a section
    boundary is cut there, so a section never shares a replacement with its neighbour."""
    text = document.text
    bounds = sorted({0, len(text), *(s.start for s in document.sections), *(s.end for s in document.sections)})
    pieces: list[str] = []
    new_pos = {0: 0}
    moved: dict[int, list[int]] = {}  # finding index -> [new start, new end]
    position, i = 0, 0
    ordered = sorted(range(len(findings)), key=lambda k: findings[k].start)
    for start, end in zip(bounds, bounds[1:]):
        new_pos[start] = position
        cursor = start
        while i < len(ordered) and findings[ordered[i]].start < end:
            k = ordered[i]
            f_start, f_end = max(findings[k].start, cursor), min(findings[k].end, end)
            if f_end > f_start:
                pieces.append(text[cursor:f_start])
                position += f_start - cursor
                replaced = replacement(redactor, findings[k].entity_type, text[f_start:f_end], findings[k].score)
                span = moved.setdefault(k, [position, position])
                pieces.append(replaced)
                position += len(replaced)
                span[1] = position
                cursor = f_end
            if findings[k].end <= end:
                i += 1
            else:
                break  # the rest of it is in the next piece
        pieces.append(text[cursor:end])
        position += end - cursor
    new_pos[len(text)] = position
    sections = [Section(new_pos[s.start], new_pos[s.end], s.page, s.heading_path, s.ocr_confidence)
                for s in document.sections]
    redacted = LoadedDocument(source=document.source, title=document.title, mime_type=document.mime_type,
                              text="".join(pieces), sections=sections, metadata={**document.metadata, "redacted": True})
    return redacted, [replace(findings[k], start=moved[k][0], end=moved[k][1]) for k in sorted(moved)]


def redact_csv(raw: bytes, values: dict[str, str], redactor) -> bytes:
    """A CSV with every value found in its document's text (value -> entity type) replaced in its cells, as the
    text was: the indexed text renders each cell, so what the text's analysis found is what the cells hold.
    Cells are rewritten through the csv module, so a replacement never breaks a row."""
    from backend.ingest.loaders.spreadsheet import csv_rows

    longest_first = sorted(values, key=len, reverse=True)
    replacements = {value: replacement(redactor, values[value], value, 1.0) for value in longest_first}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in csv_rows(raw):
        cells = []
        for cell in row:
            cell = " ".join(cell.split())  # as the text renders it, so a value split by two spaces is still found
            for value in longest_first:
                if value in cell:
                    cell = cell.replace(value, replacements[value])
            cells.append(cell)
        writer.writerow(cells)
    return out.getvalue().encode("utf-8")


def collection_mode(collection: dict, settings) -> str:
    """A collection's pii_at_ingest: its own ('flag' or 'redact'), or for one made before the setting existed (NULL)
    what GROUNDWORK_REDACT_AT_INGEST says, as it always did."""
    return collection.get("pii_at_ingest") or ("redact" if settings.redact_at_ingest else "flag")


def original_withheld(kind: str) -> str:
    """Why a document stored redacted has no original to show (page images) or read rows from (query_table)."""
    return (f"its collection redacts personal data at ingest, so the original {kind} was not kept (only its "
            "redacted text was stored); the text, chunks and citations are still there")
