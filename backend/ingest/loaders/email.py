"""E-mail reader: EML (standard library) and Outlook MSG (extract-msg) as headers plus body; attachments listed apart."""
from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

from backend.ingest.loaders.common import Part, Reject, check_printable, one_line
from backend.ingest.loaders.html import html_to_parts
from backend.ingest.loaders.pptx import OLE_MAGIC

# Shown between a mail's name and an attachment's: "letter.eml › invoice.pdf" is the attachment's item name and
# the tail of its document's source.
ATTACHMENT_SEPARATOR = " › "
MAIL_EXTENSIONS = (".eml", ".msg")
HEADERS = ("From", "To", "Cc", "Date", "Subject")
# A mail attached to a mail attached to a mail...: deeper ones stay inside their parent, unread (a crafted
# message can nest without end).
MAX_NESTING = 3


@dataclass
class Attachment:
    """One attached file: its name ("inner.eml › report.pdf" when it came from a nested mail) and its bytes."""

    name: str
    data: bytes


@dataclass
class Mail:
    headers: list[tuple[str, str]]
    subject: str
    plain: str = ""
    html: str = ""
    attachments: list[Attachment] = field(default_factory=list)


def read_eml(raw: bytes, path: Path):
    return _document(parse_eml(raw))


def read_msg(raw: bytes, path: Path):
    return _document(parse_msg(raw))


def parse_mail(raw: bytes, extension: str) -> Mail:
    return parse_msg(raw) if extension.lower() == ".msg" else parse_eml(raw)


def mail_attachments(raw: bytes, extension: str, depth: int = 0) -> list[Attachment]:
    """Every attachment of a mail, and after an attached mail its own attachments ("inner.eml › file.pdf")."""
    found: list[Attachment] = []
    for attachment in parse_mail(raw, extension).attachments:
        found.append(attachment)
        inner_ext = Path(attachment.name).suffix.lower()
        if inner_ext in MAIL_EXTENSIONS and depth + 1 < MAX_NESTING:
            try:
                inner = mail_attachments(attachment.data, inner_ext, depth + 1)
            except Reject:
                continue  # the attached mail's own item reports why it cannot be read
            found += [Attachment(attachment.name + ATTACHMENT_SEPARATOR + a.name, a.data) for a in inner]
    return found


def _document(mail: Mail):
    """(title, parts, metadata): the headers that matter as the first part, then the body."""
    header_text = "\n".join(f"{name}: {value}" for name, value in mail.headers if value)
    parts = [Part(header_text)] if header_text else []
    if mail.plain.strip():
        parts.append(Part(mail.plain))
    elif mail.html.strip():
        # Mail HTML has no site chrome: its <header>/<footer> (a letterhead, a signature) are the sender's words.
        body_parts, _, _, _ = html_to_parts(mail.html, chrome_tags=False)
        parts += body_parts
    metadata: dict = {name.lower(): value for name, value in mail.headers if value and name != "Subject"}
    metadata["attachments"] = [a.name for a in mail.attachments]
    return mail.subject, parts, metadata


def attachment_name(name: str, position: int, content_type: str = "") -> str:
    """A usable file name for an attachment: its own base name (no folders), else one made from its type."""
    clean = one_line(Path(str(name or "").replace("\\", "/")).name).replace(ATTACHMENT_SEPARATOR.strip(), "-")
    if clean and clean not in (".", ".."):
        return clean
    if content_type == "message/rfc822":
        return f"attachment-{position}.eml"
    return f"attachment-{position}{mimetypes.guess_extension(content_type or '') or ''}"


def _unique(attachments: list[Attachment]) -> list[Attachment]:
    """Two attachments of one name get distinct names ("a.pdf", "a (2).pdf"): each is its own document."""
    seen: dict[str, int] = {}
    result = []
    for attachment in attachments:
        count = seen[attachment.name.lower()] = seen.get(attachment.name.lower(), 0) + 1
        name = attachment.name
        if count > 1:
            stem, suffix = Path(name).stem, Path(name).suffix
            name = f"{stem} ({count}){suffix}"
        result.append(Attachment(name, attachment.data))
    return result


# --------------------------------------------------------------------------------------------
# EML (RFC 5322, MIME)


def parse_eml(raw: bytes) -> Mail:
    import email
    from email import policy

    if raw.startswith(OLE_MAGIC):
        raise Reject("is an Outlook .msg file (an OLE container), not an .eml message: rename it to .msg")
    if b"\x00" in raw[:65536]:
        raise Reject("contains NUL bytes: binary content, not an e-mail message")
    message = email.message_from_bytes(raw, policy=policy.default)
    headers = [(name, _header(message, name)) for name in HEADERS]
    if not any(value for _, value in headers):
        raise Reject("has no e-mail headers (From, To, Date or Subject): not an e-mail message")
    mail = Mail(headers=headers, subject=_header(message, "Subject"))
    for kind in ("plain", "html"):
        body = message.get_body(preferencelist=(kind,))
        if body is not None:
            setattr(mail, kind, _part_text(body))
    attachments = []
    for position, part in enumerate(message.iter_attachments(), start=1):
        content_type = part.get_content_type()
        name = attachment_name(part.get_filename() or "", position, content_type)
        if content_type == "message/rfc822":
            inner = part.get_payload()
            data = inner[0].as_bytes() if isinstance(inner, list) and inner and hasattr(inner[0], "as_bytes") else b""
            if not name.lower().endswith(MAIL_EXTENSIONS):
                name += ".eml"
        else:
            data = part.get_payload(decode=True) or b""
        attachments.append(Attachment(name, data))
    mail.attachments = _unique(attachments)
    return mail


def _header(message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 - a header the strict parser cannot parse: its raw text still reads
        value = next((v for k, v in message.raw_items() if k.lower() == name.lower()), "")
    return one_line(value)


def _part_text(part) -> str:
    try:
        text = part.get_content()
    except (LookupError, UnicodeError, ValueError):  # an unknown or wrong charset: the bytes as UTF-8, marked
        text = (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return ""
    check_printable(text)
    return text


# --------------------------------------------------------------------------------------------
# MSG (Outlook's OLE compound file)


def _msg_date(message) -> str:
    """When it was sent (the submit time), else the Date of its transport headers, if it has any."""
    date = getattr(message, "date", None)
    if date is not None and hasattr(date, "isoformat"):
        return date.isoformat(sep=" ")
    header = getattr(message, "header", None)
    return one_line(header.get("Date", "") if header is not None else date)


def parse_msg(raw: bytes) -> Mail:
    import extract_msg
    from extract_msg.enums import AttachmentType

    if not raw.startswith(OLE_MAGIC):
        raise Reject("is not an Outlook .msg file (not an OLE compound file): corrupt or mislabelled")
    try:
        message = extract_msg.openMsg(io.BytesIO(raw), delayAttachments=False)
    except Exception as exc:  # InvalidFileFormatError, olefile's IOError, a damaged stream
        raise Reject(f"is not a readable Outlook .msg file ({one_line(exc) or type(exc).__name__})") from None
    try:
        headers = [("From", one_line(getattr(message, "sender", ""))), ("To", one_line(getattr(message, "to", ""))),
                   ("Cc", one_line(getattr(message, "cc", ""))), ("Date", _msg_date(message)),
                   ("Subject", one_line(getattr(message, "subject", "")))]
        mail = Mail(headers=headers, subject=headers[-1][1], plain=getattr(message, "body", None) or "")
        html = getattr(message, "htmlBody", None)
        if html:
            mail.html = html.decode("utf-8", errors="replace") if isinstance(html, bytes) else str(html)
        attachments = []
        for position, attachment in enumerate(getattr(message, "attachments", []), start=1):
            name = attachment_name(attachment.longFilename or attachment.shortFilename or "", position,
                                   getattr(attachment, "mimetype", "") or "")
            if attachment.type == AttachmentType.MSG:  # an attached Outlook item: its own .msg bytes
                data = attachment.data.exportBytes()
                name = name if name.lower().endswith(".msg") else name + ".msg"
            else:
                data = attachment.data if isinstance(attachment.data, bytes) else b""
            attachments.append(Attachment(name, data))
        mail.attachments = _unique(attachments)
    except Reject:
        raise
    except Exception as exc:  # noqa: BLE001 - a stream damaged past what extract-msg tolerates
        raise Reject(f"is a damaged Outlook .msg file ({type(exc).__name__}: {one_line(exc)})") from None
    finally:
        message.close()
    if not any(value for _, value in mail.headers) and not mail.plain and not mail.html:
        raise Reject("is an Outlook item with no headers and no body: nothing to read")
    return mail
