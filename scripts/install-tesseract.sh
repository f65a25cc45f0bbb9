#!/usr/bin/env bash
# Debian's Tesseract OCR engine with its English data, for scanned PDF pages and images (backend/ingest/loaders/ocr.py).
set -euo pipefail
have_english() { command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx eng; }
if have_english; then exit 0; fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "tesseract not found: install it with 'apt-get install tesseract-ocr tesseract-ocr-eng' to OCR scanned PDFs and images" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null
