-- Chunks read by OCR (a scanned PDF page, an image) carry Tesseract's mean word confidence, 0..1 (backend/ingest/loaders/ocr.py);
-- NULL for text that came from a text layer or a text format.
ALTER TABLE chunks ADD COLUMN ocr_confidence DOUBLE;
