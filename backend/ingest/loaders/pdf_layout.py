"""PDF page layout from pdfplumber: words grouped into lines, two-column reading order, headings from font size and weight."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

_BOLD_FONT_RE = re.compile(r"bold|black|heavy|semibold|demibold|demi\b", re.I)
_LETTER_RE = re.compile(r"[^\W\d_]")
_NUMBERED_RE = re.compile(r"^\(?\d+(?:\.\d+)*[.)]?\s")  # "2.1 Fees", "3) Scope": a new heading, not a wrapped one
GUTTER_MIN = 8.0  # points of white space a column gutter needs at least (a word space is 2-4 pt)
HEADING_SIZE_RATIO = 1.15  # a line this much larger than the body text is a heading
HEADING_MAX_WORDS = 20  # longer "headings" are emphasised paragraphs
PAGE_BODY_MIN_CHARS = 200  # a page needs this much text for its own body size; else the document's counts


@dataclass
class Word:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float = 0.0  # 0 when unknown (text that came from pypdf): never a heading
    bold: bool = False


@dataclass
class Line:
    """Words on one baseline, left to right; style is the majority of its characters."""

    words: list[Word]
    text: str = field(init=False)
    top: float = field(init=False)
    bottom: float = field(init=False)
    x0: float = field(init=False)
    x1: float = field(init=False)
    size: float = field(init=False)
    bold: bool = field(init=False)

    def __post_init__(self) -> None:
        self.words.sort(key=lambda w: w.x0)
        self.text = " ".join(w.text for w in self.words)
        self.top = min(w.top for w in self.words)
        self.bottom = max(w.bottom for w in self.words)
        self.x0 = min(w.x0 for w in self.words)
        self.x1 = max(w.x1 for w in self.words)
        sizes: Counter[float] = Counter()
        bold_chars = 0
        for w in self.words:
            sizes[round(w.size * 2) / 2] += len(w.text)
            bold_chars += len(w.text) if w.bold else 0
        self.size = sizes.most_common(1)[0][0]
        self.bold = bold_chars >= 0.9 * sum(sizes.values())

    def split_at(self, x: float) -> tuple[Line | None, Line | None]:
        left = [w for w in self.words if w.x1 <= x]
        right = [w for w in self.words if w.x1 > x]
        return (Line(left) if left else None), (Line(right) if right else None)


@dataclass
class Heading:
    text: str
    level: int  # 0 is the largest heading style of the document


def page_words(page) -> list[Word]:
    """The words of a pdfplumber page with their font size and weight; a word drawn twice on itself (fake
    bold, a shadow) is kept once."""
    words: list[Word] = []
    seen: set[tuple[str, int, int]] = set()
    # pdfplumber's dedupe_chars does this per character but takes ~0.4 s a page; per word it is free.
    for w in page.extract_words(extra_attrs=["fontname", "size"]):
        key = (w["text"], round(float(w["x0"])), round(float(w["top"])))
        if not w["text"].strip() or key in seen:
            continue
        seen.add(key)
        words.append(Word(w["text"], float(w["x0"]), float(w["x1"]), float(w["top"]), float(w["bottom"]),
                          float(w["size"]), bool(_BOLD_FONT_RE.search(str(w["fontname"]).split("+")[-1]))))
    return words


def group_lines(words: Sequence[Word]) -> list[Line]:
    """Words whose vertical middles fall inside the first word's height of a line belong to that line."""
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.top, w.x0)):
        middle = (word.top + word.bottom) / 2
        for candidate in reversed(lines[-4:]):  # side-by-side columns can interleave a few lines
            first = candidate[0]
            if first.top <= middle <= first.bottom:
                candidate.append(word)
                break
        else:
            lines.append([word])
    return sorted((Line(ws) for ws in lines), key=lambda ln: (ln.top, ln.x0))


def find_gutter(lines: Sequence[Line]) -> float | None:
    """The x of a white gutter between two columns of text, or None for a one-column page.

    A gutter is a vertical strip crossed by few lines (full-width titles may cross it) with text on both
    sides of it on many lines; one-column prose crosses every point of the middle of the page.
    """
    if len(lines) < 8:
        return None
    left_edge, right_edge = min(ln.x0 for ln in lines), max(ln.x1 for ln in lines)
    width = right_edge - left_edge
    if width <= 0:
        return None
    best: tuple[int, float] | None = None
    candidates = []
    x = left_edge + 0.3 * width
    while x <= left_edge + 0.7 * width:
        crossing = sum(1 for ln in lines if _crosses(ln, x))
        candidates.append((crossing, x))
        x += 2.0
    if not candidates:
        return None
    fewest = min(c for c, _ in candidates)
    run = [x for c, x in candidates if c == fewest]
    best = (fewest, (run[0] + run[-1]) / 2 if _contiguous(run) else run[len(run) // 2])
    crossing, gutter = best
    left = sum(1 for ln in lines if not _crosses(ln, gutter) and ln.x0 < gutter)
    right = sum(1 for ln in lines if not _crosses(ln, gutter) and ln.x1 > gutter)
    if crossing > 0.4 * len(lines) or left < 4 or right < 4:
        return None
    return gutter


def _crosses(line: Line, x: float) -> bool:
    half = GUTTER_MIN / 2
    return any(w.x0 - half < x < w.x1 + half for w in line.words)


def _contiguous(xs: list[float]) -> bool:
    return all(b - a <= 2.01 for a, b in zip(xs, xs[1:]))


def reading_order(items: Sequence, gutter: float | None) -> list:
    """Lines (and table blocks, anything with top, x0, x1) in reading order: top to bottom on a one-column page;
    on a two-column page, full-width items in place and, between them, the left column before the right."""
    ordered = sorted(items, key=lambda it: (it.top, it.x0))
    if gutter is None:
        return ordered
    result: list = []
    left: list = []
    right: list = []

    def flush() -> None:
        result.extend(sorted(left, key=lambda it: it.top))
        result.extend(sorted(right, key=lambda it: it.top))
        left.clear()
        right.clear()

    for item in ordered:
        if isinstance(item, Line):
            if _crosses(item, gutter):
                flush()
                result.append(item)
                continue
            left_part, right_part = item.split_at(gutter)
            if left_part:
                left.append(left_part)
            if right_part:
                right.append(right_part)
        elif item.x0 < gutter < item.x1:  # a table across both columns
            flush()
            result.append(item)
        else:
            (left if item.x1 <= gutter else right).append(item)
    flush()
    return result


# --- headings -------------------------------------------------------------------------------------


def heading_style(line: Line, body: float, body_bold: bool = False) -> tuple[float, bool] | None:
    """(size, bold) when the line looks like a heading next to body text of size `body`, else None."""
    if body <= 0 or line.size <= 0 or not _LETTER_RE.search(line.text):
        return None
    if len(line.text.split()) > HEADING_MAX_WORDS:
        return None
    if line.size >= body * HEADING_SIZE_RATIO:
        return (line.size, line.bold)
    # Bold at body size is a heading only where the body is not bold, as a whole line that does not end like
    # a sentence or a list item.
    if line.bold and not body_bold and line.size >= body * 0.95 and not line.text.rstrip().endswith((".", ",", ";")):
        return (line.size, True)
    return None


def style_counts(words: Sequence[Word]) -> Counter[tuple[float, bool]]:
    """Characters per (size, bold) style: table cells count too, since they are set in body text."""
    counts: Counter[tuple[float, bool]] = Counter()
    for word in words:
        counts[(round(word.size * 2) / 2, word.bold)] += len(word.text)
    return counts


def _body_style(counts: Counter[tuple[float, bool]]) -> tuple[float, bool]:
    """(size, bold) of the body text: the size most characters are set in, bold when most of those are."""
    sizes: Counter[float] = Counter()
    for (size, _), chars in counts.items():
        sizes[size] += chars
    if not sizes:
        return 0.0, False
    size = sizes.most_common(1)[0][0]
    return size, counts[(size, True)] * 2 > sizes[size]


def find_headings(pages: Sequence[Sequence[Line]], styles: Sequence[Counter[tuple[float, bool]]]) -> dict[int, Heading]:
    """Headings keyed by id() of their first line: consecutive lines of one heading style join into one heading,
    and levels nest by size (larger first, bold before regular at one size) across the whole document.

    `styles` holds each page's style_counts; a page with little text is compared with the document's body."""
    document_styles: Counter[tuple[float, bool]] = Counter()
    for counts in styles:
        document_styles.update(counts)
    document_body = _body_style(document_styles)
    found: list[tuple[list[Line], tuple[float, bool]]] = []
    for lines, counts in zip(pages, styles):
        body, body_bold = _body_style(counts) if sum(counts.values()) >= PAGE_BODY_MIN_CHARS else document_body
        run: list[Line] = []
        run_style: tuple[float, bool] | None = None
        for line in [*lines, None]:
            style = heading_style(line, body, body_bold) if line is not None else None
            if (line is not None and run and style == run_style and line.top - run[-1].bottom < line.size
                    and not _NUMBERED_RE.match(line.text)):
                run.append(line)  # a heading wrapped onto a second line
                continue
            if run and run_style is not None and sum(len(r.text.split()) for r in run) <= HEADING_MAX_WORDS:
                found.append((run, run_style))
            run, run_style = ([line], style) if line is not None and style else ([], None)
    heading_styles = sorted({style for _, style in found}, key=lambda s: (-s[0], not s[1]))
    level_of = {style: level for level, style in enumerate(heading_styles)}
    headings: dict[int, Heading] = {}
    for run, style in found:
        headings[id(run[0])] = Heading(" ".join(ln.text for ln in run), level_of[style])
        for continuation in run[1:]:
            headings[id(continuation)] = Heading("", level_of[style])  # folded into the first line's heading
    return headings
