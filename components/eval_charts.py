"""Plotly figures of the evaluation pages: quality against latency/cost with the Pareto front, metric bars, failures."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from components.eval_common import CLASS_COLOURS, CLASS_LABELS, label


def _layout(figure: go.Figure, height: int = 380) -> go.Figure:
    figure.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=1.1, x=0))
    return figure


def pareto_figure(frame: pd.DataFrame, quality: str, cost: str) -> go.Figure:
    """Every run as a point; runs on the Pareto front (no run is both better and cheaper) joined by a line."""
    figure = go.Figure()
    data = frame.dropna(subset=[quality, cost])
    others, front = data[~data["pareto"]], data[data["pareto"]].sort_values(cost)
    hover = "#%{customdata[0]} %{customdata[1]}<br>" + f"{label(quality)}: " + "%{y:.3f}<br>" + f"{label(cost)}: " + "%{x:,.4g}"
    figure.add_scatter(x=others[cost], y=others[quality], mode="markers", name="dominated run",
                       marker=dict(size=10, color="#9ecae1", line=dict(width=1, color="#3182bd")),
                       customdata=others[["run", "label"]].values, hovertemplate=hover + "<extra></extra>")
    figure.add_scatter(x=front[cost], y=front[quality], mode="lines+markers+text", name="Pareto front",
                       marker=dict(size=13, color="#2f6f4f", symbol="star"), line=dict(color="#2f6f4f", dash="dot"),
                       text=[f"#{r}" for r in front["run"]], textposition="top center",
                       customdata=front[["run", "label"]].values, hovertemplate=hover + "<extra></extra>")
    figure.update_xaxes(title=f"{label(cost)} (lower is better)")
    figure.update_yaxes(title=f"{label(quality)} (higher is better)")
    return _layout(figure)


def metric_bars_figure(long: pd.DataFrame) -> go.Figure:
    """One group of bars per metric, one bar per run."""
    figure = go.Figure()
    for (run, run_label), part in long.groupby(["run", "label"], sort=False):
        figure.add_bar(x=[label(m) for m in part["metric"]], y=part["value"], name=f"#{run} {run_label}",
                       hovertemplate="%{x}: %{y:.3f}<extra>" + f"#{run}" + "</extra>")
    figure.update_layout(barmode="group")
    figure.update_yaxes(title="score", range=[0, 1.05])
    return _layout(figure, height=420)


def failure_figure(counts: dict[str, int]) -> go.Figure:
    names = [n for n in CLASS_LABELS if counts.get(n)]
    figure = go.Figure(go.Bar(
        x=[CLASS_LABELS[n] for n in names], y=[counts[n] for n in names],
        marker_color=[CLASS_COLOURS[n] for n in names], text=[counts[n] for n in names], textposition="auto",
    ))
    figure.update_yaxes(title="questions")
    return _layout(figure, height=300)


def diff_figure(diff: pd.DataFrame) -> go.Figure:
    counts = diff["change"].value_counts()
    order = [("better", "#2ca02c"), ("same", "#bdbdbd"), ("worse", "#d62728"), ("n/a", "#f0f0f0")]
    figure = go.Figure(go.Bar(
        x=[name for name, _ in order if counts.get(name)], y=[int(counts[name]) for name, _ in order if counts.get(name)],
        marker_color=[colour for name, colour in order if counts.get(name)],
    ))
    figure.update_yaxes(title="questions")
    return _layout(figure, height=260)
