"""Upload to searchable: seconds from the upload request to the document found by search, on a real server.

    python -m bench.bench_upload [--repeats 3] [--pages 20] [--json]   (also part of `python -m bench`)

A scratch data dir holds an empty collection and an admin key; the server is the Makefile's (tests/live_server.py's
`serve`) on 127.0.0.1. Each figure is one POST /api/v1/collections/bench/documents (which returns once the file is
ingested) followed by POST /api/v1/search for a word only that file holds, repeated until the file's document is
among the hits. Measured:
- first upload after start: the moment /api/v1/health answers (what a user who uploads at once gets), and on a
  second start once the server logs that its models are warm (or after --warm-wait-s without that line);
- warm: a 1-page Markdown file and a --pages page PDF (made with fpdf2 here), p50 over --repeats each.
Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.results_file import save

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = ROOT / "bench" / "results" / "upload.json"
COLLECTION = "bench"
WARM_LINE = "models warm"  # what backend/gateway/server.py logs once the start-up warm-up has loaded everything
WORDS = ("account transfer approval limit customer branch statement balance deposit interest rate period notice "
         "contract clause renewal policy holder premium claim office review audit report figure").split()


def _prepare() -> tuple[Path, str]:
    """(a data dir with the empty collection, an admin key that may ingest), made before the server starts."""
    from backend.platform import Platform
    from backend.settings import Settings

    data_dir = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    with Platform(Settings(data_dir=data_dir)) as platform:
        platform.gateway.bootstrap(demo=False)
        platform.corpus.create_collection(COLLECTION)
        key, _ = platform.gateway.create_key("admin", ["read", "ingest"], name="bench-upload")
    return data_dir, key


def _sentences(marker: str, count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    sentences = [" ".join(rng.choice(WORDS, 12)).capitalize() + "." for _ in range(count)]
    sentences[len(sentences) // 2] = f"The reference code of this file is {marker}."
    return sentences


def markdown_file(marker: str, seed: int) -> bytes:
    """About one page: a heading and three paragraphs."""
    body = _sentences(marker, 24, seed)
    paragraphs = [" ".join(body[i:i + 8]) for i in range(0, len(body), 8)]
    return ("# Notice " + marker + "\n\n" + "\n\n".join(paragraphs) + "\n").encode()


def pdf_file(marker: str, pages: int, seed: int) -> bytes:
    """`pages` pages of text, the marker on the last one (so the file is searchable only once all of it is in)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for page in range(pages):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 15)
        pdf.cell(0, 10, f"Section {page + 1}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        text = " ".join(_sentences(marker if page == pages - 1 else f"page{page}", 30, seed * 100 + page))
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


class Api:
    def __init__(self, url: str, key: str):
        import httpx

        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600)

    def upload_to_searchable(self, name: str, data: bytes, marker: str) -> dict:
        """Seconds from the upload request to search finding the file; the server's own per-file ingest time."""
        started = time.perf_counter()
        response = self.http.post(f"/api/v1/collections/{COLLECTION}/documents", files={"file": (name, data)})
        uploaded = time.perf_counter()
        if response.status_code != 201:
            raise RuntimeError(f"upload of {name}: HTTP {response.status_code}: {response.text[:500]}")
        outcome = response.json()["files"][0]
        if outcome["status"] == "failed" or outcome["document_id"] is None:
            raise RuntimeError(f"upload of {name} failed: {outcome['message']}")
        while True:
            hits = self.http.post("/api/v1/search", json={"query": marker, "collection": COLLECTION}).json()["hits"]
            if any(hit["document_id"] == outcome["document_id"] for hit in hits):
                break
            if time.perf_counter() - started > 300:
                raise RuntimeError(f"{name} not searchable 300 s after its upload")
            time.sleep(0.05)
        finished = time.perf_counter()
        return {"seconds": round(finished - started, 3), "upload_s": round(uploaded - started, 3),
                "ingest_ms": outcome["duration_ms"], "chunks": outcome["chunks"]}


def _wait_for_line(log: Path, needle: str, timeout_s: float) -> float | None:
    """Seconds until `needle` appears in the server's log, or None after timeout_s."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if log.exists() and needle in log.read_text(errors="replace"):
            return round(time.perf_counter() - started, 2)
        time.sleep(0.2)
    return None


def _log_line(log: Path, needle: str) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if needle in line] if log.exists() else []
    return lines[-1].strip() if lines else ""


def run(repeats: int, pages: int, warm_wait_s: float) -> dict:
    from tests.live_server import serve

    data_dir, key = _prepare()
    print(f"data dir {data_dir}", file=sys.stderr)
    figures: dict = {"repeats": repeats, "pdf_pages": pages}
    started = time.perf_counter()
    with serve(data_dir, timeout_s=300) as url:
        figures["start_to_health_s"] = round(time.perf_counter() - started, 2)
        api = Api(url, key)
        figures["first_upload_at_health"] = api.upload_to_searchable("first.md", markdown_file("zqfirst", 1), "zqfirst")
        log = data_dir / f"server-{url.rsplit(':', 1)[1]}.log"
        figures["warm_log_line"] = _log_line(log, WARM_LINE)
        md, pdf = [], []
        for n in range(repeats):  # alternated, so both see the same load on the machine
            md.append(api.upload_to_searchable(f"note-{n}.md", markdown_file(f"zqmd{n}", 10 + n), f"zqmd{n}"))
            pdf.append(api.upload_to_searchable(f"report-{n}.pdf", pdf_file(f"zqpdf{n}", pages, 20 + n), f"zqpdf{n}"))
        for name, runs in (("markdown_1_page", md), (f"pdf_{pages}_pages", pdf)):
            seconds = [r["seconds"] for r in runs]
            figures[f"warm_{name}"] = {"p50_s": round(float(np.median(seconds)), 3), "max_s": max(seconds),
                                       "chunks": runs[0]["chunks"],
                                       "ingest_ms_p50": round(float(np.median([r["ingest_ms"] for r in runs])), 1)}
    with serve(data_dir, timeout_s=300) as url:
        log = data_dir / f"server-{url.rsplit(':', 1)[1]}.log"
        waited = _wait_for_line(log, WARM_LINE, warm_wait_s)  # None: the server sat idle warm_wait_s without the line
        api = Api(url, key)
        figures["first_upload_after_warm_up"] = {
            "waited_after_health_s": waited if waited is not None else f"no '{WARM_LINE}' line in {warm_wait_s:.0f} s",
            **api.upload_to_searchable("second-start.md", markdown_file("zqsecond", 2), "zqsecond")}
        figures["warm_log_line_second_start"] = _log_line(log, WARM_LINE)
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_upload", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--warm-wait-s", type=float, default=90, help="how long the second start waits for warm-up")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args(argv)
    figures = run(args.repeats, args.pages, args.warm_wait_s)
    save(RESULTS, figures)
    if args.json:
        print(json.dumps(figures, indent=2))
        return figures
    print("\n== upload to searchable (real server on 127.0.0.1) ==")
    print(f"server start to /api/v1/health: {figures['start_to_health_s']} s")
    first = figures["first_upload_at_health"]
    print(f"first upload at health (1-page Markdown): {first['seconds']} s (server ingest {first['ingest_ms']} ms)")
    after = figures["first_upload_after_warm_up"]
    print(f"first upload after warm-up (waited {after['waited_after_health_s']}): {after['seconds']} s "
          f"(server ingest {after['ingest_ms']} ms)")
    for name in ("markdown_1_page", f"pdf_{args.pages}_pages"):
        warm = figures[f"warm_{name}"]
        print(f"warm {name}: p50 {warm['p50_s']} s, max {warm['max_s']} s over {args.repeats} "
              f"({warm['chunks']} chunks, server ingest p50 {warm['ingest_ms_p50']} ms)")
    if figures["warm_log_line"]:
        print(f"server: {figures['warm_log_line']}")
    return figures


if __name__ == "__main__":
    main()
