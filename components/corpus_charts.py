"""Plotly figures for the corpus overview: contents by collection and type, chunk lengths, ingest runs, embedding map."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from backend.corpus.overview import ChunkLengths, EmbeddingMap


def _layout(fig: go.Figure, height: int = 360) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), legend_title_text="")
    return fig


def breakdown_figure(rows: list[dict], measure: str) -> go.Figure:
    frame = pd.DataFrame(rows)
    fig = px.bar(frame, x="collection", y=measure, color="type", title=f"{measure.capitalize()} by collection and type",
                 labels={measure: measure, "collection": ""})
    return _layout(fig)


def chunk_length_figure(lengths: ChunkLengths) -> go.Figure:
    frame = pd.DataFrame(lengths.bins, columns=["start", "chunks"])
    frame["range"] = [f"{s}–{s + lengths.bin_width - 1}" for s in frame["start"]]
    fig = go.Figure(go.Bar(x=frame["start"] + lengths.bin_width / 2, y=frame["chunks"], width=lengths.bin_width * 0.9,
                           customdata=frame["range"], hovertemplate="%{customdata} tokens: %{y} chunks<extra></extra>",
                           marker_color="#4C78A8", name="chunks"))
    fig.add_vline(x=lengths.target, line_dash="dash", line_color="#F58518",
                  annotation_text=f"chunk target {lengths.target}", annotation_position="top left")
    fig.add_vline(x=lengths.limit, line_color="#E45756",
                  annotation_text=f"model window: {lengths.limit} + [CLS]/[SEP] = {lengths.window}",
                  annotation_position="bottom left")
    fig.update_layout(title="Chunk length (word pieces of the embedding model)", xaxis_title="tokens per chunk",
                      yaxis_title="chunks", xaxis_range=[0, max(lengths.window + 16, lengths.longest + lengths.bin_width)],
                      showlegend=False)
    return _layout(fig, 380)


def ingest_runs_figure(runs: list[dict]) -> go.Figure:
    frame = pd.DataFrame(runs)
    frame["run"] = [f"#{r}" for r in frame["id"]]
    long = frame.melt(id_vars=["run", "started_at", "collection"], value_vars=["files_ok", "files_skipped", "files_failed"],
                      var_name="outcome", value_name="files")
    long["outcome"] = long["outcome"].map({"files_ok": "stored or unchanged", "files_skipped": "skipped",
                                           "files_failed": "failed"})
    fig = px.bar(long, x="run", y="files", color="outcome", hover_data=["started_at", "collection"],
                 color_discrete_map={"stored or unchanged": "#54A24B", "skipped": "#BAB0AC", "failed": "#E45756"},
                 title="Files per ingest run", category_orders={"run": list(reversed(frame["run"].tolist()))})
    fig.update_xaxes(type="category", title="run (oldest first)")
    fig.update_layout(bargap=0.6 if len(frame) < 5 else 0.2)
    return _layout(fig)


def embedding_figure(points: EmbeddingMap, colour_by: str) -> go.Figure:
    frame = pd.DataFrame(points.points)
    fig = px.scatter(frame, x="x", y="y", color=colour_by, hover_name="document",
                     color_discrete_sequence=px.colors.qualitative.Dark24 + px.colors.qualitative.Light24,
                     hover_data={"x": False, "y": False, "chunk_id": True, "tokens": True, "collection": True,
                                 "preview": True},
                     title=f"Chunk embeddings, PCA to 2-D ({points.explained[0]:.0%} + {points.explained[1]:.0%} "
                           "of the variance)")
    fig.update_traces(marker=dict(size=6, opacity=0.75))
    fig.update_layout(xaxis_title="", yaxis_title="", showlegend=frame[colour_by].nunique() <= 30)
    return _layout(fig, 560)
