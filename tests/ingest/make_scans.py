"""Scanned documents the project makes itself: known text drawn on paper-sized images, tilted, speckled and blurred."""
from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

# Known text for the character error rate; distinctive sentences so a search can find each one.
SCAN_PAGES: list[list[str]] = [
    [
        "Safe Deposit Inspection",
        "The vault inspection is scheduled for the third Tuesday of March.",
        "Box holders must bring a photo identity card and their key.",
        "Boxes left unpaid for two years are drilled open before a notary.",
    ],
    [
        "Branch Opening Hours",
        "The Harbour Street branch opens at nine and closes at half past four.",
        "On Saturdays only the cash machines and the night safe are available.",
        "Coin deposits above forty kilograms need an appointment.",
    ],
    [
        "Letter of Complaint",
        "I was charged a late fee of 35 EUR although I paid on the due date.",
        "Please refund the fee and confirm in writing within fourteen days.",
        "My account number is listed on the enclosed statement.",
    ],
]


@dataclass(frozen=True)
class Noise:
    """How bad the scanner was: tilt in degrees, share of pixels flipped to black or white, blur radius in pixels
    at 200 dpi (scaled with the resolution)."""

    name: str
    tilt: float
    speckle: float
    blur: float


NOISE_LEVELS = (
    Noise("clean", 0.0, 0.0, 0.0),
    Noise("office", 0.6, 0.004, 0.6),  # a flatbed scan of a printed page
    Noise("poor", 1.5, 0.015, 1.0),  # a fax, or a copy of a copy
)
OFFICE = NOISE_LEVELS[1]
A4_INCHES = (8.27, 11.69)
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A TrueType font found on the machine, else PIL's own scalable default."""
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)


def page_text(lines: list[str]) -> str:
    """The text a perfect OCR reads from a page drawn from `lines`."""
    return "\n".join(lines)


def render_scan(lines: list[str], noise: Noise = OFFICE, dpi: int = 200, seed: int = 0) -> Image.Image:
    """One A4 page at `dpi`: the lines in 12 pt text (the title in 16 pt), then the scanner's tilt, speckle and blur."""
    width, height = int(A4_INCHES[0] * dpi), int(A4_INCHES[1] * dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    x, y = int(dpi), int(dpi)  # one-inch margins
    for number, line in enumerate(lines):
        face = font(round((16 if number == 0 else 12) * dpi / 72))
        draw.text((x, y), line, fill=0, font=face)
        y += int(face.size * (2.0 if number == 0 else 1.6))
    rng = random.Random(seed)
    if noise.tilt:
        angle = noise.tilt * rng.choice((-1, 1))
        page = page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    if noise.blur:
        page = page.filter(ImageFilter.GaussianBlur(noise.blur * dpi / 200))
    if noise.speckle:
        pixels = page.load()
        assert pixels is not None
        for _ in range(int(width * height * noise.speckle)):
            pixels[rng.randrange(width), rng.randrange(height)] = rng.choice((0, 255))
    return page


def render_pages(pages: list[list[str]], noise: Noise = OFFICE, dpi: int = 200) -> list[Image.Image]:
    return [render_scan(lines, noise, dpi, seed=i) for i, lines in enumerate(pages)]


def make_scanned_pdf(path: Path, pages: list[list[str]] = SCAN_PAGES[:1], noise: Noise = OFFICE, dpi: int = 200) -> Path:
    """An image-only PDF (no text layer): what a scanner without OCR produces."""
    images = render_pages(pages, noise, dpi)
    images[0].save(path, "PDF", resolution=float(dpi), save_all=True, append_images=images[1:])
    return path


def make_mixed_pdf(path: Path, text_lines: list[str], scan_lines: list[str], noise: Noise = OFFICE,
                   dpi: int = 200) -> Path:
    """Page 1 a born-digital text page, page 2 a scanned one (a signed letter appended to a report)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    for line in text_lines:
        pdf.multi_cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    buffer = io.BytesIO()
    render_scan(scan_lines, noise, dpi).save(buffer, "PNG")
    pdf.image(buffer, x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.output(str(path))
    return path


def make_stamped_scan(path: Path, scan_lines: list[str], stamp: str, noise: Noise = OFFICE, dpi: int = 200) -> Path:
    """A scanned page under a thin text layer: a document-management system's stamp (a Bates number) in the corner."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    buffer = io.BytesIO()
    render_scan(scan_lines, noise, dpi).save(buffer, "PNG")
    pdf.image(buffer, x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.set_font("helvetica", size=8)
    pdf.set_xy(pdf.w - 50, pdf.h - 12)
    pdf.cell(40, 6, stamp)
    pdf.output(str(path))
    return path


def make_scan_image(path: Path, pages: list[list[str]] = SCAN_PAGES[:1], noise: Noise = OFFICE, dpi: int = 200) -> Path:
    """A scan saved as PNG, JPEG or TIFF by the path's extension; a TIFF holds every page, the others the first."""
    images = render_pages(pages, noise, dpi)
    kind = path.suffix.lower()
    if kind in {".tif", ".tiff"}:
        images[0].save(path, "TIFF", compression="tiff_lzw", dpi=(dpi, dpi), save_all=True, append_images=images[1:])
    elif kind in {".jpg", ".jpeg"}:
        images[0].save(path, "JPEG", quality=85, dpi=(dpi, dpi))
    else:
        images[0].save(path, "PNG", dpi=(dpi, dpi))
    return path


def character_error_rate(expected: str, found: str) -> float:
    """Levenshtein distance over the expected length, on whitespace-normalised text (line breaks are not errors)."""
    from rapidfuzz.distance import Levenshtein

    a, b = " ".join(expected.split()), " ".join(found.split())
    return Levenshtein.distance(a, b) / len(a) if a else float(bool(b))
