"""Ingestion: load files, clean text, find near-duplicates, chunk in the embedder's own tokens."""
