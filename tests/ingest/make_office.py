"""Slides and e-mail the tests make themselves: a PPTX (titled and untitled slides, a table, a group, notes), an
EML with a plain and an HTML body and attachments (a PDF, a CSV, an .exe, a nested mail), an Outlook MSG, and
damaged or protected copies of each."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from tests.ingest.fixtures import make_pdf
from tests.ingest.make_msg import make_msg_bytes

FEE_ROWS = [["Service", "Fee", "Waived for"], ["Card replacement", "12 EUR", "Premium"],
            ["Paper statement", "3 EUR", "Students"], ["Express transfer", "25 EUR", "Nobody"]]
ATTACHED_PDF_PAGES = [["Fee schedule 2025", "A returned direct debit costs 9 EUR and is never waived."],
                      ["Disputes", "A card dispute is answered within ten working days."]]
CSV_TEXT = "branch,city,opening hours\nNorth,Leeds,9-17\nHarbour,Bristol,10-16\n"
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(range(256)) * 4
MAIL_SUBJECT = "Fee changes from April"
MSG_SENT = datetime(2025, 4, 2, 7, 0, tzinfo=timezone.utc)
PLAIN_BODY = ("Dear team,\n\nFrom April the paper statement fee rises to 3 EUR.\n"
              "The attached schedule has every other fee.\n\nRegards,\nMaria")
HTML_BODY = ("<html><body><h1>Fee changes</h1><p>From April the <b>paper statement</b> fee rises to 3 EUR.</p>"
             "<table><tr><th>Service</th><th>Fee</th></tr><tr><td>Paper statement</td><td>3 EUR</td></tr></table>"
             "<footer>Maria, Pricing desk</footer></body></html>")


# --------------------------------------------------------------------------------------------
# PPTX


def make_pptx(path: Path, *, title: str = "") -> Path:
    """Four slides: a title slide, a titled bullet slide with notes, an untitled one with a table, and an untitled
    one whose text sits in a group shape (with notes). Shapes are added out of reading order on purpose."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    if title:
        deck.core_properties.title = title
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "Pricing review 2025"
    first.placeholders[1].text = "Retail banking, quarterly update"

    second = deck.slides.add_slide(deck.slide_layouts[1])
    second.shapes.title.text = "What changes in April"
    body = second.placeholders[1].text_frame
    body.text = "Paper statements cost 3 EUR"
    bullet = body.add_paragraph()
    bullet.text = "Students keep free statements"
    bullet.level = 1
    second.notes_slide.notes_text_frame.text = "Mention that the fee was last raised in 2019."

    third = deck.slides.add_slide(deck.slide_layouts[6])  # blank: no title placeholder
    rows, cols = len(FEE_ROWS), len(FEE_ROWS[0])
    table = third.shapes.add_table(rows, cols, Inches(1), Inches(2.5), Inches(8), Inches(2)).table
    for r, values in enumerate(FEE_ROWS):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    # Added after the table but placed above it: reading order puts it first.
    third.shapes.add_textbox(Inches(1), Inches(0.5), Inches(8), Inches(1)).text_frame.text = "Fees at a glance"

    fourth = deck.slides.add_slide(deck.slide_layouts[6])
    group = fourth.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(5), Inches(1), Inches(3), Inches(1)).text_frame.text = "Right box: branch hours"
    group.shapes.add_textbox(Inches(1), Inches(1), Inches(3), Inches(1)).text_frame.text = "Left box: online hours"
    fourth.shapes.add_textbox(Inches(1), Inches(4), Inches(8), Inches(1)).text_frame.text = "Footnote under the group"
    fourth.notes_slide.notes_text_frame.text = "The zebrafinch pilot branch opens on Saturdays."
    deck.save(str(path))
    return path


def make_textless_pptx(path: Path) -> Path:
    """Two slides holding only a drawn rectangle: nothing to read."""
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE
    from pptx.util import Inches

    deck = Presentation()
    for _ in range(2):
        slide = deck.slides.add_slide(deck.slide_layouts[6])
        slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, Inches(1), Inches(1), Inches(3), Inches(2))
    deck.save(str(path))
    return path


def make_encrypted_pptx(path: Path, source: Path, password: str = "s3cret") -> Path:
    """`source` encrypted with a password, as PowerPoint saves it: an OLE container holding the encrypted package."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    with open(source, "rb") as handle:
        OOXMLFile(handle).encrypt(password, out)
    path.write_bytes(out.getvalue())
    return path


# --------------------------------------------------------------------------------------------
# E-mail


def attached_pdf_bytes(tmp: Path) -> bytes:
    return make_pdf(tmp / "fee-schedule.pdf", ATTACHED_PDF_PAGES, title="Fee schedule 2025").read_bytes()


def make_eml(path: Path, *, pdf: bytes, unsupported: bool = True, nested: bool = False,
             subject: str = MAIL_SUBJECT, csv: str = CSV_TEXT) -> Path:
    """A mail with a plain and an HTML body, a PDF and a CSV attached, an .exe too (unless `unsupported` is off),
    and with `nested` a forwarded mail (itself with a CSV attached)."""
    message = EmailMessage()
    message["From"] = "Maria Lopez <maria.lopez@example.com>"
    message["To"] = "Pricing Team <pricing@example.com>"
    message["Cc"] = "audit@example.com"
    message["Date"] = format_datetime(datetime(2025, 3, 14, 9, 30, tzinfo=timezone.utc))
    message["Subject"] = subject
    message.set_content(PLAIN_BODY)
    message.add_alternative(HTML_BODY, subtype="html")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="fee-schedule.pdf")
    message.add_attachment(csv.encode(), maintype="text", subtype="csv", filename="branches.csv")
    if unsupported:
        message.add_attachment(EXE_BYTES, maintype="application", subtype="octet-stream", filename="setup.exe")
    if nested:
        inner = EmailMessage()
        inner["From"] = "ops@example.com"
        inner["To"] = "maria.lopez@example.com"
        inner["Subject"] = "Opening hours"
        inner["Date"] = format_datetime(datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc))
        inner.set_content("The harbour branch now closes at 16:00 on weekdays.")
        inner.add_attachment(b"day,hours\nSaturday,10-13\n", maintype="text", subtype="csv", filename="weekend.csv")
        message.add_attachment(inner, filename="opening-hours.eml")
    path.write_bytes(bytes(message))
    return path


def make_html_only_eml(path: Path) -> Path:
    message = EmailMessage()
    message["From"] = "news@example.com"
    message["To"] = "all@example.com"
    message["Subject"] = "Newsletter"
    message.set_content(HTML_BODY, subtype="html")
    path.write_bytes(bytes(message))
    return path


def make_msg(path: Path, *, pdf: bytes) -> Path:
    """An Outlook MSG (written by tests/ingest/make_msg.py) with a plain body, a PDF and a CSV attached."""
    path.write_bytes(make_msg_bytes(
        subject="Quarterly statement", body="Your quarterly statement is attached. The account fee stays at 4 EUR.",
        headers={"From": "Bank <statements@example.com>", "To": "Client <client@example.com>",
                 "Date": format_datetime(MSG_SENT)}, sent=MSG_SENT,
        attachments=[("statement.pdf", pdf), ("movements.csv", b"date,amount\n2025-03-01,-40\n2025-03-09,1200\n")]))
    return path
