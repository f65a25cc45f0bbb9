"""Text shared by ingest, chat and cache: word-piece tokens and sentences, words, stems and numbers."""
