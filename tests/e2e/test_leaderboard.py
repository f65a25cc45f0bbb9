"""Browser walk: store the demo gold set and run a one-point experiment on the Experiments page, then open the
leaderboard, its Pareto chart and one question's drill-down."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_exception, wait_for_app
from tests.e2e.signin import accounts, open_page  # noqa: F401 - accounts: the fixture seeding the users

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("accounts")]  # seeded before the server starts

# The run is created through the page: other browser tests may already have started the app, which then holds
# the DuckDB file, so a CLI run in a fixture could not write to it.
EXPERIMENT = "name: e2e\ngrid:\n  retrieval_mode: [hybrid]\n  top_k: [3]\n"


def test_run_an_experiment_then_read_the_leaderboard_and_a_drilldown(page, app_url, tmp_path):
    open_page(page, app_url, "eval_runs", "Experiments", role="operator")
    assert_no_exception(page)
    load = page.get_by_role("button", name="Load the demo gold set")
    load.or_(page.get_by_text("Add a gold set")).first.wait_for()
    if not load.is_visible():
        page.get_by_text("Add a gold set").click()  # tucked away once some gold set is stored
    page.get_by_role("button", name="Load the demo gold set").click()
    wait_for_app(page)
    page.get_by_text("Gold set demo stored").wait_for()

    # A malformed upload is refused with the file and the missing column named, and nothing is stored.
    bad = tmp_path / "bad.csv"
    bad.write_text("question,notes\nWhat is the fee?,none\n")
    page.get_by_text("Add a gold set").click()
    page.get_by_role("tab", name="Upload CSV / JSONL").click()
    page.locator("input[type=file]").set_input_files(str(bad))
    validate = page.get_by_role("button", name="Validate and store")
    expect(validate).to_be_enabled(timeout=60_000)  # enabled by the rerun the upload triggers
    validate.click()
    page.get_by_text("bad.csv: missing column 'reference_answer' or 'relevant_document_ids'").wait_for()

    yaml_box = page.get_by_role("textbox", name="Experiment (YAML)")
    yaml_box.fill(EXPERIMENT)
    yaml_box.press("Control+Enter")
    wait_for_app(page)
    questions = page.get_by_role("spinbutton", name="Questions (0 = all)").last
    questions.fill("3")
    questions.press("Enter")
    wait_for_app(page)
    page.get_by_text("1 run(s)").first.wait_for()
    page.get_by_role("button", name="Run 1 run(s)").click()
    page.get_by_text("Finished runs:").wait_for(timeout=300_000)
    assert_no_exception(page)

    open_page(page, app_url, "evaluation", "Evaluation leaderboard", role="operator")
    page.get_by_text("On the Pareto front").wait_for()
    page.locator("[data-testid='stPlotlyChart']").first.wait_for()
    page.get_by_text("Faithfulness (LLM judge)").first.wait_for()  # marked unavailable: no judge configured
    assert_no_exception(page)

    page.get_by_role("tab", name="Question drill-down").click()
    page.get_by_text("Every score").wait_for()
    page.get_by_text("Retrieved chunks").wait_for()
    page.get_by_text("Reference answer").wait_for()
    assert page.get_by_text("in context").count() >= 1
    assert_no_exception(page)

    page.get_by_role("tab", name="Failure analysis").click()
    page.get_by_text("Passed", exact=True).wait_for()
    page.get_by_text("Retrieval miss", exact=True).wait_for()
    assert_no_exception(page)
