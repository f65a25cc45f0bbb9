"""The planner's rule for reading a named section: "Read the section 'Expenses' of document 12 (or of the Travel Policy)"."""
from __future__ import annotations

import re
from typing import Sequence

from backend.generation.base import Passage

READ_SECTION, SECTION_READ = "read_document_section", "section_read"

_Q = r"[\"'“‘]"
_UNQ = r"[\"'”’]"
# The heading must be quoted: an unquoted "the expenses section" is too loose to name a heading exactly.
_SECTION = re.compile(r"\b(?:section|heading|chapter)\s+(?:called\s+|named\s+|titled\s+)?" + _Q + r"(?P<a>[^\"'”’]{1,200})"
                      + _UNQ + r"|" + _Q + r"(?P<b>[^\"'”’]{1,200})" + _UNQ + r"\s+(?:section|heading|chapter)\b",
                      re.IGNORECASE)
_DOCUMENT_ID = re.compile(r"\bdocument\s+(?:#|id\s*|no\.?\s*)?(?P<id>\d{1,9})\b", re.IGNORECASE)
_DOCUMENT_TITLE = re.compile(r"\b(?:of|in|from)\s+(?:the\s+)?(?:document\s+)?" + _Q + r"(?P<title>[^\"'”’]{1,200})"
                             + _UNQ, re.IGNORECASE)


def section_request(question: str) -> tuple[str, int | None, str] | None:
    """(heading, document id, document title) when the question asks for a quoted section of one document."""
    section = _SECTION.search(question)
    if section is None:
        return None
    heading = (section["a"] or section["b"]).strip()
    rest = question[:section.start()] + " " + question[section.end():]
    by_id = _DOCUMENT_ID.search(rest)
    if by_id is not None:
        return heading, int(by_id["id"]), ""
    by_title = _DOCUMENT_TITLE.search(rest)
    if by_title is not None and by_title["title"].strip():
        return heading, None, by_title["title"].strip()
    return None


def document_in(title: str, passages: Sequence[Passage]) -> int | None:
    """The id of the one document among the (already scoped) passages whose title is `title`, ignoring case."""
    wanted = " ".join(title.split()).casefold()
    ids = {p.chunk.document_id for p in passages if " ".join((p.chunk.title or "").split()).casefold() == wanted}
    return ids.pop() if len(ids) == 1 else None


_READ_AND = re.compile(r"^\s*(?:please\s+)?(?:read|open|look at|check|go to)\b.*?\b(?:and|then)\b[\s,]*", re.IGNORECASE)


def section_question(question: str, heading: str) -> str:
    """What is asked of the section, for a generator that scores sentences against the question: the question
    without its "read the section ... of document ..." request, with the heading ("tell me the limit (Expenses)")."""
    rest = _SECTION.sub(" ", question, count=1)
    rest = _DOCUMENT_ID.sub(" ", rest, count=1) if _DOCUMENT_ID.search(rest) else _DOCUMENT_TITLE.sub(" ", rest, count=1)
    rest = " ".join(_READ_AND.sub("", rest).split()).strip(" ,.;:")
    return f"{rest} ({heading})" if rest else heading
