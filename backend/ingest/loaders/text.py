"""Markdown (with front matter) and plain-text readers."""
from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from backend.ingest.loaders.common import Part, decode_text, one_line
from backend.ingest.loaders.html import html_to_parts

_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def read_markdown(raw: bytes, path: Path):
    from markdown_it import MarkdownIt

    text = decode_text(raw)
    meta: dict = {}
    match = _FRONT_MATTER_RE.match(text)
    if match:
        import yaml

        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, dict):
            meta = loaded
            text = text[match.end():]
    html = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough").render(text)
    # Markdown has no page chrome: <header>/<footer> written in it are content.
    parts, first_h1, _, _ = html_to_parts(html, chrome_tags=False)
    title = one_line(meta.get("title", "")) or first_h1
    metadata = {
        str(k): (v.isoformat() if isinstance(v, (date, datetime)) else v)
        for k, v in meta.items()
        if isinstance(v, (str, int, float, bool, date, datetime))
    }
    return title, parts, metadata


# --------------------------------------------------------------------------------------------
# plain text, CSV, XLSX


def read_text(raw: bytes, path: Path):
    return "", [Part(decode_text(raw))], {}


