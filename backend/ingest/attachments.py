"""E-mail attachments as documents: the one reading of how a document records its mail (source and metadata)."""
from __future__ import annotations

from pathlib import Path

from backend.ingest.loaders.email import ATTACHMENT_SEPARATOR

# Ingest records an attachment's document with source "<mail's path> › <name>" (a nested mail's attachment:
# "<mail> › inner.eml › <name>") and metadata {"attached_to": "<mail's path>", "attachment": "<name>"}.
ATTACHED_TO = "attached_to"


def attachment_source(mail_source: str, name: str) -> str:
    """The source of the document made from attachment `name` of the mail whose source is `mail_source`."""
    return f"{mail_source}{ATTACHMENT_SEPARATOR}{name}"


def attachments_prefix(source: str) -> str:
    """What the source of every attachment of the document with this source starts with (a nested mail's too)."""
    return source + ATTACHMENT_SEPARATOR


def mail_source(source: str, metadata: dict | None = None) -> str | None:
    """The source (path) of the mail file an attachment's document came from; None for any other document.

    With the document's metadata, its `attached_to` decides (a file whose own path holds " › " is no attachment);
    without it (an ingest report's path) the source alone, split at the first separator."""
    if metadata is not None:
        mail = metadata.get(ATTACHED_TO)
        if isinstance(mail, str) and mail and source.startswith(attachments_prefix(mail)):
            return mail
        return None
    mail, separator, name = source.partition(ATTACHMENT_SEPARATOR)
    return mail if separator and mail and name else None


def is_attachment(source: str, metadata: dict | None = None) -> bool:
    return mail_source(source, metadata) is not None


def source_file(source: str, metadata: dict | None = None) -> Path:
    """The file on disk that holds a document: its mail for an attachment (which has no file of its own), else
    its source."""
    return Path(mail_source(source, metadata) or source)


def attachment_texts(path: Path, max_bytes: int) -> list[str]:
    """Each attachment of an e-mail file, by name and text as ingest reads it (its bytes as UTF-8 when no loader
    can): what the mail file holds besides its own text. None for any other file, or a mail that cannot be read."""
    from backend.ingest.loaders import load_bytes
    from backend.ingest.loaders.email import MAIL_EXTENSIONS, mail_attachments
    from backend.models import InputError

    if path.suffix.lower() not in MAIL_EXTENSIONS:
        return []
    try:
        if path.stat().st_size > max_bytes:
            return []  # ingest refuses it too: no attachment of it was read
        attachments = mail_attachments(path.read_bytes(), path.suffix)
    except Exception:  # noqa: BLE001 - unreadable, or no mail at all: as ingest, which then lists no attachment
        return []
    texts = []
    for attachment in attachments:
        try:
            text = load_bytes(attachment.data, attachment.name, max_bytes).text
        except InputError:
            text = attachment.data[:max_bytes].decode("utf-8", errors="ignore")
        texts.append(f"{attachment.name}\n{text}")
    return texts
