"""Observability: request tracing, the DuckDB span exporter, dashboard queries, drift and retention."""
