"""The Upload page while a job runs (AppTest): each file's step, the time left, then the finished outcome."""
from __future__ import annotations

import re
import threading

from backend.platform import Platform
from backend.retrieval.embedder import get_embedder
from tests.pages.conftest import pages_on, run
from tests.pages.test_corpus_documents import click
from tests.pages.test_corpus_views_pages import open_in_app

TOPICS = ("vault", "ledger", "branch", "audit", "mortgage", "pension", "escrow", "dividend", "tariff", "premium",
          "cheque", "annuity", "bond", "coupon", "custody", "deposit", "equity", "futures", "hedge", "invoice",
          "lease", "margin", "option", "payroll")


def _long_markdown() -> bytes:
    """24 sections of their own, so more chunks than the pipeline's first embedding slice (16)."""
    sections = [f"## {topic.title()}\n\n" + " ".join(f"The {topic} rule {n} applies to every {topic} account."
                                                      for n in range(12)) for topic in TOPICS]
    return ("# Rules\n\n" + "\n\n".join(sections) + "\n").encode()


def test_the_page_shows_each_files_step_and_the_time_left_then_the_outcome(settings, monkeypatch):
    with Platform(settings) as platform:
        platform.corpus.create_collection("rules")
    # The upload's second embedding slice waits until the page has been looked at: the job is then mid-embedding,
    # with a measured rate from its first slice. Every call still runs the real model.
    embedder = get_embedder(settings.embedding_model)  # the one instance the pages' platform uses
    encode, upload_calls = embedder.encode, []
    reached, release = threading.Event(), threading.Event()

    def encode_after_a_look(texts, batch_size=64):
        if threading.current_thread().name == "corpus-upload":
            upload_calls.append(len(texts))
            if len(upload_calls) == 2:
                reached.set()
                release.wait(120)
        return encode(texts, batch_size=batch_size)

    monkeypatch.setattr(embedder, "encode", encode_after_a_look)
    with pages_on(monkeypatch, settings.data_dir):
        app = open_in_app("upload")
        app.file_uploader(key="upload_files_0").set_value([
            ("rules.md", _long_markdown(), "text/markdown"),
            ("note.txt", b"The vault opens at nine on weekdays.", "text/plain"),
        ])
        run(app)
        click(app, "upload_start")
        job = app.session_state["upload_job"]
        try:
            assert reached.wait(120), "the upload never reached its second embedding slice"
            run(app)
            status = app.get("progress")[0].text
            live = app.dataframe[0].value
            # from the first slice's chunks per second (counting down while the job waits here: maybe to "finishing…")
            assert re.search(r"· (about [\d,.]+ (s|min) left|finishing…) ·", status), status
        finally:
            release.set()
        assert job.wait(120)
        run(app)  # the fragment saw the end: one more run shows the final state
        run(app)
        assert any("2 ingested" in s.value for s in app.success), [s.value for s in app.success]
        table = app.dataframe[0].value
        assert list(table["outcome"]) == ["ingested", "ingested"]
        chunks = int(table["chunks"][0])
        assert chunks > 16 and table["chunks"][1] == 1
    # what the page showed mid-run: each file's step, in the status line and in the table
    assert f"rules.md: embedding 16 of {chunks} chunks; note.txt: embedding 1 chunk" in status, status
    assert list(live["outcome"]) == ["in progress", "in progress"]
    assert list(live["detail"]) == [f"embedding 16 of {chunks} chunks", "embedding 1 chunk"]
    assert upload_calls == [16, chunks + 1 - 16]
