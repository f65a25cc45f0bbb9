"""PDF tables: ruled ones from pdfplumber's line-based table finder, unruled ones from lines whose cell gaps line up."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from backend.ingest.loaders.pdf_layout import Line, Word

MIN_ROWS = 3  # rows (header included) before aligned text counts as a table: two could be any two lines
MAX_WORDS_PER_CELL = 4.5  # on average; lines of prose columns carry 6-12 words each and are not a table
CELL_GAP_EM = 1.0  # a gap this many font sizes wide separates two cells (a word space is about 0.3 em)


@dataclass
class TableBlock:
    """A table on a page: its rows of cell texts (the first is the header) and where it sits."""

    rows: list[list[str]]
    x0: float
    top: float
    x1: float
    bottom: float

    def holds(self, word: Word) -> bool:
        middle_x, middle_y = (word.x0 + word.x1) / 2, (word.top + word.bottom) / 2
        return self.x0 - 1 <= middle_x <= self.x1 + 1 and self.top - 1 <= middle_y <= self.bottom + 1


def ruled_tables(page) -> list[TableBlock]:
    """Tables drawn with lines or cell rectangles; a frame around text (one column or one row) is not a table."""
    blocks = []
    for table in page.find_tables():  # the default "lines" strategy: drawn edges only
        rows = [[" ".join((cell or "").split()) for cell in row] for row in table.extract()]
        rows = [row for row in rows if any(row)]
        filled_columns = {i for row in rows for i, cell in enumerate(row) if cell}
        if len(rows) >= 2 and len(filled_columns) >= 2:
            x0, top, x1, bottom = table.bbox
            blocks.append(TableBlock(rows, float(x0), float(top), float(x1), float(bottom)))
    return blocks


def _segments(line: Line) -> list[list[Word]]:
    """The line's words cut where the gap between two words is wider than a cell gap."""
    gap = CELL_GAP_EM * (line.size or 10.0)
    segments: list[list[Word]] = [[line.words[0]]]
    for previous, word in zip(line.words, line.words[1:]):
        if word.x0 - previous.x1 >= gap:
            segments.append([word])
        else:
            segments[-1].append(word)
    return segments


def aligned_tables(lines: Sequence[Line]) -> tuple[list[TableBlock], list[Line]]:
    """Unruled tables among a page's lines (top to bottom) and the lines left as running text.

    Consecutive lines split by wide gaps into two or more cells form a candidate; its columns are the x ranges
    the cells of all its rows cover (a gap no cell crosses separates two columns). A one-cell line between two
    such rows continues the row above (a wrapped cell).
    """
    ordered = sorted(lines, key=lambda ln: (ln.top, ln.x0))
    tables: list[TableBlock] = []
    rest: list[Line] = []
    i = 0
    while i < len(ordered):
        run = _candidate_run(ordered, i)
        table = _as_table(run) if run else None
        if table is not None:
            tables.append(table)
            i += len(run)
        else:
            rest.append(ordered[i])
            i += 1
    return tables, rest


def _candidate_run(lines: Sequence[Line], start: int) -> list[Line]:
    if len(_segments(lines[start])) < 2:
        return []
    run = [lines[start]]
    pitch = lines[start].bottom - lines[start].top
    j = start + 1
    while j < len(lines):
        line = lines[j]
        if line.top - run[-1].bottom > 1.5 * max(pitch, line.bottom - line.top):
            break  # a blank line's worth of space: the table has ended
        if len(_segments(line)) >= 2:
            run.append(line)
        elif j + 1 < len(lines) and len(_segments(lines[j + 1])) >= 2 and line.x0 > run[-1].x0 + 1:
            run.append(line)  # a wrapped cell in a later column, with more rows after it
        else:
            break
        j += 1
    return run


def _as_table(run: Sequence[Line]) -> TableBlock | None:
    multi = [ln for ln in run if len(_segments(ln)) >= 2]
    if len(multi) < MIN_ROWS:
        return None
    columns: list[list[float]] = []  # [x0, x1] of each column, merged over every cell of every row
    for line in multi:
        for segment in _segments(line):
            columns.append([segment[0].x0, segment[-1].x1])
    columns.sort()
    merged: list[list[float]] = [columns[0]]
    for x0, x1 in columns[1:]:
        if x0 <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], x1)
        else:
            merged.append([x0, x1])
    if len(merged) < 2:
        return None
    rows: list[list[str]] = []
    cells = words = 0
    for line in run:
        row = [""] * len(merged)
        for segment in _segments(line):
            column = next(k for k, (x0, x1) in enumerate(merged) if x0 <= segment[0].x0 <= x1)
            text = " ".join(w.text for w in segment)
            row[column] = f"{row[column]} {text}".strip()
            cells += 1
            words += len(segment)
        if len(_segments(line)) >= 2 or not rows:
            rows.append(row)
        else:  # a wrapped cell: its words go on in the row above
            rows[-1] = [f"{above} {more}".strip() for above, more in zip(rows[-1], row)]
    if words / cells > MAX_WORDS_PER_CELL:
        return None
    used = sorted((sum(1 for row in rows if row[k]) for k in range(len(merged))), reverse=True)
    # A sparse column (notes) is fine; one filled in under a quarter of the rows is a stray gap, not a grid.
    if used[1] * 2 < len(rows) or used[-1] * 4 < len(rows):
        return None
    return TableBlock(rows, min(ln.x0 for ln in run), min(ln.top for ln in run), max(ln.x1 for ln in run),
                      max(ln.bottom for ln in run))


def carry_headers(page_blocks: list[list]) -> None:
    """A table that goes on from the previous page without its header row gets that header again, so its rows
    are labelled too: when a page opens with a table as wide as the table that closed the page before."""
    for previous, blocks in zip(page_blocks, page_blocks[1:]):
        if not previous or not blocks or not isinstance(previous[-1], TableBlock) or not isinstance(blocks[0], TableBlock):
            continue
        header, table = previous[-1].rows[0], blocks[0]
        if len(table.rows[0]) == len(header) and table.rows[0] != header:
            table.rows.insert(0, header)
