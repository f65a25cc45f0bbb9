"""OCR: character error rate on the generated scans (three noise levels, PDFs and images) and pages per second."""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench import heading, machine, write_results

RENDER_DPIS = (150, 200, 300)  # fixed render resolutions compared with rendering at the scan's own (None)


def _pages(quick: bool) -> list[list[str]]:
    from tests.ingest.make_scans import SCAN_PAGES

    return SCAN_PAGES[:1] if quick else SCAN_PAGES


def _cer(pages: list[list[str]], texts: list[str]) -> float:
    from tests.ingest.make_scans import character_error_rate, page_text

    return round(sum(character_error_rate(page_text(lines), text) for lines, text in zip(pages, texts)) / len(pages), 4)


def _page_texts(doc) -> list[str]:
    pages = sorted({s.page for s in doc.sections if s.page is not None})
    return ["\n".join(doc.text[s.start:s.end] for s in doc.sections if s.page == p) for p in pages]


@contextmanager
def _omp_threads(limit: str | None):
    """OMP_THREAD_LIMIT for the tesseract processes started inside (read by the child; this process's OpenMP is
    already initialised; unset, ingest passes 1). Not thread-safe: the bench is single-threaded."""
    before = os.environ.get("OMP_THREAD_LIMIT")
    if limit is None:
        os.environ.pop("OMP_THREAD_LIMIT", None)
    else:
        os.environ["OMP_THREAD_LIMIT"] = limit
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OMP_THREAD_LIMIT", None)
        else:
            os.environ["OMP_THREAD_LIMIT"] = before


def _load(path: Path) -> tuple[object, float]:
    from backend.ingest.loaders import load_file

    started = time.perf_counter()
    doc = load_file(path, 200 * 1024 * 1024)
    return doc, time.perf_counter() - started


def _noise_levels(folder: Path, pages: list[list[str]], dpi: int) -> dict:
    """Scanned PDF and PNG/JPEG/TIFF at each noise level, read through load_file as ingest reads them."""
    from tests.ingest.make_scans import NOISE_LEVELS, make_scan_image, make_scanned_pdf

    out: dict = {}
    for noise in NOISE_LEVELS:
        row: dict = {}
        for kind in ("pdf", "png", "jpg", "tiff"):
            path = folder / f"{noise.name}-{dpi}.{kind}"
            if kind == "pdf":
                make_scanned_pdf(path, pages, noise, dpi)
            else:
                make_scan_image(path, pages if kind == "tiff" else pages[:1], noise, dpi)
            doc, seconds = _load(path)
            texts = _page_texts(doc)
            expected = pages if kind in ("pdf", "tiff") else pages[:1]
            row[kind] = {"cer": _cer(expected, texts), "pages": len(texts), "seconds": round(seconds, 2),
                         "pages_per_s": round(len(texts) / seconds, 2),
                         "confidence": doc.metadata.get("ocr_confidence")}  # type: ignore[attr-defined]
        out[noise.name] = row
    return out


def _render_dpis(folder: Path, pages: list[list[str]]) -> dict:
    """A 200 dpi office-noise scan rendered at fixed resolutions and at its own (what ingest does)."""
    from backend.ingest.loaders.ocr import ScannedPdf, read_image_text
    from tests.ingest.make_scans import OFFICE, make_scanned_pdf

    raw = make_scanned_pdf(folder / "dpi.pdf", pages, OFFICE, 200).read_bytes()
    out: dict = {}
    for dpi in (*RENDER_DPIS, None):
        started = time.perf_counter()
        with ScannedPdf(raw) as document:
            texts = [read_image_text(document.render(page, dpi)).text for page in range(1, len(pages) + 1)]
        seconds = time.perf_counter() - started
        out["scan's own" if dpi is None else str(dpi)] = {"cer": _cer(pages, texts),
                                                          "pages_per_s": round(len(pages) / seconds, 2)}
    return out


def _threads(folder: Path, pages: list[list[str]]) -> dict:
    """Tesseract's OpenMP threads: one per core (its default) against one (what ingest sets)."""
    from tests.ingest.make_scans import OFFICE, make_scanned_pdf

    path = make_scanned_pdf(folder / "threads.pdf", pages, OFFICE, 200)
    out = {}
    for label, limit in (("default", str(os.cpu_count() or 1)), ("1", "1")):
        with _omp_threads(limit):
            _, seconds = _load(path)
        out[label] = round(len(pages) / seconds, 2)
    return out


def main(quick: bool = False) -> dict:
    pages = _pages(quick)
    results: dict = {"machine": machine(), "quick": quick, "pages_per_document": len(pages)}
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        folder = Path(tmp)
        results["noise_200dpi"] = _noise_levels(folder, pages, 200)
        if not quick:
            results["noise_300dpi"] = _noise_levels(folder, pages, 300)
        results["render_dpi"] = _render_dpis(folder, pages)
        results["omp_threads_pages_per_s"] = _threads(folder, pages)
    print_report(results)
    write_results("ocr", results)
    return results


def print_report(results: dict) -> None:
    print(heading("OCR", results))
    print(f"generated A4 scans, {results['pages_per_document']} page(s) each; CER = edit distance / characters "
          "(whitespace-normalised); pages/s through load_file (render + Tesseract)")
    for key in ("noise_200dpi", "noise_300dpi"):
        if key not in results:
            continue
        print(f"  scans at {key[-6:-3]} dpi:")
        for noise, row in results[key].items():
            cells = "  ".join(f"{kind} CER {r['cer']:.3f} {r['pages_per_s']:.2f} p/s" for kind, r in row.items())
            print(f"    {noise:>6}: {cells}")
    print("  render resolution (200 dpi scan, office noise): " + ", ".join(
        f"{dpi}: CER {r['cer']:.3f} {r['pages_per_s']:.2f} p/s" for dpi, r in results["render_dpi"].items()))
    threads = results["omp_threads_pages_per_s"]
    print(f"  Tesseract threads: one per core (its default) {threads['default']:.2f} p/s, "
          f"one (OMP_THREAD_LIMIT=1, what ingest passes) {threads['1']:.2f} p/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one page per document, 200 dpi scans only")
    main(parser.parse_args().quick)
