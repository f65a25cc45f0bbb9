"""What an ingest run takes and reports: items to load (files or loaded records), per-file outcomes, events, the report."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterable, Iterator

from backend.ingest.clean import clean_text
from backend.models import InputError, LoadedDocument

OUTCOMES = ("ingested", "updated", "unchanged", "duplicate", "near-duplicate", "failed")
# Formats whose original bytes are stored with each version: a PDF's pages are shown (page images), and a CSV's
# or XLSX's rows are queried as rows by the query_table tool (the indexed text has them only as rendered lines).
KEPT_FILES = frozenset({"application/pdf", "text/csv",
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
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
    """Progress of a run: `start`, `step` (a file's step: reading, ocr, personal data, chunking, embedding, writing,
    done), `loaded` (a file read and chunked, waiting for its batch), `file` (its outcome is final), `saved` (indexes
    written to disk), `finish`."""

    kind: str
    done: int = 0  # files with a final outcome so far; for a `step`, the step's units done (pages, chunks)
    total: int | None = None  # files in the run when known; for a `step`, its units in all (None: it does not count)
    path: str = ""
    outcome: FileOutcome | None = None
    message: str = ""
    step: str = ""  # a `step` event's step
    chunks: int = 0  # a `loaded` file's chunks (what its batch will embed)


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


def file_item(display: str, path: Path | None, max_bytes: int, ocr: str = "auto") -> IngestItem:
    """An ingest item for a path from `expand_paths` (None: it does not exist); `ocr` as load_file takes it."""

    def load() -> LoadedDocument:
        from backend.ingest.loaders import load_file

        if path is None:
            raise InputError(f"{display}: no such file or directory")
        document = load_file(path, max_bytes, ocr)
        document.source = str(path)
        document.metadata.setdefault("size_bytes", path.stat().st_size)
        if document.mime_type in KEPT_FILES:
            try:  # now: an uploaded file of the same name may replace this one before the document is written
                original = path.read_bytes()
            except OSError:
                return document  # read a moment ago; without its bytes it just has no page images
            return _with_original(document, original)
        return document

    return display, load


def _with_original(document: LoadedDocument, original: bytes) -> LoadedFile:
    return LoadedFile(**{f.name: getattr(document, f.name) for f in fields(document)}, original=original)


def path_items(display: str, path: Path | None, max_bytes: int, ocr: str = "auto") -> list[IngestItem]:
    """The ingest items of a path from `expand_paths`: the file, and after an e-mail (.eml, .msg) one item per
    attachment, "<mail> › <attachment>", each its own document whose source is the mail's path plus that tail
    (stable, so ingesting the mail again updates them). A mail that cannot be read lists none: its own item fails."""
    items = [file_item(display, path, max_bytes, ocr)]
    if path is None:
        return items
    from backend.ingest.attachments import ATTACHED_TO, attachment_source
    from backend.ingest.loaders.email import ATTACHMENT_SEPARATOR, mail_attachments

    names = [name for name, _ in mail_attachment_sizes(path, max_bytes)]
    # Parsed again when the first attachment loads, not kept from now: a folder of mails would otherwise hold every
    # attachment's bytes in memory until its turn. Each is dropped once loaded.
    pending: dict[str, bytes] = {}

    def attachment_item(name: str) -> IngestItem:
        def load() -> LoadedDocument:
            from backend.ingest.loaders import load_bytes

            label = f"{path.name}{ATTACHMENT_SEPARATOR}{name}"
            if not pending:
                pending.update((a.name, a.data) for a in mail_attachments(path.read_bytes(), path.suffix))
            data = pending.pop(name, None)
            if data is None:
                raise InputError(f"{label}: no longer attached (the mail changed after it was listed)")
            document = load_bytes(data, label, max_bytes, ocr, source=attachment_source(str(path), name))
            if document.title == Path(label).stem:  # no title of its own: the attachment's name, not the mail's
                document.title = Path(name.rpartition(ATTACHMENT_SEPARATOR)[2]).stem
            # How the document records its mail (backend/ingest/attachments.py reads it back): deletes, erasure and
            # retention find a mail's attachments by it.
            document.metadata.update({ATTACHED_TO: str(path), "attachment": name, "size_bytes": len(data)})
            return _with_original(document, data) if document.mime_type in KEPT_FILES else document

        return f"{display}{ATTACHMENT_SEPARATOR}{name}", load

    return items + [attachment_item(name) for name in names]


def mail_attachment_sizes(path: Path, max_bytes: int) -> list[tuple[str, int]]:
    """(name, size) of each attachment of an e-mail file, nested mails' after theirs; none for any other file, and
    none for a mail that cannot be read (its own item fails with the reason)."""
    from backend.ingest.loaders.email import MAIL_EXTENSIONS, mail_attachments

    if path.suffix.lower() not in MAIL_EXTENSIONS:
        return []
    try:
        if path.stat().st_size > max_bytes:
            return []
        return [(a.name, len(a.data)) for a in mail_attachments(path.read_bytes(), path.suffix)]
    except Exception:  # noqa: BLE001 - unreadable, or no mail at all
        return []


def record_item(document: LoadedDocument) -> IngestItem:
    """An ingest item for an already-loaded document (e.g. a BEIR corpus row); its text is cleaned here."""

    def load() -> LoadedDocument:
        if document.sections:
            return document  # offsets point into this exact text: cleaning would shift them
        return LoadedDocument(source=document.source, title=document.title, mime_type=document.mime_type,
                              text=clean_text(document.text), sections=[], metadata=dict(document.metadata))

    return document.source, load
