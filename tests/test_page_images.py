"""Page images of cited PDFs: the demo PDFs' pages rendered with the quote highlighted, read only as the caller may,
their original bytes stored per version at ingest and deleted with the document, and quotes matched robustly."""
from __future__ import annotations

import io
import math
import shutil
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from fpdf import FPDF
from PIL import Image, ImageChops

from backend.context import RequestContext
from backend.corpus.page_images import (
    PAGE_SCALE,
    PII_FILL,
    PageImageUnavailable,
    clear_cache,
    match_quote,
    page_image,
    render_page_image,
)
from backend.models import InputError, LoadedDocument, NotFound
from backend.platform import Platform
from backend.settings import Settings

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"
INCIDENTS = DEMO / "incident-response-plan.pdf"
REPORTING = ("Anyone who suspects an incident must report it immediately, by calling the IT Service Desk on "
             "extension")
# As a citation carries it once redacted: the address replaced, the line break inside "on\nyour own" gone.
REDACTED = "by emailing <EMAIL_ADDRESS>. Do not try to investigate on your own, and do not switch off or wipe an affected device"


def _pdf(path: Path, lines: list[str]) -> Path:
    document = FPDF()
    document.add_page()
    document.set_font("Helvetica", size=12)
    for line in lines:
        document.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    document.output(str(path))
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The two demo PDFs and a Markdown file in the default tenant's `demo`, a copy of one PDF in tenant globex."""
    root = tmp_path_factory.mktemp("page-images")
    globex = root / "globex"
    globex.mkdir()
    shutil.copy(INCIDENTS, globex / "incident-response-plan.pdf")
    clear_cache()
    with Platform(Settings(data_dir=root / "data")) as platform:
        report = platform.corpus.ingest([INCIDENTS, DEMO / "information-security-policy.pdf",
                                         DEMO / "refunds-and-chargebacks.md"], "demo")
        assert not report.failed
        platform.gateway.create_tenant("globex")
        platform.corpus.create_collection("globex-docs", tenant="globex")
        assert not platform.corpus.ingest([globex], "globex-docs").failed
        yield platform
    clear_cache()


def _doc_id(platform, collection: str, file_name: str) -> int:
    return next(d["id"] for d in platform.corpus.documents(collection) if d["source"].endswith(file_name))


def _stored_files(platform, document_id: int) -> list[tuple[int, int]]:
    return platform.store.query("SELECT version, size_bytes FROM document_files WHERE document_id = ? ORDER BY version",
                                [document_id])


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGB")


def test_the_cited_page_is_rendered_at_its_size_with_the_quote_highlighted(corpus):
    doc = _doc_id(corpus, "demo", "incident-response-plan.pdf")
    width, height = pdfium.PdfDocument(str(INCIDENTS))[0].get_size()
    highlighted = render_page_image(corpus, doc, 1, REPORTING)
    assert (highlighted.width, highlighted.height) == (math.ceil(width * PAGE_SCALE), math.ceil(height * PAGE_SCALE))
    assert highlighted.match == "exact" and highlighted.source == "stored" and highlighted.pages == 3
    shown = _png(highlighted.png)
    assert shown.size == (highlighted.width, highlighted.height)
    # The quote is one line of the page: one box, inside the page, in its top half (section 2).
    assert len(highlighted.boxes) == 1
    left, top, right, bottom = highlighted.boxes[0]
    assert 0 <= left < right <= shown.width and 0 <= top < bottom < shown.height // 2
    plain = _png(render_page_image(corpus, doc, 1, "").png)
    changed = ImageChops.difference(shown, plain).getbbox()
    assert changed is not None  # every changed pixel is inside the quote's box
    assert changed[0] >= left and changed[1] >= top and changed[2] <= right + 1 and changed[3] <= bottom + 1
    # The page's white paper turns yellow under the highlight, over most of the box.
    inside = shown.crop(highlighted.boxes[0]).getcolors(maxcolors=1_000_000)
    yellow = sum(n for n, (r, g, b) in inside if r > 240 and g > 220 and b < 200)
    assert yellow > 0.5 * (right - left) * (bottom - top)
    assert page_image(corpus, doc, 1, REPORTING) == highlighted.png  # the bytes-only form the brief names


def test_a_redacted_quote_highlights_its_words_and_the_personal_data_stays_covered(corpus):
    doc = _doc_id(corpus, "demo", "incident-response-plan.pdf")
    image = render_page_image(corpus, doc, 1, REDACTED)
    assert image.match == "partial" and image.masked >= 1
    assert len(image.boxes) == 2  # "by emailing … investigate on" and "your own, … affected device"
    shown = _png(image.png)
    # The address itself (between "emailing" and "Do not") is covered opaque on the page, as on screen elsewhere.
    left, top, right, bottom = image.boxes[0]
    row = [shown.getpixel((x, (top + bottom) // 2)) for x in range(left, right)]
    assert sum(1 for pixel in row if pixel == PII_FILL[:3]) > 100


def test_another_tenant_or_an_ungranted_analyst_gets_not_found(corpus):
    doc = _doc_id(corpus, "demo", "incident-response-plan.pdf")
    render_page_image(corpus, doc, 1, REPORTING)  # cached now: the cache must not skip the check
    settings = corpus.settings
    granted = RequestContext.for_tenant(settings, settings.default_tenant, user="ann", role="analyst",
                                        collections=frozenset({"demo"}))
    assert render_page_image(corpus, doc, 1, REPORTING, granted).match == "exact"
    others = [RequestContext.for_tenant(settings, "globex", user="gus", role="admin"),
              RequestContext.for_tenant(settings, settings.default_tenant, user="bob", role="analyst",
                                        collections=frozenset({"hr"}))]
    for ctx in others:
        with pytest.raises(NotFound, match=f"unknown document id {doc}"):
            page_image(corpus, doc, 1, REPORTING, ctx)
    with pytest.raises(NotFound, match="unknown document id 99999"):
        page_image(corpus, 99999, 1, REPORTING)
    globex_doc = _doc_id(corpus, "globex-docs", "incident-response-plan.pdf")
    assert render_page_image(corpus, globex_doc, 1, REPORTING, others[0]).match == "exact"


def test_a_document_that_is_not_a_pdf_or_a_page_it_lacks_is_a_clear_error(corpus):
    markdown = _doc_id(corpus, "demo", "refunds-and-chargebacks.md")
    with pytest.raises(InputError, match=f"document {markdown} is Markdown, not a PDF") as error:
        page_image(corpus, markdown, 1, "refund")
    assert error.value.field == "document_id"
    pdf = _doc_id(corpus, "demo", "information-security-policy.pdf")
    with pytest.raises(InputError, match=f"document {pdf} has 3 pages: there is no page 7") as error:
        page_image(corpus, pdf, 7, "")
    assert error.value.field == "page"
    with pytest.raises(InputError, match="page must be a page number from 1") as error:
        page_image(corpus, pdf, 0, "")
    assert error.value.field == "page"


def test_each_pdf_version_keeps_its_bytes_until_the_document_is_deleted(corpus, tmp_path):
    source = _pdf(tmp_path / "card-limits.pdf", ["Card limits", "The daily cash withdrawal limit is 500 pounds."])
    assert not corpus.corpus.ingest([source], "demo").failed
    doc = _doc_id(corpus, "demo", "card-limits.pdf")
    first = source.read_bytes()
    _pdf(source, ["Card limits", "The daily cash withdrawal limit is 750 pounds from 1 May."])
    assert corpus.corpus.ingest([source], "demo").files[0].outcome == "updated"
    assert _stored_files(corpus, doc) == [(1, len(first)), (2, len(source.read_bytes()))]
    source.unlink()  # the stored bytes serve the page, not the file
    image = render_page_image(corpus, doc, 1, "The daily cash withdrawal limit is 750 pounds")
    assert image.source == "stored" and image.match == "exact"
    corpus.corpus.delete_document(doc)
    assert _stored_files(corpus, doc) == []
    with pytest.raises(PageImageUnavailable, match=f"document {doc} was deleted"):
        page_image(corpus, doc, 1, "")


def test_a_pdf_ingested_before_its_bytes_were_kept_falls_back_to_its_source_file(corpus, tmp_path):
    source = _pdf(tmp_path / "branch-hours.pdf", ["Branch hours", "Branches open at nine and close at five."])
    assert not corpus.corpus.ingest([source], "demo").failed
    doc = _doc_id(corpus, "demo", "branch-hours.pdf")
    corpus.store.execute("DELETE FROM document_files WHERE document_id = ?", [doc])  # as before migration 070
    clear_cache()
    image = render_page_image(corpus, doc, 1, "Branches open at nine")
    assert image.source == "file" and image.match == "exact"
    source.unlink()
    clear_cache()
    with pytest.raises(PageImageUnavailable, match=r"ingested before PDF files were kept.*no longer exists"):
        page_image(corpus, doc, 1, "Branches open at nine")


def test_a_record_keeps_no_file_bytes_even_when_its_source_is_a_pdf(corpus):
    """Records (an evaluation's scratch copy, a BEIR corpus) are already text: nothing is read from their source."""
    record = LoadedDocument(source=str(INCIDENTS), title="Incident plan (scratch copy)", mime_type="application/pdf",
                            text=f"{REPORTING} 4400, 24 hours a day. Nobody wipes an affected device.")
    assert not corpus.corpus.ingest_records("scratch-copy", [record]).failed
    doc = _doc_id(corpus, "scratch-copy", "incident-response-plan.pdf")
    assert _stored_files(corpus, doc) == []
    assert render_page_image(corpus, doc, 1, REPORTING).source == "file"


def _page_text(path: Path, page: int = 0) -> str:
    text_page = pdfium.PdfDocument(str(path))[page].get_textpage()
    return "".join(chr(pdfium.raw.FPDFText_GetUnicode(text_page, i)) for i in range(text_page.count_chars()))


def test_quotes_match_across_line_breaks_spacing_case_and_ligatures():
    text = _page_text(INCIDENTS)
    wrapped = "Do not try to investigate on your own, and do not switch off or wipe an affected device"
    assert "investigate on\r\nyour own" in text  # a line break of the page inside the quote
    ranges, kind = match_quote(text, "  ".join(wrapped.upper().split()))
    assert kind == "exact" and text[ranges[0][0]:ranges[0][1]] == wrapped.replace("on your", "on\r\nyour")
    ranges, kind = match_quote("The ﬁnal ﬂoor plan is ﬁled.", "the final floor plan is filed")
    assert kind == "exact" and ranges == [(0, 26)]  # the words, not the full stop


def test_an_inexact_quote_highlights_its_longest_run_of_words():
    text = _page_text(INCIDENTS)
    ranges, kind = match_quote(text, "This plan explains how Northwind Ledger detects, classifies, contains and recovers "
                                     "from incidents that affect our customers, and then words the page never had")
    assert kind == "partial"
    shown = text[ranges[0][0]:ranges[0][1]]
    assert shown.startswith("This plan explains") and shown.endswith("affect our customers")
    assert match_quote(text, "kestrel nest boxes are checked in spring") == ([], "none")
    assert match_quote(text, "owls the hawks and kestrels") == ([], "none")  # common words alone are no match
    assert match_quote(text, "") == ([], "none") and match_quote("", REPORTING) == ([], "none")
