"""Shared pieces of the stakeholder pages: the pricing catalog, measured figures from traces, formulas on demand."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from backend.economics.catalog import Catalog, load_catalog, restore_backup
from backend.economics.cost_model import CostLine, compact, measured_cache_hit_rate, usd
from backend.models import GroundworkError
from backend.settings import get_settings

MEASURED_DAYS = 7


def catalog_path() -> Path:
    return Path(get_settings().pricing_catalog)


@st.cache_data(max_entries=8, show_spinner=False)
def _load_catalog(path: str, mtime_ns: int, size: int) -> Catalog:
    # keyed by the file's mtime and size: a rerun reuses the parsed catalog, a save or hand edit reloads it
    return load_catalog(path)


def catalog_or_stop() -> Catalog:
    """The validated catalog, or the error on screen (with a way back to the previous file) and the page stops."""
    path = catalog_path()
    try:
        stat = path.stat()
    except OSError:
        stat = None  # load_catalog names the missing or unreadable file
    try:
        return _load_catalog(str(path), stat.st_mtime_ns, stat.st_size) if stat else load_catalog(path)
    except GroundworkError as exc:
        st.error(str(exc))
        backup = path.with_name(path.name + ".bak")
        if backup.exists() and st.button(f"Restore the previous catalog ({backup.name})"):
            try:
                restore_backup(path)
            except GroundworkError as restore_error:
                st.error(f"The backup cannot be restored either: {restore_error}")
            else:
                st.rerun()
        else:
            st.info(f"Fix {path} (each message names the row and field) or point GROUNDWORK_PRICING_CATALOG elsewhere.")
        st.stop()


@dataclass
class Measured:
    """Figures read from the trace store; None where there are none, with the reason."""

    tokens: dict | None
    stages: pd.DataFrame | None
    note: str

    @property
    def requests(self) -> int:
        return int((self.tokens or {}).get("requests") or 0)


@st.cache_data(ttl=60, show_spinner=False)
def _read_traces(days: int, db_path: str, scope=None) -> tuple[dict | None, pd.DataFrame | None, str]:
    # db_path keys the cache, so a different data dir never gets another store's figures; `scope` (the caller's
    # collections, hashable) too, so one caller never gets figures measured over collections it may not read
    if not Path(db_path).exists():
        return None, None, "no trace store yet"
    try:
        from backend.observability import queries
    except ImportError:
        return None, None, "trace queries are not part of this build"
    try:
        from components.platform import get_platform

        store = get_platform().store
        tokens = queries.request_token_summary(store, days=days, collection=scope)
        stages = queries.stage_latency_summary(store, days=days, collection=scope)
    except Exception as exc:  # measured figures are optional: an unreadable trace store must not break planning
        return None, None, f"traces could not be read ({type(exc).__name__}: {exc})"
    stages = stages if isinstance(stages, pd.DataFrame) and not stages.empty else None
    if not tokens or int(tokens.get("requests") or 0) <= 0:
        tokens = None
    return tokens, stages, "" if tokens or stages is not None else "no traced requests yet"


def measured_figures(ctx=None, days: int = MEASURED_DAYS) -> Measured:
    """The trace figures of the collections `ctx` may read (None: every collection, the system's view)."""
    scope = None
    if ctx is not None:
        from components.obs_common import trace_scope
        from components.platform import get_platform

        scope = trace_scope(get_platform(), None, ctx)
    tokens, stages, note = _read_traces(days, str(get_settings().db_path), scope)
    return Measured(tokens, stages, note)


def provenance_caption(label: str, measured: Measured) -> None:
    if label.startswith("measured"):
        st.caption(f":material/monitoring: Figures **{label}** over the last {MEASURED_DAYS} days of traces.")
    else:
        why = f" ({measured.note})" if measured.note else ""
        st.caption(f":material/edit_note: Figures **assumed** from the inputs{why}.")
def profile_with_measured(profile, assumed_hit: float, use_measured: bool, measured: Measured):
    """The request profile and cache hit rate to price: measured from traces when chosen, else as typed.

    Shows where the figures came from. A measured hit rate is capped at 95%, the sliders' top.
    """
    cache_hit = assumed_hit
    if use_measured:
        profile = profile.with_measured(measured.tokens)
        measured_hit = measured_cache_hit_rate(measured.tokens)
        cache_hit = min(measured_hit, 0.95) if measured_hit is not None else assumed_hit
    provenance_caption(profile.provenance, measured)
    return profile, cache_hit




def show_formulas(lines: list[CostLine] | dict[str, str], title: str = "Formulas") -> None:
    """Every figure's arithmetic, one click away."""
    with st.expander(title, icon=":material/function:"):
        items = lines.items() if isinstance(lines, dict) else ((line.name, line.formula) for line in lines)
        st.markdown("\n".join(f"- **{name}**: `{formula}`" for name, formula in items))


def usd_tile(amount: float) -> str:
    """Dollars that fit a metric tile in a five-column row at 1400 px: $16.2M rather than a truncated $16,15…"""
    return f"${compact(amount)}" if abs(amount) >= 100_000 else usd(amount)


def share_of_limit(ratio: float) -> str:
    """How much of a limit is used: 85%, 340%, then 28,023× once a percentage stops being readable."""
    return f"{ratio:.0%}" if ratio < 10 else f"{ratio:,.0f}×"


def cost_table(lines: list[CostLine]) -> pd.DataFrame:
    return pd.DataFrame([{"cost": line.name, "usd": round(line.usd, 2), "formula": line.formula} for line in lines])
