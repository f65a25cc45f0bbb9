"""Observability: request tracing, the DuckDB span exporter, dashboard queries, drift and retention."""
# Imports only go down, so there is no circle to dodge with a lazy import:
#   conventions (names, attribute mapping, utc_now, PERCENTILES)
#     <- retention, queries <- drift;  retention <- exporter <- tracing;  simulate stands alone.
