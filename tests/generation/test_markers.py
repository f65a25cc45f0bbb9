"""Markers numbered 1..n by first use: in one go, piece by piece through the stream gate, and for the verifier."""
from __future__ import annotations

import pytest

from backend.chat.stream import SentenceGate
from backend.generation.base import GenerationRequest
from backend.generation.citations import CitationVerifier
from backend.generation.context import assemble_context
from backend.generation.markers import MarkerNumbering
from tests.generation.samples import FEES, REFUNDS, SECURITY, make_passages

ANSWER = "Refunds take 90 days [4]. Domestic transfers are free [2]. Both hold [4][3]."


def test_markers_read_one_to_n_in_order_of_first_use():
    numbering = MarkerNumbering(range(1, 6))
    assert numbering.apply(ANSWER) == "Refunds take 90 days [1]. Domestic transfers are free [2]. Both hold [1][3]."
    assert numbering.display == {4: 1, 2: 2, 3: 3}
    assert not numbering.unknown and not numbering.notices()


def test_a_marker_citing_no_passage_is_dropped_with_its_blank_and_takes_no_number():
    numbering = MarkerNumbering(range(1, 4))
    assert numbering.apply("Fees apply [9]. Refunds take 90 days [3] [7].") == "Fees apply. Refunds take 90 days [1]."
    assert numbering.unknown == [9, 7] and numbering.display == {3: 1}
    [notice] = numbering.notices()
    assert "[7, 9]" in notice and "no such passage" in notice


def test_flagged_markers_keep_their_flag_under_the_new_number():
    numbering = MarkerNumbering(range(1, 6))
    assert numbering.apply("Late fees apply [5?]. Refunds take 90 days [2] [5].") == \
        "Late fees apply [1?]. Refunds take 90 days [2] [1]."


def test_applied_piece_by_piece_it_numbers_as_the_whole_text():
    whole = MarkerNumbering(range(1, 6)).apply(ANSWER)
    pieces = MarkerNumbering(range(1, 6))
    parts = ["Refunds take 90 days [4]. ", "Domestic transfers are free [2]. ", "Both hold [4][3]."]
    assert "".join(pieces.apply(part) for part in parts) == whole


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_the_gate_streams_the_numbers_the_final_text_carries(size):
    emitted: list[str] = []
    gate = SentenceGate(lambda text: text, emitted.append, MarkerNumbering(range(1, 6)))
    for start in range(0, len(ANSWER), size):  # deltas cut anywhere, markers included
        gate.feed(ANSWER[start:start + size])
    gate.close()
    assert "".join(emitted) == MarkerNumbering(range(1, 6)).apply(ANSWER)
    assert len(emitted) == 3  # still released a sentence at a time


def test_the_stream_numbers_a_marker_after_the_full_stop_in_its_place_and_drops_one_citing_nothing():
    emitted: list[str] = []
    gate = SentenceGate(lambda text: text, emitted.append, MarkerNumbering(range(1, 6)))
    for delta in ["Domestic transfers are free. [", "5] Refunds take 90 days [3]. ", "[9] ", "Cards cost 2.75% [5]."]:
        gate.feed(delta)
    gate.close()
    assert "".join(emitted) == "Domestic transfers are free. [1] Refunds take 90 days [2]. Cards cost 2.75% [1]."


def test_verified_against_the_renumbered_passages_citations_carry_the_numbers_shown(encoder):
    passages = make_passages(SECURITY, FEES, REFUNDS, REFUNDS.replace("90", "60"))
    raw = ("Customers have 90 days from the date a fee first appears on their statement to ask for it to be refunded [3]. "
           "Domestic transfers are free [2]. Multi-factor authentication is required for every remote login [2].")
    numbering = MarkerNumbering.for_passages(passages)
    text = numbering.apply(raw)
    result = CitationVerifier(encoder, threshold=0.5).verify(text, numbering.passages(passages))
    assert result.text.startswith("Customers have 90 days") and "refunded [1]." in result.text
    assert "Domestic transfers are free [2]." in result.text
    assert result.text.endswith("remote login [2?].")  # flagged under the number the reader sees
    assert [(c.marker, c.chunk_id, c.supported) for c in result.citations] == [(1, 103, True), (2, 102, True), (2, 102, False)]
    assert any("[2?]" in notice for notice in result.notices)
    assert [p.number for p in numbering.passages(passages)] == [1, 2]


# --- through the chat service: the real retriever, extractive generator, verifier and stream -----------------------
PARKING = {
    "a.md": "# Parking permit fee\n\n## Questions about the permit scheme and other matters\n",
    "b.md": "# Visitor parking\n\nVisitors pay a parking permit fee of £2 per day.\n",
    "d.md": ("# Staff benefits\n\nThe parking permit fee for staff is £120 a year. The canteen opens at 8am every "
             "weekday. Lockers are on the second floor next to the showers. Bicycles are kept in the covered shed "
             "behind the building. The gym is free for everyone. Desks are booked through the intranet.\n"),
}
QUESTION = "How much is the parking permit fee?"


@pytest.fixture(scope="module")
def parking(tmp_path_factory):
    from backend.platform import Platform
    from backend.settings import Settings

    root = tmp_path_factory.mktemp("markers")
    (root / "docs").mkdir()
    for name, text in PARKING.items():
        (root / "docs" / name).write_text(text)
    platform = Platform(Settings(data_dir=root / "data", retrieval_mode="bm25", top_k=4))
    assert not platform.corpus.ingest([root / "docs"], "parking").failed
    yield platform
    platform.close()


def test_an_answer_citing_passages_4_then_2_reads_1_then_2_streamed_and_stored(parking):
    chat = parking.chat
    # The premise: in rank order the headings-only chunks are passages 1 and 3, and the generator cites 4, then 2.
    hits = chat.retrieve(QUESTION, "parking", "bm25", 4)
    pack = assemble_context(hits, QUESTION, parking.settings.context_token_budget)
    raw = chat.generator().stream(GenerationRequest(QUESTION, pack.passages)).collect().text
    assert raw.index("[4]") < raw.index("[2]") and "[1]" not in raw and "[3]" not in raw, raw
    staff, visitors = pack.passages[3].chunk, pack.passages[1].chunk

    stream = chat.ask_stream(QUESTION, "parking", use_cache=False)
    streamed = "".join(stream)
    answer = stream.answer
    assert streamed == answer.text
    assert answer.text == raw.replace("[4]", "[1]")
    assert answer.text.index("£120 a year [1]") < answer.text.index("£2 per day [2]")
    assert [(c.marker, c.chunk_id, c.supported) for c in answer.citations] == [(1, staff.id, True), (2, visitors.id, True)]
    stored = chat.conversation(answer.conversation_id, parking.corpus.system)["turns"][-1]
    assert stored.answer == answer.text
    assert [(c["marker"], c["chunk_id"]) for c in stored.answer_data["citations"]] == [(1, staff.id), (2, visitors.id)]
