"""Browser walk of citations that open their source: a [n] in an answer opens its card, whose cited PDF page is an
image with the quote highlighted, and the card opens the document view at the cited chunk."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ARTIFACTS, assert_no_exception, wait_for_app
from tests.e2e.signin import accounts, open_page  # noqa: F401 - accounts: the fixture seeding the users

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("accounts")]  # seeded before the server starts
SLOW_MS = 300_000  # a cold first answer loads the embedder and the PII analyzer on a shared 2-core machine
QUESTION = "Who must report a suspected incident and how?"  # answered from the two security PDFs
SHOT = ARTIFACTS / "citation-card.png"  # docs/images/citation-card.png in the README is one of these


def test_a_marker_opens_its_card_with_the_pdf_page_and_the_document_at_its_chunk(page, app_url):
    open_page(page, app_url, "chat", "Chat", role="analyst")  # the demo collection is granted to the analyst
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(QUESTION)
    box.press("Enter")
    answer = page.get_by_test_id("stChatMessage").filter(has=page.get_by_test_id("stChatMessageAvatarAssistant"))
    answer.get_by_test_id("stExpander").first.wait_for(timeout=SLOW_MS)
    wait_for_app(page, SLOW_MS)
    assert_no_exception(page)

    # A marker of a PDF's card: its card's label carries the page ("p. 1").
    markers = answer.locator('[data-testid="stMarkdownContainer"] a[href^="#gw-cite-"]')
    assert markers.count() >= 1
    pdf_marker, card = None, None
    for i in range(markers.count()):
        anchor = markers.nth(i).get_attribute("href")[1:]
        candidate = answer.locator(f"details:has([id='{anchor}'])")
        if re.search(r"\bp\. \d+\b", candidate.locator("summary").inner_text()):
            pdf_marker, card = markers.nth(i), candidate
            break
    assert pdf_marker is not None, "no marker cites a PDF page"
    assert re.fullmatch(r"\[\d+\]", pdf_marker.inner_text()) and pdf_marker.get_attribute("target") is None
    assert card.get_attribute("open") is None  # closed until its marker is clicked

    pdf_marker.click()
    image = card.get_by_test_id("stImage").locator("img")
    image.wait_for(state="visible", timeout=60_000)
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=image.element_handle())
    assert card.get_attribute("open") is not None and not card.locator("[inert]").count()  # opened as by a click
    # Scrolled up to the card's top (the chat would otherwise keep to its bottom as the card grows), and kept there.
    in_view = "el => { const top = el.getBoundingClientRect().top; return top >= 0 && top < innerHeight / 3; }"
    page.wait_for_function(in_view, arg=card.element_handle(), timeout=10_000)
    page.wait_for_timeout(1500)
    assert card.evaluate(in_view)
    assert card.locator("mark.gw-quote").first.is_visible()
    # "the quote highlighted", or its closest run of words when the quote carries redacted personal data
    assert re.search(r"the (quote|closest run of the quote's words) highlighted",
                     card.get_by_test_id("stImageCaption").inner_text())
    assert image.evaluate("el => el.naturalWidth") >= 600  # the page, rendered sharp enough to read
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 2200})  # the whole answer, its open card and page in one shot
    page.wait_for_timeout(500)
    answer.screenshot(path=str(SHOT))
    page.set_viewport_size({"width": 1400, "height": 1000})
    # Analysts do not see traces: the id in the answer's details is text, not a link.
    assert not answer.locator('a[href*="trace_explorer"]').count()

    document = card.locator('a[href*="corpus_documents"]')
    href = document.get_attribute("href")
    assert re.search(r"doc=\d+&chunk=\d+", href)
    document.click()
    page.get_by_text("Cited passage").wait_for(timeout=60_000)
    wait_for_app(page, SLOW_MS)
    assert_no_exception(page)
    chunk = re.search(r"chunk=(\d+)", href).group(1)
    cited = page.locator(f"[id='gw-chunk-{chunk}']")
    cited.wait_for()
    assert cited.is_visible() and len(cited.inner_text()) > 100
    passage = page.locator(".st-key-cited_chunk")
    passage.get_by_test_id("stImage").locator("img").wait_for(state="visible")
    assert "the passage highlighted" in passage.get_by_test_id("stImageCaption").inner_text()
