"""Citations redacted from the findings ingest recorded: the same text as analysing them, no analysis, and the
analysis again when nothing was recorded for the chunk or the findings do not fit its text."""
from __future__ import annotations

import re

import pytest

from backend.chat.redaction import citation_findings, redact_citation
from backend.models import Citation
from backend.pii import get_redactor
from backend.platform import Platform
from backend.settings import Settings

EMAIL, PHONE, IBAN = "margaret.okafor@example.com", "+44 20 7946 0958", "GB33BUKB20201555555555"
CONTACTS = (f"# Vendor contacts\n\nPlease ask Margaret Okafor to approve the vendor contract.\n\n"
            f"Write to {EMAIL} or call {PHONE} on weekdays. Refunds go to {IBAN} within five days.\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("pii-citations")
    for folder in ("flag", "redact"):
        (root / folder).mkdir()
        (root / folder / "contacts.md").write_text(CONTACTS)
    with Platform(Settings(data_dir=root / "data")) as platform:
        platform.corpus.create_collection("flagged")
        platform.corpus.create_collection("redacted")
        platform.corpus.set_pii_at_ingest("redacted", "redact")
        for folder, collection in (("flag", "flagged"), ("redact", "redacted")):
            report = platform.corpus.ingest([root / folder], collection)
            assert [f.outcome for f in report.files] == ["ingested"], [f.message for f in report.files]
        yield platform


def _chunk(platform, collection: str, needle: str):
    document = platform.corpus.documents(collection)[0]
    return next(c for c in platform.corpus.chunks(document["id"]) if needle in c.text)


def _citation(chunk, start: int, end: int) -> Citation:
    return Citation(marker=1, chunk_id=chunk.id, document_id=chunk.document_id, title=chunk.title,
                    quote=chunk.text[start:end], score=1.0, quote_start=start, quote_end=end, context=chunk.text)


def _fields(citation: Citation) -> tuple:
    return citation.quote, citation.context, citation.quote_start, citation.quote_end


def _stored(platform, chunk):
    return citation_findings(platform.store, platform.settings.data_dir, [chunk.id]).get(chunk.id)


@pytest.fixture
def no_analysis(world, monkeypatch):
    redactor = get_redactor(world.settings)

    def refuse(text):
        raise AssertionError(f"analysed again: {text[:40]!r}")

    monkeypatch.setattr(redactor, "analyze", refuse)
    return redactor


@pytest.mark.parametrize("needle", ["Refunds go", "Write to", "Please ask"])
def test_stored_findings_give_the_redaction_the_analysis_gives(world, needle):
    redactor = get_redactor(world.settings)
    chunk = _chunk(world, "flagged", EMAIL)
    start = chunk.text.index(needle)
    end = re.search(r"\.(\s|$)", chunk.text[start:]).end() + start  # the sentence (an e-mail has dots too)
    stored = _stored(world, chunk)
    assert stored is not None and {f[0] for f in stored.findings} >= {"EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE"}
    analysed = redact_citation(redactor, _citation(chunk, start, end))
    from_store = redact_citation(redactor, _citation(chunk, start, end), stored)
    assert _fields(from_store) == _fields(analysed)
    assert from_store.context[from_store.quote_start:from_store.quote_end] == from_store.quote
    for value in (EMAIL, PHONE, IBAN, "Margaret Okafor"):
        assert value not in from_store.context


def test_stored_findings_are_used_without_analysing_the_citation(world, no_analysis):
    chunk = _chunk(world, "flagged", EMAIL)
    start = chunk.text.index("Write to")
    cited = redact_citation(no_analysis, _citation(chunk, start, chunk.text.index(" on weekdays")),
                            _stored(world, chunk))
    assert cited.quote == "Write to <EMAIL_ADDRESS> or call <PHONE_NUMBER>"


def test_a_quote_that_starts_inside_a_value_takes_all_of_its_placeholder(world, no_analysis):
    chunk = _chunk(world, "flagged", EMAIL)
    inside = chunk.text.index(EMAIL) + 4  # "aret.okafor@..."
    cited = redact_citation(no_analysis, _citation(chunk, inside, chunk.text.index(" on weekdays")),
                            _stored(world, chunk))
    assert cited.quote == "<EMAIL_ADDRESS> or call <PHONE_NUMBER>"
    assert cited.context[cited.quote_start:cited.quote_end] == cited.quote


def test_a_chunk_stored_redacted_is_shown_as_stored(world, no_analysis):
    chunk = _chunk(world, "redacted", "Write to")
    assert EMAIL not in chunk.text and "<EMAIL_ADDRESS>" in chunk.text
    stored = _stored(world, chunk)
    assert stored is not None and stored.redacted
    cited = redact_citation(no_analysis, _citation(chunk, 0, len(chunk.text)), stored)
    assert cited.context == chunk.text and cited.quote == chunk.text


def test_without_recorded_findings_the_citation_is_analysed(world):
    chunk = _chunk(world, "flagged", EMAIL)
    with world.store.cursor() as cur:
        scan = cur.execute("SELECT * FROM document_pii_scans WHERE document_id = ?", [chunk.document_id]).fetchall()
        cur.execute("DELETE FROM document_pii_scans WHERE document_id = ?", [chunk.document_id])
    try:
        assert _stored(world, chunk) is None  # an older document: ingest never analysed it
    finally:
        with world.store.cursor() as cur:
            cur.executemany("INSERT INTO document_pii_scans VALUES (?, ?, ?, ?, ?)", scan)
    cited = redact_citation(get_redactor(world.settings), _citation(chunk, 0, len(chunk.text)), None)
    assert EMAIL not in cited.context and "<EMAIL_ADDRESS>" in cited.context


@pytest.mark.parametrize("change", ["other text", "moved offsets", "a place"])
def test_findings_that_do_not_fit_the_citation_fall_back_to_the_analysis(world, monkeypatch, change):
    redactor = get_redactor(world.settings)
    chunk = _chunk(world, "flagged", EMAIL)
    stored = _stored(world, chunk)
    assert stored is not None
    if change == "other text":  # the citation's text is not the stored chunk's
        citation = _citation(chunk, 0, 20)
        citation.context = citation.context.replace("weekdays", "weekends")
    elif change == "moved offsets":  # offsets pointing past the value recorded: its hash does not match
        citation = _citation(chunk, 0, 20)
        stored = type(stored)(stored.text, False, tuple((e, s + 1, t + 1, sc, h) for e, s, t, sc, h in stored.findings),
                              stored.data_dir)
    else:  # a place kept in answers may have won over an address it overlaps at ingest: analysed as before
        citation = _citation(chunk, 0, 20)
        place = chunk.text.index("weekdays")
        stored = type(stored)(stored.text, False, (*stored.findings, ("LOCATION", place, place + 8, 0.85, "")),
                              stored.data_dir)
    calls = []
    real = redactor.analyze
    monkeypatch.setattr(redactor, "analyze", lambda text: calls.append(text) or real(text))
    cited = redact_citation(redactor, citation, stored)
    assert calls and EMAIL not in cited.context and "<EMAIL_ADDRESS>" in cited.context


def test_the_chat_path_redacts_its_citations_from_the_stored_findings(world, monkeypatch):
    from backend.chat import redaction

    analysed = []
    real = redaction._redact_by_analysis
    monkeypatch.setattr(redaction, "_redact_by_analysis", lambda r, c: analysed.append(c.chunk_id) or real(r, c))
    answer = world.chat.ask("Where do refunds go, and within how many days?", "flagged")
    assert answer.citations, answer.text
    assert analysed == []  # every cited chunk had findings recorded at ingest
    for citation in answer.citations:
        assert IBAN not in citation.context and EMAIL not in citation.context
        assert citation.context[citation.quote_start:citation.quote_end] == citation.quote
