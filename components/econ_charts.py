"""Plotly figures for the stakeholder pages: cost curves, cost stacks, latency budget, constraints, TCO."""
from __future__ import annotations

import math

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from backend.economics.capacity import Constraint, StageLatency
from backend.economics.cost_model import CostBreakdown
from components.econ_common import share_of_limit

CONSTRAINT_AXIS_MAX = 300  # percent of a limit: further than this a bar only says "far over"
STAGE_COLOURS = {"embed": "#4C78A8", "search": "#72B7B2", "rerank": "#EECA3B", "other": "#BAB0AC", "prefill": "#F58518", "decode": "#E45756"}


def _layout(fig: go.Figure, height: int = 380) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), legend_title_text="")
    return fig


def volume_cost_figure(curves: list[dict], current_volume: float, break_even: float | None) -> go.Figure:
    frame = pd.DataFrame(curves)
    fig = px.line(frame, x="queries_per_month", y="monthly_usd", color="option", log_x=True, log_y=True,
                  labels={"queries_per_month": "queries per month", "monthly_usd": "USD per month"},
                  title="Monthly cost against volume: API models vs self-hosted vLLM")
    # GPUs are rented whole: their cost is a staircase, drawn dashed to tell them from per-token APIs
    fig.for_each_trace(lambda t: t.update(line_shape="hv", line_dash="dash") if t.name.startswith("vLLM") else None)
    # no "your volume" line at 0 queries: a log axis has no 0, and a line at 1 sat left of every curve
    marks = ((current_volume if current_volume > 0 else None, "your volume", "grey", 1.05, "right"),
             (break_even, "break-even", "green", 0.97, "left"))
    for x, text, colour, y, side in marks:
        if x:
            fig.add_vline(x=x, line_dash="dot", line_color=colour)
            # on a log axis annotations take log10 of the value; the two labels sit at different heights
            fig.add_annotation(x=math.log10(x), y=y, yref="paper", text=text, showarrow=False, xanchor=side,
                               xshift=-4 if side == "right" else 4, font=dict(color=colour))
    return _layout(fig, 440)


def cost_stack_figure(breakdowns: dict[str, CostBreakdown], title: str) -> go.Figure:
    rows = [{"option": option, "cost": line.name, "usd": line.usd}
            for option, breakdown in breakdowns.items() for line in breakdown.lines]
    fig = px.bar(pd.DataFrame(rows), x="option", y="usd", color="cost", title=title,
                 labels={"usd": "USD per month", "option": ""})
    return _layout(fig)


def latency_budget_figure(latency: list[StageLatency], slo_ms: float) -> go.Figure:
    fig = go.Figure()
    for item in latency:
        fig.add_bar(y=["p95 budget"], x=[item.ms], name=f"{item.stage} ({item.source})", orientation="h",
                    marker_color=STAGE_COLOURS.get(item.stage), hovertemplate=f"{item.stage}: %{{x:,.0f}} ms<extra></extra>")
    fig.add_vline(x=slo_ms, line_color="black", line_dash="dash", annotation_text=f"SLO {slo_ms:,.0f} ms")
    fig.update_layout(barmode="stack", title="Latency budget per request (p95)", xaxis_title="ms",
                      legend=dict(orientation="h", y=-0.35))
    return _layout(fig, 300)


def constraint_figure(constraints: list[Constraint]) -> go.Figure:
    names = [c.name for c in constraints]
    ratios = [c.ratio * 100 for c in constraints]
    colours = ["#E45756" if r > 100 else "#F58518" if r > 85 else "#54A24B" for r in ratios]
    # bars stop at 3x the limit so the ones within it stay readable; the label keeps the real share
    fig = go.Figure(go.Bar(x=[min(r, CONSTRAINT_AXIS_MAX) for r in ratios], y=names, orientation="h",
                           marker_color=colours, text=[share_of_limit(c.ratio) for c in constraints],
                           textposition="auto"))
    fig.update_xaxes(range=[0, min(max(ratios + [100]) * 1.05, CONSTRAINT_AXIS_MAX * 1.05)])
    fig.add_vline(x=100, line_color="black", line_dash="dash", annotation_text="limit")
    fig.update_layout(title="How much of each limit the plan uses", xaxis_title="% of limit")
    return _layout(fig, 260)


def tco_figure(cumulative: list[dict]) -> go.Figure:
    fig = px.line(pd.DataFrame(cumulative), x="month", y="cumulative_usd", color="approach",
                  labels={"cumulative_usd": "cumulative USD", "month": "month"},
                  title="Cumulative cost: one-time costs at month 0, then monthly")
    return _layout(fig)
