"""Trace waterfall: one request's spans as horizontal bars on a shared time axis (Plotly)."""
from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go

from backend.observability.conventions import (
    ANSWER,
    CHAIN,
    DOCUMENTS,
    EMBEDDING,
    GUARDRAIL,
    LLM,
    QUESTION,
    RERANKER,
    RETRIEVER,
    STATUS_ERROR,
)

KIND_COLOURS = {
    CHAIN: "#6c8ebf", GUARDRAIL: "#9673a6", EMBEDDING: "#d79b00", RETRIEVER: "#82b366",
    RERANKER: "#5fa39a", LLM: "#4b6cb7",  # never a red: red is for spans that failed
}
ERROR_COLOUR = "#d62728"


def _hover(row) -> str:
    attributes = {k: v for k, v in (row.attributes or {}).items() if k not in (DOCUMENTS, QUESTION, ANSWER)}
    lines = [f"<b>{row.name}</b> ({row.kind or 'span'})", f"{row.duration_ms:.2f} ms, starts at +{row.offset_ms:.2f} ms",
             f"status: {row.status}"]
    lines += [f"{k}: {json.dumps(v, default=str)[:80]}" for k, v in list(attributes.items())[:12]]
    return "<br>".join(lines)


def waterfall_figure(spans: pd.DataFrame) -> go.Figure:
    """Bars start at each span's offset from the request start; children are indented under their parent."""
    spans = spans.reset_index(drop=True)
    positions = list(range(len(spans)))
    labels = ["\u2003" * int(depth) + name for depth, name in zip(spans["depth"], spans["name"])]
    colours = [ERROR_COLOUR if status == STATUS_ERROR else KIND_COLOURS.get(kind, "#7f7f7f")
               for status, kind in zip(spans["status"], spans["kind"])]
    figure = go.Figure(
        go.Bar(
            y=positions, x=spans["duration_ms"].clip(lower=0.01), base=spans["offset_ms"], orientation="h",
            marker_color=colours, text=[f"{d:.1f} ms" for d in spans["duration_ms"]], textposition="auto",
            hovertext=[_hover(row) for row in spans.itertuples()], hoverinfo="text",
        )
    )
    figure.update_yaxes(tickvals=positions, ticktext=labels, autorange="reversed", title=None)
    figure.update_xaxes(title="milliseconds since the request started", rangemode="tozero")
    figure.update_layout(height=80 + 30 * len(spans), margin=dict(l=10, r=10, t=10, b=40), showlegend=False,
                         bargap=0.25)
    return figure


def span_table(spans: pd.DataFrame) -> pd.DataFrame:
    """The waterfall's numbers: one row per span with its attributes as compact JSON."""
    return pd.DataFrame({
        "span": ["  " * int(d) + n for d, n in zip(spans["depth"], spans["name"])],
        "kind": spans["kind"],
        "start +ms": spans["offset_ms"].round(2),
        "duration ms": spans["duration_ms"].round(2),
        "status": spans["status"],
        "attributes": [json.dumps({k: v for k, v in (a or {}).items() if k != DOCUMENTS}, default=str)
                       for a in spans["attributes"]],
    })
