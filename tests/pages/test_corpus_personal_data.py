"""AppTest: personal data in the corpus browser: the documents table's column and filter, the value search (operators
and admins only), the document's recorded findings, and the collection setting on the Collections page, audited."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import page_corpus, run
from tests.pages.signin import signed_in

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = str(ROOT / "pages" / "corpus_documents.py")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    yield from page_corpus(tmp_path_factory, "corpus-personal-data-page")


def table(app: AppTest) -> dict[str, int]:
    frame = app.dataframe[0].value
    return dict(zip(frame["title"], frame["personal_data"]))


def test_the_documents_table_counts_findings_and_filters_on_them(corpus):
    app = run(signed_in(AppTest.from_file(DOCUMENTS, default_timeout=120)))
    everything = table(app)
    assert everything["Privacy contacts"] == 2 and 0 in everything.values()
    app.toggle(key="docs_personal_data").set_value(True)
    run(app)
    flagged = table(app)
    assert flagged == {title: n for title, n in everything.items() if n > 0} and "Privacy contacts" in flagged


def test_an_admin_finds_the_documents_mentioning_a_value_and_opens_one(corpus):
    app = run(signed_in(AppTest.from_file(DOCUMENTS, default_timeout=120)))
    app.text_input(key="pii_value").set_value("Privacy.Officer@EXAMPLE.com")
    next(b for b in app.button if b.label == "Search findings").click()
    run(app)
    found = app.dataframe(key="pii_value_matches").value
    assert list(found["title"]) == ["Privacy contacts"] and list(found["as"]) == ["EMAIL_ADDRESS"]
    assert "privacy.officer" not in " ".join(str(v) for v in found.to_dict("list").values()).lower()

    app.text_input(key="pii_value").set_value("020-7946-0958")  # stored as "020 7946 0958"
    next(b for b in app.button if b.label == "Search findings").click()
    run(app)
    assert list(app.dataframe(key="pii_value_matches").value["as"]) == ["PHONE_NUMBER"]

    app.query_params["doc"] = str(corpus["Privacy contacts"])
    app.query_params["view"] = "Personal data"
    run(app)
    assert any(m.value.startswith("**2 findings** recorded at ingest") for m in app.markdown)
    assert any("flag only" in c.value for c in app.caption)


def test_an_analyst_gets_no_value_search(corpus):
    app = run(signed_in(AppTest.from_file(DOCUMENTS, default_timeout=120), "analyst", user="ann"))
    assert not [t for t in app.text_input if t.key == "pii_value"]


def test_the_collection_setting_is_changed_on_the_collections_page_and_audited(platform):
    platform.corpus.create_collection("hr", tenant=platform.settings.default_tenant)
    app = run(signed_in(AppTest.from_file(str(ROOT / "pages" / "corpus_collections.py"), default_timeout=60),
                        "operator", user="otto"))
    assert list(app.dataframe[0].value["personal data at ingest"]) == ["flag"]
    app.radio(key="pii_mode_hr").set_value("redact")
    next(b for b in app.button if b.label == "Save").click()
    run(app)
    assert platform.corpus.pii_modes() == {"hr": "redact"}
    assert any("hr: personal data is now redacted at ingest" in s.value for s in app.success)
    assert list(app.dataframe[0].value["personal data at ingest"]) == ["redact"]
    [row] = platform.gateway.audit_log(action="collection.settings")
    assert (row["actor"], row["target"], row["details"]["from"], row["details"]["to"]) == ("otto", "hr", "flag", "redact")
