"""Table questions: recall@5 of the chunk holding the answer's row, PDFs read as plain text (pypdf) against layout.

    python -m bench.bench_tables [--json]     (also part of `python -m bench`)

The corpus is generated from bench/data/tables_corpus.json (fee-schedule-like tables in ruled and unruled PDFs
and in DOCX, plus a prose page about fees) into a scratch directory; bench/data/tables_gold.jsonl holds questions
whose answer is one table cell. A retrieved chunk "holds the row" when it comes from the gold document and its
text has both the row's first cell and the answer cell. "before" ingests the PDFs through read_pdf_plain (the
text-only reader every PDF went through before layout); "after" through load_file. DOCX goes through its reader
in both runs, so its figures only differ by the ranking around it. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from bench import PROJECT_ROOT, bench_settings, heading, machine, write_results

CORPUS = PROJECT_ROOT / "bench" / "data" / "tables_corpus.json"
GOLD = PROJECT_ROOT / "bench" / "data" / "tables_gold.jsonl"
K = 5


def _text(value: str) -> str:
    return " ".join(value.split()).lower()


# --- the corpus -------------------------------------------------------------------------------------------
def _write_pdf(spec: dict, path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(spec["title"])
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.multi_cell(0, 9, spec["heading"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=10.5)
    pdf.multi_cell(0, 6, spec["intro"], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    ruled = spec["kind"] == "pdf-ruled"
    columns = len(spec["header"])
    widths = (55, 35, 90) if columns == 3 else (55, 45, 40, 40)
    if ruled:  # fpdf2's table: every cell boxed, long cells wrapped onto more lines
        with pdf.table(col_widths=widths, text_align="LEFT", line_height=6) as table:
            for values in [spec["header"], *spec["rows"]]:
                row = table.row()
                for value in values:
                    row.cell(value)
    else:  # cells placed on a grid, no lines: only their alignment makes the table
        for index, values in enumerate([spec["header"], *spec["rows"]]):
            pdf.set_font("helvetica", "B" if index == 0 else "", 10.5)
            for width, value in zip(widths, values):
                pdf.cell(width, 7, value)
            pdf.ln(7)
    pdf.ln(4)
    pdf.set_font("helvetica", size=10.5)
    pdf.multi_cell(0, 6, spec["outro"], new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def _write_docx(spec: dict, path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = spec["title"]
    document.add_heading(spec["heading"], level=1)
    document.add_paragraph(spec["intro"])
    table = document.add_table(rows=len(spec["rows"]) + 2, cols=len(spec["header"]))
    title_cells = table.rows[0].cells
    title_cells[0].merge(title_cells[-1]).text = spec["table_title"]  # a title row across the table
    for row, values in zip(table.rows[1:], [spec["header"], *spec["rows"]]):
        for cell, value in zip(row.cells, values):
            cell.text = value
    document.add_paragraph(spec["outro"])
    document.save(str(path))


def write_corpus(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in json.loads(CORPUS.read_text(encoding="utf-8"))["documents"]:
        path = folder / spec["file"]
        if spec["kind"].startswith("pdf"):
            _write_pdf(spec, path)
        elif spec["kind"] == "docx":
            _write_docx(spec, path)
        else:
            path.write_text(spec["text"], encoding="utf-8")
        paths.append(path)
    return paths


# --- the two readers --------------------------------------------------------------------------------------
def _plain_pdf(path: Path):
    """A LoadedDocument of a PDF read as load_file read every PDF before layout: pypdf's text, page by page."""
    from backend.ingest.clean import clean_text
    from backend.ingest.loaders import SUPPORTED_EXTENSIONS
    from backend.ingest.loaders.common import assemble, one_line
    from backend.ingest.loaders.pdf import read_pdf_plain
    from backend.models import LoadedDocument

    title, parts, metadata = read_pdf_plain(path.read_bytes(), path)
    text, sections = assemble(parts)
    return LoadedDocument(source=str(path), title=one_line(clean_text(title)) or path.stem,
                          mime_type=SUPPORTED_EXTENSIONS[".pdf"], text=text, sections=sections, metadata=metadata)


def _read(paths: list[Path], reader: str, max_bytes: int) -> list:
    from backend.ingest.loaders import load_file

    return [_plain_pdf(p) if reader == "before" and p.suffix == ".pdf" else load_file(p, max_bytes) for p in paths]


def _ingest(platform, paths: list[Path], reader: str) -> float:
    started = time.perf_counter()
    records = _read(paths, reader, int(platform.settings.max_file_mb * 1024 * 1024))
    seconds = time.perf_counter() - started
    platform.corpus.create_collection("tables")
    platform.corpus.ingest_records("tables", records)
    return seconds


def _rank(hits, item: dict, sources: dict[int, str], one_line: bool) -> int | None:
    """1-based rank of the first hit from the gold document holding the row (its first cell and the answer cell),
    or, with one_line, holding them on one line of its text; None when no hit does."""
    row, answer = _text(item["row"]), _text(item["answer"])
    for rank, hit in enumerate(hits, start=1):
        if sources.get(hit.chunk.document_id) != item["document"]:
            continue
        pieces = [_text(line) for line in hit.chunk.text.splitlines()] if one_line else [_text(hit.chunk.text)]
        if any(row in piece and answer in piece for piece in pieces):
            return rank
    return None


def _evaluate(platform, gold: list[dict], kinds: dict[str, str]) -> dict:
    sources = {doc_id: Path(src).name for doc_id, src in platform.corpus.document_source_map("tables").items()}
    ranks: dict[str, list[tuple[int | None, int | None]]] = {}
    misses = []
    for item in gold:
        hits = platform.retriever.search(item["question"], "tables", k=K)
        found = (_rank(hits, item, sources, one_line=False), _rank(hits, item, sources, one_line=True))
        ranks.setdefault(kinds[item["document"]], []).append(found)
        if found[0] is None:
            misses.append(item["id"])

    def figures(values: list[tuple[int | None, int | None]]) -> dict:
        n = len(values)
        return {"questions": n,
                "recall_at_5": round(sum(r is not None for r, _ in values) / n, 3),
                "recall_at_1": round(sum(r == 1 for r, _ in values) / n, 3),
                "mrr_at_5": round(sum(1 / r for r, _ in values if r) / n, 3),
                "row_on_one_line_at_5": round(sum(r is not None for _, r in values) / n, 3)}

    return {**figures([v for values in ranks.values() for v in values]),
            "by_kind": {kind: figures(values) for kind, values in sorted(ranks.items())}, "misses": misses}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_tables", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    from backend.jsonl import json_objects
    from backend.platform import Platform

    gold = [row for _, row in json_objects(GOLD.read_text(encoding="utf-8"), lambda n: f"{GOLD} line {n}")]
    kinds = {d["file"]: d["kind"] for d in json.loads(CORPUS.read_text(encoding="utf-8"))["documents"]}
    results: dict = {"machine": machine(), "quick": False, "k": K}
    with tempfile.TemporaryDirectory(prefix="bench-tables-") as scratch:
        paths = write_corpus(Path(scratch) / "corpus")
        for reader in ("before", "after"):  # imports and first-use caches are not reading time
            _read(paths, reader, max_bytes=50 * 1024 * 1024)
        for reader in ("before", "after"):
            settings = bench_settings(f"tables-{reader}")
            shutil.rmtree(settings.data_dir, ignore_errors=True)
            with Platform(settings) as platform:
                read_seconds = _ingest(platform, paths, reader)
                results[reader] = {**_evaluate(platform, gold, kinds), "read_seconds": round(read_seconds, 2)}
            shutil.rmtree(settings.data_dir, ignore_errors=True)
    write_results("tables", results)
    if args.json:
        print(json.dumps(results))
    else:
        print_report(results)
    return results


def print_report(results: dict) -> None:
    print(heading("tables", results))
    before, after = results["before"], results["after"]
    print(f"{after['questions']} questions whose answer is one table cell, hybrid search, top {results['k']}; "
          "a chunk holds the row when it has the row's first cell and the answer cell")
    print("                                  recall@5  recall@1  MRR@5  row on one line@5")
    for name, figures in (("before (PDFs as pypdf text)", before), ("after (layout and tables)", after)):
        print(f"  {name:<30} {figures['recall_at_5']:>8.3f}  {figures['recall_at_1']:>8.3f}  {figures['mrr_at_5']:>5.3f}"
              f"  {figures['row_on_one_line_at_5']:>17.3f}   misses: {', '.join(figures['misses']) or '-'}")
    for kind, a in after["by_kind"].items():
        b = before["by_kind"][kind]
        print(f"    {kind:<28} {b['recall_at_5']:.3f} -> {a['recall_at_5']:.3f}, recall@1 {b['recall_at_1']:.3f} -> "
              f"{a['recall_at_1']:.3f}, row on one line {b['row_on_one_line_at_5']:.3f} -> "
              f"{a['row_on_one_line_at_5']:.3f} ({a['questions']} questions)")
    print(f"  reading the corpus: {before['read_seconds']:.2f} s before, {after['read_seconds']:.2f} s after")


if __name__ == "__main__":
    main()
