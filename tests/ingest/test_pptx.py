"""PPTX slides as documents: a section per slide with its title (or "Slide n") and its number as the page, shapes in
reading order, tables with their header, grouped shapes, speaker notes marked; bad decks rejected by name."""
from __future__ import annotations

from pathlib import Path

import pytest

from backend.ingest.loaders import load_file
from backend.models import InputError
from backend.platform import Platform
from tests.ingest.make_msg import compound_file
from tests.ingest.make_office import make_encrypted_pptx, make_pptx, make_textless_pptx

MAX = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def deck(tmp_path_factory) -> Path:
    return make_pptx(tmp_path_factory.mktemp("pptx") / "pricing.pptx")


def slide_texts(document) -> dict[int, tuple[tuple[str, ...], str]]:
    return {s.page: (s.heading_path, document.text[s.start:s.end]) for s in document.sections}


def test_each_slide_is_a_section_with_its_title_or_number_and_its_page(deck):
    document = load_file(deck, MAX)
    assert document.mime_type == "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    assert document.title == "Pricing review 2025"  # no title property: the first slide's title
    slides = slide_texts(document)
    assert sorted(slides) == [1, 2, 3, 4] and len(document.sections) == 4
    assert [slides[n][0] for n in (1, 2, 3, 4)] == [
        ("Pricing review 2025",), ("What changes in April",), ("Slide 3",), ("Slide 4",)]
    assert slides[1][1] == "Pricing review 2025\n\nRetail banking, quarterly update"
    assert document.metadata == {"slides": 4, "tables": 1, "slides_with_notes": 2}


def test_shapes_read_in_reading_order_with_tables_groups_and_notes(deck):
    slides = slide_texts(load_file(deck, MAX))
    second = slides[2][1]
    assert second.index("What changes in April") < second.index("Paper statements cost 3 EUR")
    assert "\n  Students keep free statements" in second  # a sub-bullet stays under its bullet
    assert second.endswith("Speaker notes: Mention that the fee was last raised in 2019.")
    # The text box was added after the table but sits above it; each row repeats the header's names.
    assert slides[3][1] == ("Fees at a glance\n\n"
                            "Service: Card replacement | Fee: 12 EUR | Waived for: Premium\n"
                            "Service: Paper statement | Fee: 3 EUR | Waived for: Students\n"
                            "Service: Express transfer | Fee: 25 EUR | Waived for: Nobody")
    fourth = slides[4][1]  # the group's boxes left to right (added right first), then the box under the group
    assert fourth.split("\n\n") == ["Left box: online hours", "Right box: branch hours", "Footnote under the group",
                                    "Speaker notes: The zebrafinch pilot branch opens on Saturdays."]


def test_a_title_property_names_the_deck(tmp_path):
    assert load_file(make_pptx(tmp_path / "d.pptx", title="Board pack"), MAX).title == "Board pack"


def test_bad_decks_get_clear_messages(tmp_path, deck):
    truncated = tmp_path / "truncated.pptx"
    truncated.write_bytes(deck.read_bytes()[: len(deck.read_bytes()) // 2])
    garbage = tmp_path / "garbage.pptx"
    garbage.write_bytes(b"this is not a presentation at all\n" * 20)
    legacy = tmp_path / "legacy.pptx"  # an old binary .ppt renamed: an OLE container without an encrypted package
    legacy.write_bytes(compound_file({"PowerPoint Document": b"\x00" * 600, "Current User": b"\x00" * 40}))
    cases = {
        make_textless_pptx(tmp_path / "shapes-only.pptx"): "shapes-only.pptx: has no text on any of its 2 slides",
        make_encrypted_pptx(tmp_path / "locked.pptx", deck): "locked.pptx: is password-protected",
        legacy: "legacy.pptx: is a legacy binary Office file (an OLE container)",
        truncated: "truncated.pptx: is not a valid PPTX file",
        garbage: "garbage.pptx: is not a valid PPTX file (not a ZIP package)",
    }
    for path, message in cases.items():
        with pytest.raises(InputError) as caught:
            load_file(path, MAX)
        assert str(caught.value).startswith(message), caught.value


def test_a_deck_ingests_with_slide_pages_beside_a_broken_one_and_reingests_unchanged(settings, tmp_path, deck):
    folder = tmp_path / "decks"
    folder.mkdir()
    (folder / "pricing.pptx").write_bytes(deck.read_bytes())
    make_encrypted_pptx(folder / "locked.pptx", deck)
    (folder / "notes.md").write_text("# Branch notes\n\nThe harbour branch has a new cash machine.\n")
    with Platform(settings) as platform:
        report = platform.corpus.ingest([folder], "slides")
        outcomes = {Path(f.path).name: f for f in report.files}
        assert {name: f.outcome for name, f in outcomes.items()} == {
            "locked.pptx": "failed", "notes.md": "ingested", "pricing.pptx": "ingested"}
        assert "locked.pptx: is password-protected" in outcomes["locked.pptx"].message
        chunks = platform.corpus.chunks(outcomes["pricing.pptx"].document_id)
        assert {c.page for c in chunks} == {1, 2, 3, 4}
        hit = platform.retriever.search("zebrafinch pilot branch Saturdays", "slides", mode="bm25", k=1)[0]
        assert hit.chunk.page == 4 and hit.chunk.heading_path == ("Slide 4",)
        assert "Speaker notes: The zebrafinch pilot branch" in hit.chunk.text
        row = platform.retriever.search("fee for a paper statement", "slides", k=3)
        assert any("Service: Paper statement | Fee: 3 EUR" in h.chunk.text and h.chunk.page == 3 for h in row)
        again = platform.corpus.ingest([folder / "pricing.pptx"], "slides")
        assert [f.outcome for f in again.files] == ["unchanged"]
