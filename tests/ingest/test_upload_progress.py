"""Upload progress: each file's steps from a real ingest, the time left from this run's rates, the start-up warm-up."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from backend.corpus.upload import start_upload, warm_up
from backend.ingest.items import IngestEvent
from backend.ingest.steps import step_label
from backend.ingest.time_left import TimeLeft
from backend.platform import Platform
from tests.ingest.fixtures import HANDBOOK_PAGES, make_pdf
from tests.ingest.make_scans import SCAN_PAGES, make_scanned_pdf


@pytest.fixture
def platform(settings):
    with Platform(settings) as instance:
        instance.corpus.create_collection("docs")
        yield instance


def _steps(events: list[IngestEvent], name: str) -> list[tuple[str, int, int | None]]:
    """One file's step events (and its final `file` event) in the order they came."""
    return [(e.step or e.kind, e.done, e.total) for e in events
            if Path(e.path).name == name and e.kind in ("step", "loaded", "file")]


def _order(steps: list[tuple[str, int, int | None]]) -> list[str]:
    names: list[str] = []
    for name, _, _ in steps:
        if not names or names[-1] != name:
            names.append(name)
    return names


def test_a_real_ingest_reports_each_files_steps_in_order(platform, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nThe branch in Utrecht opens at nine. Transfers above 10,000 EUR need approval.\n")
    scan = make_scanned_pdf(tmp_path / "letter.pdf", SCAN_PAGES[:2], dpi=150)
    # pages full of text: a text layer as dense as a real report's, so no page is sent to OCR
    handbook = make_pdf(tmp_path / "handbook.pdf", [[" ".join(page * 8)] for page in HANDBOOK_PAGES])
    events: list[IngestEvent] = []
    report = platform.corpus.ingest([notes, scan, handbook], "docs", progress=events.append)
    chunks = {Path(f.path).name: f.chunks for f in report.files}
    assert all(f.outcome == "ingested" for f in report.files), [f.message for f in report.files]

    expected = ["reading", "chunking", "personal data", "loaded", "embedding", "writing", "done", "file"]
    for name in ("notes.md", "handbook.pdf"):
        assert _order(_steps(events, name)) == expected, name
    letter = _steps(events, "letter.pdf")
    assert _order(letter) == ["reading", "ocr", *expected[1:]]
    # OCR page i of n from inside the loader (backend/ingest/progress.py), counting up to every page
    assert [(done, total) for step, done, total in letter if step == "ocr"] == [(0, 2), (1, 2), (2, 2)]
    for name in ("notes.md", "letter.pdf", "handbook.pdf"):
        embedding = [(done, total) for step, done, total in _steps(events, name) if step == "embedding"]
        assert embedding[0] == (0, chunks[name]) and embedding[-1] == (chunks[name], chunks[name])
        assert [done for done, _ in embedding] == sorted(done for done, _ in embedding)
    loaded = next(e for e in events if e.kind == "loaded" and e.path.endswith("notes.md"))
    assert loaded.chunks == chunks["notes.md"]
    # the outcome's duration is recorded with the run (it used to be written before it was measured: 0 ms)
    recorded = platform.corpus.ingest_run(report.run_id)["files"]
    assert all(row["duration_ms"] > 0 for row in recorded)


def test_an_unchanged_file_is_read_then_done(platform, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nThe branch opens at nine.\n")
    platform.corpus.ingest([notes], "docs")
    events: list[IngestEvent] = []
    report = platform.corpus.ingest([notes], "docs", progress=events.append)
    assert report.files[0].outcome == "unchanged"
    assert _order(_steps(events, "notes.md")) == ["reading", "done", "file"]


def test_step_labels():
    assert step_label("ocr", 2, 20) == "OCR page 3 of 20"
    assert step_label("ocr", 20, 20) == "OCR"
    assert step_label("embedding", 0, 60) == "embedding 60 chunks"
    assert step_label("embedding", 16, 60) == "embedding 16 of 60 chunks"
    assert step_label("embedding", 0, 1) == "embedding 1 chunk"
    assert step_label("personal data") == "checking personal data"
    assert step_label("chunking") == "chunking"


def _event(kind: str, path: str, step: str = "", done: int = 0, total: int | None = None, chunks: int = 0):
    return IngestEvent(kind, done=done, total=total, path=path, step=step, chunks=chunks)


def test_time_left_comes_from_this_runs_rates_and_says_when_it_cannot_know():
    # a.md (1,000 bytes) and b.md (3,000 bytes), then c.pdf (scanned, 4 pages); events at the given seconds
    left = TimeLeft({"/u/a.md": 1000, "/u/b.md": 3000, "/u/c.pdf": 50_000})

    def feed(now: float, *event, chunks: int = 0) -> None:
        left.observe(_event(*event, chunks=chunks), now)

    feed(0.0, "start", "")
    assert left.estimate(0.0) is None  # nothing measured: "estimating…"
    feed(0.0, "step", "/u/a.md", "reading")
    feed(1.0, "step", "/u/a.md", "chunking")
    feed(1.5, "loaded", "/u/a.md", chunks=10)
    # markdown read at 1.5 s per 1,000 bytes and 10 chunks per 1,000 bytes; no chunk embedded yet: only a lower bound
    seconds, complete = left.estimate(1.5)
    assert not complete and seconds == pytest.approx(4.5)  # b.md's reading; c.pdf has no rate of its own kind
    feed(1.5, "step", "/u/b.md", "reading")
    feed(6.0, "loaded", "/u/b.md", chunks=30)
    feed(6.0, "step", "/u/c.pdf", "reading")
    feed(6.5, "step", "/u/c.pdf", "ocr", 0, 4)
    feed(8.5, "step", "/u/c.pdf", "ocr", 1, 4)  # 2 s a page
    seconds, complete = left.estimate(8.5)
    assert not complete and seconds == pytest.approx(6.0)  # 3 pages left; no embedding rate yet
    feed(14.5, "step", "/u/c.pdf", "ocr", 4, 4)
    feed(14.5, "step", "/u/c.pdf", "chunking")
    feed(15.0, "loaded", "/u/c.pdf", chunks=20)
    feed(15.0, "step", "/u/a.md", "embedding", 0, 10)
    feed(15.0, "step", "/u/b.md", "embedding", 0, 30)
    feed(15.0, "step", "/u/c.pdf", "embedding", 0, 20)
    assert left.estimate(15.0) is None  # 60 chunks to embed and no rate to go by
    feed(19.0, "step", "/u/a.md", "embedding", 10, 10)
    feed(19.0, "step", "/u/b.md", "embedding", 6, 30)  # 16 chunks in 4 s: 0.25 s a chunk
    seconds, complete = left.estimate(19.0)
    assert complete and seconds == pytest.approx((24 + 20) * 0.25)
    # between events the running file's estimate counts down with the clock
    assert left.estimate(21.0)[0] == pytest.approx((24 + 20) * 0.25 - 2.0)
    assert left.stages["ocr"] == pytest.approx(8.0) and left.stages["embedding"] == pytest.approx(4.0)


def test_the_server_warms_the_models_at_start_and_the_first_upload_does_not_wait(data_dir):
    from backend.gateway.server import lifespan, served_platform

    async def start_then_upload():
        async with lifespan(None) as state:
            platform = state["platform"]
            assert served_platform() is platform
            warm = warm_up(platform)  # the one the lifespan started, not a new one
            assert warm.wait(120), "the warm-up did not finish"
            assert set(warm.durations) == {"embedder", "tokenizer", "personal data analyzer", "loaders and indexes"}
            assert not warm.errors
            platform.corpus.create_collection("first")
            job = start_upload(platform, "first", [("first.md", b"# First\n\nThe vault opens at nine.\n")])
            assert job.wait(120)
            return job

    # uvicorn's logger, as the server's log shows it (its own handler: uvicorn's config may stop it propagating)
    server_log, records = logging.getLogger("uvicorn.error"), []
    handler, level = logging.Handler(logging.INFO), server_log.level
    handler.emit = records.append  # type: ignore[method-assign]
    server_log.addHandler(handler)
    server_log.setLevel(logging.INFO)
    try:
        job = asyncio.run(start_then_upload())
    finally:
        server_log.removeHandler(handler)
        server_log.setLevel(level)
    assert any(r.getMessage().startswith("models warm in") for r in records)
    assert [f.state for f in job.files] == ["ingested"]
    assert job.models_were_warm is True and job.stages()["models"] == 0.0
