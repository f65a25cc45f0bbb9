"""The corpus service and the corpus browser's views: collections, documents, ingest runs, uploads."""
