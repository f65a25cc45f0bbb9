"""Every kind of bad file gets an InputError whose one-line message starts with the file name and says why."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from backend.ingest.loaders import load_file
from backend.models import InputError
from tests.ingest.fixtures import make_docx, make_encrypted_pdf, make_pdf, make_scanned_pdf, make_xlsx

LIMIT = 10 * 1024 * 1024
PNG_BYTES = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a5a30000000049454e44ae426082")


def random_bytes(n: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def assert_rejected(path: Path, *reason_words: str, limit: int = LIMIT) -> str:
    with pytest.raises(InputError) as caught:
        load_file(path, limit)
    message = str(caught.value)
    assert message.startswith(f"{path.name}: "), message
    assert "\n" not in message
    for word in reason_words:
        assert word.lower() in message.lower(), message
    return message


def test_missing_path(tmp_path):
    assert_rejected(tmp_path / "nowhere.pdf", "no such file")


def test_directory(tmp_path):
    folder = tmp_path / "reports.pdf"
    folder.mkdir()
    assert_rejected(folder, "directory")


def test_unsupported_type_names_the_supported_ones(tmp_path):
    path = tmp_path / "setup.exe"
    path.write_bytes(b"MZ\x90\x00")
    message = assert_rejected(path, "unsupported", ".exe")
    for ext in (".pdf", ".docx", ".html", ".md", ".txt", ".csv", ".xlsx"):
        assert ext in message


@pytest.mark.parametrize("name", ["empty.txt", "empty.pdf", "empty.docx", "empty.csv"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.touch()
    assert_rejected(path, "empty")


def test_whitespace_only_text_has_no_content(tmp_path):
    path = tmp_path / "blank.md"
    path.write_text(" \n\n\t\n")
    assert_rejected(path, "no text")


def test_oversized_file_rejected_from_its_size_without_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as handle:  # sparse: 100 MB by size, nothing written
        handle.truncate(100 * 1024 * 1024)

    def no_reading(self):
        raise AssertionError("the file was read")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    monkeypatch.setattr(Path, "read_text", no_reading)
    assert_rejected(path, "100.0 MB", "over the 50.0 MB limit", limit=50 * 1024 * 1024)


def test_corrupt_pdf(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" + random_bytes(2000) + b"\n%%EOF")
    assert_rejected(path, "pdf")


def test_truncated_pdf(tmp_path):
    whole = make_pdf(tmp_path / "whole.pdf").read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(whole[: len(whole) // 3])
    message = assert_rejected(path)
    assert "corrupt" in message or "no extractable text" in message


def test_encrypted_pdf_is_password_protected(tmp_path):
    source = make_pdf(tmp_path / "plain.pdf")
    assert_rejected(make_encrypted_pdf(tmp_path / "salaries.pdf", source), "password-protected")


def test_scanned_pdf_says_so(tmp_path):
    assert_rejected(make_scanned_pdf(tmp_path / "scan.pdf"), "no extractable text", "scanned")


@pytest.mark.parametrize("content", [PNG_BYTES, random_bytes(4096)], ids=["png", "random"])
def test_binary_file_named_pdf(tmp_path, content):
    path = tmp_path / "invoice.pdf"
    path.write_bytes(content)
    assert_rejected(path, "not a pdf")


@pytest.mark.parametrize("content", [PNG_BYTES, random_bytes(4096, seed=3)], ids=["png", "random"])
def test_binary_file_named_txt(tmp_path, content):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    assert_rejected(path, "binary")


def test_nul_bytes_in_text(tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(b"normal line\n\x00\x00\x00 then more\n")
    assert_rejected(path, "NUL", "binary")


def test_invalid_utf8_that_is_really_binary(tmp_path):
    # No NUL bytes, invalid UTF-8, and mostly control bytes when read as cp1252.
    data = bytes(b for b in random_bytes(6000, seed=11) if b != 0)
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    assert_rejected(path, "binary")


@pytest.mark.parametrize("suffix", [".docx", ".xlsx"])
def test_random_bytes_named_office_file(tmp_path, suffix):
    path = tmp_path / f"report{suffix}"
    path.write_bytes(random_bytes(3000))
    assert_rejected(path, "not a valid", suffix[1:].upper())


@pytest.mark.parametrize("maker,suffix", [(make_docx, ".docx"), (make_xlsx, ".xlsx")])
def test_truncated_office_file(tmp_path, maker, suffix):
    whole = maker(tmp_path / f"whole{suffix}").read_bytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole[: len(whole) // 2])
    assert_rejected(path, "not a valid")


def test_office_zip_without_its_parts(tmp_path):
    import zipfile

    path = tmp_path / "fake.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    assert_rejected(path, "not a valid DOCX")


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "secret.txt"
    path.write_text("hidden")

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)  # chmod 000 means nothing to root, who runs CI here
    assert_rejected(path, "cannot be read", "permission denied")
