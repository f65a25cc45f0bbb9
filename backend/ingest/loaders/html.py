"""HTML reader: the main text only (navigation and chrome dropped), headings and tables kept."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from backend.ingest.loaders.common import Part, declared_charset, decode_text, one_line, render_table

_DROP_TAGS = ("script", "style", "nav", "aside", "form", "noscript", "template", "svg", "iframe", "canvas", "button", "select")
_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "blockquote", "dl", "dt", "dd", "figure", "figcaption",
    "address", "hr", "body", "html", "header", "footer", "details", "summary", "center", "caption",
}
_HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


class _HtmlWalker:
    """Walks a parsed HTML tree into parts: one per heading section, paragraphs and lines in order."""

    def __init__(self) -> None:
        self.headings: list[tuple[int, str]] = []
        self.first_h1 = ""
        self.parts: list[Part] = []
        self.blocks: list[str] = []  # finished paragraphs of the current section
        self.inline: list[str] = []  # text of the paragraph being read

    def heading_path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.headings)

    def flush_inline(self) -> None:
        text = "".join(self.inline)
        self.inline = []
        lines = [" ".join(line.split()) for line in text.split("\n")]
        text = "\n".join(line for line in lines if line)
        if text:
            self.blocks.append(text)

    def flush_section(self) -> None:
        self.flush_inline()
        if self.blocks:
            self.parts.append(Part("\n\n".join(self.blocks), heading_path=self.heading_path()))
        self.blocks = []

    def walk(self, node) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import CData, Comment, Declaration, Doctype, ProcessingInstruction

        for child in node.children:
            if isinstance(child, NavigableString):
                if isinstance(child, (Comment, Doctype, Declaration, ProcessingInstruction, CData)):
                    continue
                self.inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            tag = child.name.lower() if child.name else ""
            if tag in _HEADING_TAGS:
                self.flush_section()
                level = _HEADING_TAGS[tag]
                text = one_line(child.get_text(" "))
                if not text:
                    continue
                if level == 1 and not self.first_h1:
                    self.first_h1 = text
                self.headings = [(lv, h) for lv, h in self.headings if lv < level] + [(level, text)]
                self.blocks.append(text)
            elif tag == "table":
                self.flush_inline()
                lines = list(render_table(_html_rows(child)))
                if lines:
                    self.blocks.append("\n".join(lines))
            elif tag in ("ul", "ol"):
                self.flush_inline()
                items = self._list_items(child)
                if items:
                    self.blocks.append("\n".join(items))
            elif tag == "pre":
                self.flush_inline()
                text = child.get_text()
                if text.strip():
                    self.blocks.append(text.strip("\n"))
            elif tag == "br":
                self.inline.append("\n")
            elif tag in ("li", "tr", "td", "th"):  # stray list items or cells outside their container
                self.flush_inline()
                self.walk(child)
                self.flush_inline()
            elif tag in _BLOCK_TAGS:
                self.flush_inline()
                self.walk(child)
                self.flush_inline()
            else:
                self.walk(child)

    def _list_items(self, list_tag, depth: int = 0) -> list[str]:
        """Each item on its own line ("- text"), nested lists indented under their item."""
        from bs4 import Tag

        lines: list[str] = []
        for item in list_tag.find_all("li", recursive=False):
            own, nested = [], []
            for child in item.children:
                if isinstance(child, Tag) and child.name in ("ul", "ol"):
                    nested.extend(self._list_items(child, depth + 1))
                elif isinstance(child, Tag):
                    own.append(child.get_text(" "))
                else:
                    own.append(str(child))
            text = one_line(" ".join(own))
            if text:
                lines.append("  " * depth + "- " + text)
            lines.extend(nested)
        return lines


def _html_rows(table) -> Iterator[list[str]]:
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:  # rows of a nested table belong to that table
            continue
        cells = []
        for cell in row.find_all(["td", "th"], recursive=False):
            text = one_line(cell.get_text(" "))
            span = cell.get("colspan")
            repeat = int(span) if span and str(span).isdigit() and 0 < int(span) <= 50 else 1
            cells.extend([text] * repeat)
        yield cells


def html_to_parts(html: str, *, chrome_tags: bool = True):
    """Main text of an HTML page as parts; returns (parts, first h1, <title>, meta title)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    page_title = one_line(soup.title.get_text(" ")) if soup.title else ""
    meta_title = ""
    for attrs in ({"property": "og:title"}, {"name": "title"}, {"name": "dc.title"}):
        # bs4 annotates attrs as an invariant Dict of its own value union, which no dict[str, str] matches.
        meta = soup.find("meta", attrs=attrs)  # type: ignore[arg-type]
        if meta and meta.get("content"):
            meta_title = one_line(meta["content"])
            break
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(lambda t: t.has_attr("hidden") or t.get("aria-hidden") == "true"):
        tag.decompose()  # not shown to readers, so not content (often menus, templates, icons)
    if soup.head:
        soup.head.decompose()
    mains = soup.find_all("main") or soup.find_all("article")
    # Keep only outermost main/article elements (an article may sit inside main).
    roots = [m for m in mains if not any(p in mains for p in m.parents)]
    if not roots:
        roots = [soup.body or soup]
        if chrome_tags:
            # Page chrome only outside main/article: an <article><header> holds the article's own title.
            for tag in soup.find_all(["header", "footer"]):
                tag.decompose()
    walker = _HtmlWalker()
    for root in roots:
        walker.walk(root)
        walker.flush_inline()
    walker.flush_section()
    return walker.parts, walker.first_h1, page_title, meta_title


def read_html(raw: bytes, path: Path):
    html = decode_text(raw, declared=declared_charset(raw))
    parts, first_h1, page_title, meta_title = html_to_parts(html)
    return meta_title or first_h1 or page_title, parts, {}


