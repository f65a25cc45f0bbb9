"""Plotly figures of the operator pages: traffic, latency percentiles, stages, tokens and cost, drift over time."""
from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

PERCENTILE_COLOURS = {"p50_ms": "#1f77b4", "p95_ms": "#ff7f0e", "p99_ms": "#d62728"}


def _layout(figure: go.Figure, y_title: str, height: int = 320) -> go.Figure:
    figure.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), yaxis_title=y_title,
                         legend=dict(orientation="h", y=1.12, x=0))
    return figure


def requests_figure(series: pd.DataFrame) -> go.Figure:
    """Requests per bucket, errors and cache hits on top of the ones that ran the full pipeline."""
    figure = go.Figure()
    served = series["requests"] - series["errors"] - series["cache_hits"]
    figure.add_bar(x=series["bucket"], y=served, name="answered", marker_color="#1f77b4")
    figure.add_bar(x=series["bucket"], y=series["cache_hits"], name="cache hits", marker_color="#2ca02c")
    figure.add_bar(x=series["bucket"], y=series["errors"], name="errors", marker_color="#d62728")
    figure.update_layout(barmode="stack")
    return _layout(figure, "requests")


def latency_figure(series: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for column, colour in PERCENTILE_COLOURS.items():
        figure.add_scatter(x=series["bucket"], y=series[column], name=column.replace("_ms", ""), mode="lines+markers",
                           line=dict(color=colour))
    return _layout(figure, "end-to-end latency (ms)")


def stage_figure(stages: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for column, colour in PERCENTILE_COLOURS.items():
        figure.add_bar(x=stages["stage"], y=stages[column], name=column.replace("_ms", ""), marker_color=colour)
    figure.update_layout(barmode="group")
    return _layout(figure, "stage latency (ms)")


def cost_figure(series: pd.DataFrame) -> go.Figure:
    """Tokens per bucket as bars, cost per request as a line on a second axis."""
    figure = go.Figure()
    figure.add_bar(x=series["bucket"], y=series["tokens_in"], name="tokens in", marker_color="#9ecae1")
    figure.add_bar(x=series["bucket"], y=series["tokens_out"], name="tokens out", marker_color="#3182bd")
    figure.add_scatter(x=series["bucket"], y=series["cost_per_request_usd"], name="cost per request ($)",
                       yaxis="y2", mode="lines+markers", line=dict(color="#e6550d"))
    top = float(series["cost_per_request_usd"].fillna(0).max()) if len(series) else 0.0
    # an explicit range from $0: with every cost at $0 Plotly's own range put ticks up to 0.921 around nothing
    cost_range = [0, top * 1.15] if top > 0 else [0, 0.01]
    step = 10 ** math.floor(math.log10(cost_range[1] / 4))  # round ticks ($0.002 steps), not the left axis's sixths
    step *= 5 if cost_range[1] / step > 20 else 2 if cost_range[1] / step > 8 else 1
    figure.update_layout(barmode="stack", yaxis2=dict(overlaying="y", side="right", title="$ per request",
                                                      range=cost_range, tickmode="linear", tick0=0, dtick=step,
                                                      tickprefix="$", showgrid=False))
    return _layout(figure, "tokens")


def usage_history_figure(history: pd.DataFrame) -> go.Figure:
    """Tokens charged per month, a bar per tenant, with the cost on a second axis (rows of gateway.usage_history)."""
    figure = go.Figure()
    history = history.sort_values("month")
    for tenant, rows in history.groupby("tenant", sort=True):
        figure.add_bar(x=rows["month"], y=rows["tokens"], name=f"{tenant} tokens",
                       customdata=rows[["cost_usd", "requests"]].to_numpy(),
                       hovertemplate="%{x}<br>%{y:,} tokens<br>$%{customdata[0]:,.2f} · %{customdata[1]:,} requests")
    cost = history.groupby("month", sort=True)["cost_usd"].sum()
    figure.add_scatter(x=cost.index, y=cost.to_numpy(), name="cost, all shown tenants ($)", yaxis="y2",
                       mode="lines+markers", line=dict(color="#e6550d"))
    # A month or two would otherwise be page-wide bars; a cost of $0 (the extractive generator) an empty $ axis.
    figure.update_layout(barmode="group", bargap=0.6 if len(cost) < 4 else 0.2,
                         xaxis=dict(type="category", title="month"),
                         yaxis2=dict(overlaying="y", side="right", title="$", showgrid=False, tickprefix="$",
                                     range=[0, max(float(cost.max()) * 1.15, 0.01)]))
    return _layout(figure, "tokens")


def latency_histogram(requests: pd.DataFrame) -> go.Figure:
    figure = go.Figure(go.Histogram(x=requests["duration_ms"], nbinsx=40, marker_color="#1f77b4"))
    return _layout(figure, "requests", height=260).update_xaxes(title="end-to-end latency (ms)")


def drift_timeline_figure(timeline: pd.DataFrame, warn: float, alert: float) -> go.Figure:
    """A signal's PSI per time bucket against the reference window, with the warn and alert lines."""
    figure = go.Figure(go.Scatter(x=timeline["bucket"], y=timeline["statistic"], mode="lines+markers",
                                  customdata=timeline["n"], hovertemplate="%{x}<br>PSI %{y:.3f}<br>%{customdata} requests",
                                  line=dict(color="#1f77b4"), name="PSI"))
    figure.add_hline(y=warn, line_dash="dash", line_color="orange", annotation_text="warn")
    figure.add_hline(y=alert, line_dash="dash", line_color="red", annotation_text="alert")
    return _layout(figure, "PSI vs reference", height=240)
