"""Drift: the current window of traffic against a reference window, signal by signal, and emerging topics."""
import pandas as pd
import streamlit as st

from backend.observability import drift
from components.navigation import page_context
from components.obs_charts import drift_timeline_figure
from components.obs_common import STATUS_COLOURS, STATUS_ICONS, collection_select, operator_page, pct

identity, ctx = page_context(__file__)

platform = operator_page(
    "Drift",
    "Is today's traffic still the traffic the corpus and the settings were tuned for? Each signal compares "
    "the current window with a reference window by PSI; a level counts only when a two-sample test agrees.",
    ctx,
)
store = platform.store
settings = platform.settings

with st.container(border=True):
    c1, c2, c3, c4 = st.columns([1.3, 1.2, 1, 1])
    collection = collection_select(c1, platform, "drift_collection", ctx)
    by = c2.radio("Windows", ["by time", "by request count"], horizontal=True, key="drift_by",
                  help="By count compares the last N requests with the M before them (handy for replayed traffic).")
    if by == "by time":
        current_hours = c3.number_input("Current: last hours", 1.0, 24.0 * 90, float(settings.drift_current_hours),
                                        key="drift_current_hours")
        reference_hours = c4.number_input("Reference: hours before", 1.0, 24.0 * 365,
                                          float(settings.drift_reference_hours), key="drift_reference_hours")
        current_n = reference_n = None
    else:
        current_n = int(c3.number_input("Current: last N requests", 10, 100_000, 200, step=50, key="drift_current_n"))
        reference_n = int(c4.number_input("Reference: M before", 10, 100_000, 200, step=50, key="drift_reference_n"))
        current_hours, reference_hours = settings.drift_current_hours, settings.drift_reference_hours


@st.cache_data(ttl=60, show_spinner=False)
def _report(collection, current_n, reference_n, current_hours, reference_hours, data_dir):
    window_settings = settings.model_copy(update={"drift_current_hours": current_hours,
                                                  "drift_reference_hours": reference_hours})
    return drift.drift_report(store, window_settings, platform.embedder, collection=collection,
                              current_n=current_n, reference_n=reference_n)


with st.spinner("Embedding questions and comparing windows…"):
    report = _report(collection, current_n, reference_n, current_hours,
                     reference_hours, str(settings.data_dir))

fmt = "%Y-%m-%d %H:%M"
st.markdown(
    f"Overall: :{STATUS_COLOURS[report.status]}[{STATUS_ICONS[report.status]} **{report.status}**] · "
    f"reference {report.reference[0]:{fmt}} → {report.reference[1]:{fmt}} ({report.n_reference:,} requests) · "
    f"current {report.current[0]:{fmt}} → {report.current[1]:{fmt}} ({report.n_current:,} requests) · UTC"
)
if current_n and report.n_reference == 0:
    st.warning(f"Only {report.n_current:,} requests are recorded, all of them in the current window (last "
               f"{current_n:,}): the reference window is empty. Lower **Current: last N requests** below "
               f"{report.n_current:,} so that the requests before them form the reference.", icon=":material/tune:")
elif report.status == "insufficient":
    st.info(
        f"Each window needs at least {settings.drift_min_samples} requests before a signal gets a status. "
        "Replay traffic to fill them, e.g. `python -m backend simulate --questions data/traffic/baseline.txt "
        "--rate 2 --duration 120`, then `--questions data/traffic/shifted.txt` to see a drift.",
        icon=":material/hourglass_empty:",
    )


def _details(signal) -> str:
    parts = []
    for key, value in signal.details.items():
        if isinstance(value, float):
            parts.append(f"{key.replace('_', ' ')} {pct(value) if key.endswith('rate') else f'{value:.3f}'}")
        else:
            parts.append(f"{key.replace('_', ' ')} {value}")
    return " · ".join(parts)


summary = pd.DataFrame([{
    "signal": s.label, "status": s.status + (f" ({s.reason})" if s.reason else ""), "PSI": s.statistic, "p-value": s.p_value,
    "reference n": s.n_reference, "current n": s.n_current, "details": _details(s),
} for s in report.signals])
with st.expander("All signals as a table", icon=":material/table:"):
    st.dataframe(summary, hide_index=True, key="drift_table")

for signal in report.signals:
    with st.container(border=True):
        head, chart = st.columns([1, 2])
        with head:
            st.markdown(f"**{signal.label}**")
            st.markdown(f":{STATUS_COLOURS[signal.status]}[{STATUS_ICONS[signal.status]} {signal.status}]"
                        + (f" · {signal.reason}" if signal.reason else ""))
            if signal.statistic is None:
                st.caption(f"{signal.n_reference} reference / {signal.n_current} current samples: "
                           f"need {settings.drift_min_samples} each.")
            else:
                st.caption(f"PSI **{signal.statistic:.3f}** (warn {settings.drift_warn}, alert {settings.drift_alert}) · "
                           f"p = {signal.p_value:.2g} · n = {signal.n_reference} / {signal.n_current}")
                if signal.details:
                    st.caption(_details(signal))
        with chart:
            if signal.timeline.empty:
                st.caption("Not enough requests per time bucket for a chart yet.")
            else:
                st.plotly_chart(drift_timeline_figure(signal.timeline, settings.drift_warn, settings.drift_alert),
                                key=f"drift_chart_{signal.name}")

st.subheader("Emerging topics")
st.caption("Clusters of current questions the corpus barely supports (no answer, or a relevance in the reference's "
           "lowest fifth), with how often the reference window asked about the same thing.")
if not report.topics:
    st.caption("None: every cluster of weakly supported questions is smaller than two, or there is none.")
for number, topic in enumerate(report.topics, start=1):
    score = f"{topic.mean_top_score:.3f}" if topic.mean_top_score is not None else "–"
    reference = f"reference {pct(topic.share_reference)}" if report.n_reference else "no reference window"
    with st.expander(f"Topic {number}: {topic.size} questions · {pct(topic.share_current)} of current traffic "
                     f"({reference}) · mean relevance {score}", expanded=number == 1):
        for example in topic.examples:
            st.markdown(f"- {example}")
