"""Citations that open their source (AppTest): each [n] links to its card, a card links the document view at its
chunk and shows a cited PDF page, the trace id links the trace explorer for roles that see traces, and the document
view opens at the chunk for a granted analyst and says "not found" to one without the grant."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from backend.platform import Platform
from backend.settings import Settings
from components.safe_markdown import link_markers, safe_markdown
from tests.pages.conftest import pages_on, run, texts
from tests.pages.signin import ensure_user, signed_in

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
QUESTION = "How must a suspected incident be reported?"
HR = "# Leave\n\nStaff have 25 days of annual leave a year.\n"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """`demo` (the incident response plan PDF and the refunds policy) and `hr`; analysts ann (granted demo) and
    bob (granted hr), operator olga. Yields the PDF's document id and its chunk on reporting an incident."""
    path = tmp_path_factory.mktemp("citation-links")
    hr = path / "hr-docs"
    hr.mkdir()
    (hr / "leave.md").write_text(HR)
    with Platform(Settings(data_dir=path / "data")) as platform:
        platform.corpus.ingest([DEMO / "incident-response-plan.pdf", DEMO / "refunds-and-chargebacks.md"], "demo")
        platform.corpus.ingest([hr], "hr")
        gateway, tenant = platform.gateway, platform.settings.default_tenant
        for user, role in (("ann", "analyst"), ("bob", "analyst"), ("olga", "operator")):
            ensure_user(platform, user, role)
        for group, collection, member in (("incident-readers", "demo", "ann"), ("hr-readers", "hr", "bob")):
            gateway.create_group(group, tenant)
            gateway.grant(group, collection)
            gateway.add_member(group, member)
        pdf = next(d["id"] for d in platform.corpus.documents("demo") if d["mime_type"] == "application/pdf")
        chunk = next(c for c in platform.corpus.chunks(pdf) if "Anyone who suspects an incident" in c.text)
    with pytest.MonkeyPatch.context() as monkeypatch, pages_on(monkeypatch, path / "data"):
        yield {"pdf": pdf, "chunk": chunk.id, "page": chunk.page, "text": chunk.text}


def _chat(user: str, role: str) -> AppTest:
    """Chat inside app.py's navigation (its links to other pages need it), after asking QUESTION."""
    app = run(signed_in(AppTest.from_file(str(ROOT / "app.py"), default_timeout=180), role, user=user))
    app.switch_page("pages/chat.py")
    run(app)
    app.chat_input[0].set_value(QUESTION)
    return run(app)


def _cards(app: AppTest) -> list[tuple[str, int, int]]:
    """(anchor id, document id, chunk id) of each citation card, from its chunk and its caption."""
    cards = []
    for card in app.expander:
        bodies = [h.proto.body for h in card.get("html") if 'class="gw-chunk"' in h.proto.body]
        caption = next((c.value for c in card.caption if c.value.startswith("Document ")), "")
        ids = re.match(r"Document (\d+) · chunk (\d+)", caption)
        if bodies and ids:
            anchor = re.search(r'id="([\w-]+)"', bodies[0])
            cards.append((anchor.group(1) if anchor else "", int(ids.group(1)), int(ids.group(2))))
    return cards


def _links(app: AppTest, page: str) -> list[str]:
    return [link.proto.query_string for link in app.get("page_link") if link.proto.page == page]


def test_each_marker_links_to_its_card_and_each_card_to_its_document_and_page(corpus):
    app = _chat("ann", "analyst")
    [answer] = [m for m in app.chat_message if m.name == "assistant"]
    shown = answer.markdown[0].value
    linked = re.findall(r"\[(?::red\[)?\[(\d+)\??\]\]?\]\(#(gw-cite-[\w-]+)\)", shown)
    cards = _cards(app)
    assert linked and cards and "](http" not in shown
    targets = {anchor for anchor, _, _ in cards}
    assert {anchor for _, anchor in linked} <= targets  # every marker's link lands on a card of this answer
    assert all(anchor.endswith(f"-{n}") for n, anchor in linked)
    # Each card opens the document view at its chunk (an analyst reads Documents); the PDF's card shows its page.
    assert sorted(_links(app, "corpus_documents")) == sorted(f"doc={d}&chunk={c}" for _, d, c in cards)
    assert any(d == corpus["pdf"] for _, d, _ in cards)
    [image] = app.get("image")
    # The quoted sentence carries a redacted e-mail address, so the page highlights the closest run of its words.
    assert re.match(r"Page \d of 3 · the (quote|closest run of the quote's words) highlighted .*personal data covered",
                    image.proto.imgs[0].caption)
    # Analysts do not see traces: the id is text, not a link.
    assert not _links(app, "trace_explorer")
    assert re.search(r"· trace `[0-9a-f]{32}`", texts(app))


def test_the_trace_id_links_the_trace_explorer_for_an_operator(corpus):
    app = _chat("olga", "operator")
    [trace] = _links(app, "trace_explorer")
    assert re.fullmatch(r"trace=[0-9a-f]{32}", trace)
    assert not re.search(r"· trace `[0-9a-f]{32}`", texts(app))
    assert _links(app, "corpus_documents")  # operators open documents too


def _documents(user: str, query: dict) -> AppTest:
    app = signed_in(AppTest.from_file(str(ROOT / "pages" / "corpus_documents.py"), default_timeout=180), "analyst",
                    user=user)
    for key, value in query.items():
        app.query_params[key] = value
    return run(app)


def test_the_document_view_opens_at_the_cited_chunk_for_a_granted_analyst_only(corpus):
    query = {"doc": str(corpus["pdf"]), "chunk": str(corpus["chunk"])}
    app = _documents("ann", query)
    assert any(s.value == "Incident Response Plan" for s in app.subheader)
    assert any(m.value.startswith("**Cited passage** · chunk ") and f"page {corpus['page']}" in m.value
               for m in app.markdown)
    bodies = [h.proto.body for h in app.get("html")]
    assert any(f'id="gw-chunk-{corpus["chunk"]}"' in body and "Anyone who suspects an incident" in body
               for body in bodies)
    assert any(f'getElementById("gw-chunk-{corpus["chunk"]}")' in body for body in bodies)  # scrolled to
    [image] = app.get("image")
    assert f"Page {corpus['page']} of 3, the passage highlighted" in image.proto.imgs[0].caption
    assert not [b for b in app.button if b.key in ("doc_reingest", "doc_move", "doc_delete")]  # read only

    other = _documents("bob", query)
    assert not other.subheader or not any(s.value == "Incident Response Plan" for s in other.subheader)
    assert any(f"Document {corpus['pdf']} was not found" in w.value for w in other.warning)
    assert not other.get("image")

    stale = _documents("ann", {**query, "chunk": "999999"})
    assert any("Chunk 999999 is not in this document's current version" in i.value for i in stale.info)
    bad = _documents("ann", {**query, "chunk": "12x"})
    assert any("chunk='12x' in the address is not a chunk id" in w.value for w in bad.warning)


def test_only_markers_become_links_and_unsupported_ones_stay_marked():
    anchors = {1: "gw-cite-7-1", 2: "gw-cite-7-2"}
    text = "Fees rose [1]. Refunds take 90 days [2?]. Unknown [3]. See [1](http://attacker.example/?q=x) and ![a](x) [2]"
    shown = link_markers(safe_markdown(text), anchors)
    assert shown.startswith("Fees rose [[1]](#gw-cite-7-1). Refunds take 90 days [:red[[2?]]](#gw-cite-7-2). "
                            "Unknown [3]. ")
    assert "[1\\](http://attacker.example/?q=x)" in shown and "!\\[a\\](x)" in shown  # still inert text
    assert shown.endswith("[[2]](#gw-cite-7-2)")
    # Every link left is one of ours, to an anchor on this page.
    assert re.findall(r"(?<!\\)\]\(([^)]*)\)", shown) == ["#gw-cite-7-1", "#gw-cite-7-2", "#gw-cite-7-2"]
    assert link_markers("[1]", {1: "javascript:alert(1)"}) == "[1]"  # an anchor that is not ours links nothing
