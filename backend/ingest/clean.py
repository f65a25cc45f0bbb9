"""Text cleaning shared by every loader: Unicode, control characters, whitespace; and the content hash."""
from __future__ import annotations

import hashlib
import re
import unicodedata

# Invisible characters that split words for the tokenizer and for search without showing anything.
_INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff"
# Every control character except tab and newline (those carry layout); \r, \f, \v and the Unicode
# line/paragraph separators become newlines first, so only junk remains in this class.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f" + _INVISIBLE + "]")
_NEWLINE_RE = re.compile(r"\r\n|[\r\f\v\x1c-\x1e\x85\u2028\u2029]")
# Space-like separators (NBSP, thin space, ideographic space...) read as plain spaces.
_SPACE_LIKE_RE = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_INNER_SPACES_RE = re.compile(r"(?<=\S) {2,}")
_TRAILING_SPACE_RE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_LINES_RE = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Normalise text so equal content gives equal strings; idempotent (clean_text(clean_text(t)) == clean_text(t))."""
    if not text:
        return ""
    text = _NEWLINE_RE.sub("\n", text)
    text = _CONTROL_RE.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = _SPACE_LIKE_RE.sub(" ", text)
    # Leading indentation is kept (code, nested lists); runs of spaces inside a line are layout noise.
    text = _INNER_SPACES_RE.sub(" ", text)
    text = _TRAILING_SPACE_RE.sub("", text)
    text = _BLANK_LINES_RE.sub("\n\n", text)
    return text.strip()


def content_hash(text: str) -> str:
    """sha256 hex digest of the cleaned text: the identity used to skip exact duplicates."""
    return hashlib.sha256(clean_text(text).encode("utf-8")).hexdigest()
