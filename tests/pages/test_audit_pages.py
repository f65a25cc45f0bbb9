"""AppTest: the pages' changes and exports reach the audit log as the signed-in user, and drawing a page that
offers a download records nothing (the file is built, and audited, only when the button is clicked)."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import page_corpus, run
from tests.pages.signin import signed_in
from tests.pages.test_economics_pages import pricing  # noqa: F401 (a fixture: this test's copy of the catalog)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("pricing")
def test_a_catalog_saved_on_the_cost_explorer_is_audited_as_the_signed_in_user(platform):
    app = run(signed_in(AppTest.from_file(str(ROOT / "pages" / "cost_explorer.py"), default_timeout=60),
                        "stakeholder", user="stella"))
    app.session_state["catalog_llm_apis_0"] = {"edited_rows": {0: {"output_per_m": 12.0}}, "added_rows": [],
                                               "deleted_rows": []}
    next(b for b in app.button if b.label == "Validate and save").click()
    run(app)
    assert any("Saved pricing.yaml" in s.value for s in app.success)
    [row] = platform.gateway.audit_log(action="catalog")
    assert (row["actor"], row["action"]) == ("stella", "catalog.save")
    [(name, fields)] = row["details"]["changes"]["llm_apis"]["changed"].items()
    assert name == "standard API model" and fields == {"output_per_m": [10.0, 12.0]}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    yield from page_corpus(tmp_path_factory, "export-audit-pages")


@pytest.mark.parametrize("page", ["corpus_documents", "corpus_collections"])
def test_drawing_the_export_buttons_records_no_export(corpus, page):
    from components.platform import get_platform

    app = run(signed_in(AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=120), "operator",
                        user="otto"))
    assert len(app.get("download_button")) >= 2  # offered, not built
    app.run()  # and once more: a rerun is not a download either
    assert get_platform().gateway.audit_log(action="export") == []


def test_a_collection_created_and_renamed_on_the_collections_page_is_audited_as_the_signed_in_user(platform):
    app = run(signed_in(AppTest.from_file(str(ROOT / "pages" / "corpus_collections.py"), default_timeout=60),
                        "operator", user="otto"))
    app.text_input[0].set_value("handbook")
    next(b for b in app.button if b.label == "Create collection").click()
    run(app)
    [rename_to] = [t for t in app.text_input if t.label == "New name"]
    rename_to.set_value("handbook-2026")
    next(b for b in app.button if b.label == "Rename").click()
    run(app)
    rows = platform.gateway.audit_log(action="collection")
    assert [(r["action"], r["target"], r["actor"]) for r in rows] == [
        ("collection.rename", "handbook", "otto"), ("collection.create", "handbook", "otto")]
    assert rows[0]["details"] == {"to": "handbook-2026"}
