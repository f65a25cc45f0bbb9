"""What an ingest run takes and reports: items to load (files or loaded records), per-file outcomes, events, the report."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterable, Iterator

from backend.ingest.clean import clean_text
from backend.models import InputError, LoadedDocument

OUTCOMES = ("ingested", "updated", "unchanged", "duplicate", "near-duplicate", "failed")
KEPT_FILES = frozenset({"application/pdf"})  # formats whose original bytes are stored: a PDF's pages are shown
# Outcomes that leave a stored, searchable document behind (a skipped near-duplicate has no document_id).
_STORED = {"ingested", "updated"}
@dataclass
class FileOutcome:
    """What happened to one file or record in an ingest run."""

    path: str
    outcome: str  # one of OUTCOMES
    document_id: int | None = None
    title: str = ""
    chunks: int = 0
    version: int | None = None
    message: str = ""
    near_duplicate_of: int | None = None
    near_duplicate_title: str = ""
    similarity: float | None = None
    duration_ms: float = 0.0

    @property
    def stored(self) -> bool:
        return self.outcome in _STORED or (self.outcome == "near-duplicate" and self.chunks > 0)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class IngestEvent:
    """Progress of a run: `start`, `loaded` (a file read, waiting for its batch), `file` (its outcome is final),
    `saved` (indexes written to disk), `finish`."""

    kind: str
    done: int = 0  # files with a final outcome so far
    total: int | None = None  # files in the run when known
    path: str = ""
    outcome: FileOutcome | None = None
    message: str = ""


@dataclass
class IngestReport:
    collection: str
    run_id: int
    files: list[FileOutcome] = field(default_factory=list)
    status: str = "finished"
    duration_s: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        counts = {name: 0 for name in OUTCOMES}
        for item in self.files:
            counts[item.outcome] = counts.get(item.outcome, 0) + 1
        return counts

    @property
    def chunks_added(self) -> int:
        return sum(item.chunks for item in self.files if item.stored)

    @property
    def failed(self) -> list[FileOutcome]:
        return [item for item in self.files if item.outcome == "failed"]

    @property
    def all_failed(self) -> bool:
        return bool(self.files) and all(item.outcome == "failed" for item in self.files)

    def to_dict(self) -> dict:
        return {
            "collection": self.collection,
            "run_id": self.run_id,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
            "counts": self.counts,
            "chunks_added": self.chunks_added,
            "files": [item.to_dict() for item in self.files],
        }


@dataclass
class LoadedFile(LoadedDocument):
    """A document loaded from a file of a KEPT_FILES type, with the file's bytes as read when it was loaded."""

    original: bytes | None = field(default=None, repr=False)


# An item to ingest: the name it is reported under, and how to load it (raises InputError on bad input).
IngestItem = tuple[str, Callable[[], LoadedDocument]]


def expand_paths(paths: Iterable[Path | str]) -> Iterator[tuple[str, Path | None]]:
    """Files under the given paths (folders recursively, hidden entries skipped), in a stable order.

    A path that does not exist yields (path, None) so it is reported as a failed file.
    """
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            yield str(raw), None
        elif path.is_dir():
            root = path.resolve()
            for child in sorted(root.rglob("*")):
                if any(part.startswith(".") for part in child.relative_to(root).parts):
                    continue
                if child.is_file():
                    yield str(child), child
        else:
            yield str(path.resolve()), path.resolve()


def file_item(display: str, path: Path | None, max_bytes: int) -> IngestItem:
    """An ingest item for a path from `expand_paths` (None: it does not exist)."""

    def load() -> LoadedDocument:
        from backend.ingest.loaders import load_file

        if path is None:
            raise InputError(f"{display}: no such file or directory")
        document = load_file(path, max_bytes)
        document.source = str(path)
        document.metadata.setdefault("size_bytes", path.stat().st_size)
        if document.mime_type in KEPT_FILES:
            try:  # now: an uploaded file of the same name may replace this one before the document is written
                original = path.read_bytes()
            except OSError:
                return document  # read a moment ago; without its bytes it just has no page images
            return LoadedFile(**{f.name: getattr(document, f.name) for f in fields(document)}, original=original)
        return document

    return display, load


def record_item(document: LoadedDocument) -> IngestItem:
    """An ingest item for an already-loaded document (e.g. a BEIR corpus row); its text is cleaned here."""

    def load() -> LoadedDocument:
        if document.sections:
            return document  # offsets point into this exact text: cleaning would shift them
        return LoadedDocument(source=document.source, title=document.title, mime_type=document.mime_type,
                              text=clean_text(document.text), sections=[], metadata=dict(document.metadata))

    return document.source, load
