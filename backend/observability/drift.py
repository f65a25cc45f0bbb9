"""Drift: a reference window of traffic against the current one, signal by signal, plus emerging topics."""
# Every signal is scored with the population stability index (PSI) so one pair of thresholds
# (`drift_warn`, `drift_alert`) reads the same everywhere: over reference-quantile bins for numbers,
# over yes/no for rates, over k-means clusters of the reference for query embeddings. PSI alone is
# biased upwards on small samples, so a level only counts when a test also rejects "same distribution"
# at `drift_p_value` (two-sample KS for numbers, chi-square for bins and clusters).
#
# Query embeddings are computed from the redacted question text with the platform embedder and cached in
# `trace_embeddings` (one per trace and model): spans stay small, the OTLP payload carries no vectors, and
# the embedding matches what retrieval saw.
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, ks_2samp

from backend.observability.conventions import REQUEST_SPAN, utc_now
from backend.observability.queries import feedback_by_trace
from backend.store.rows import Scope, scope_condition

N_BINS = 10  # reference-quantile bins for numeric signals
N_CLUSTERS = 8  # k-means clusters of reference queries for the embedding PSI
TIMELINE_BUCKETS = 12
TIMELINE_MIN_N = 20  # requests per point of a signal's chart (fewer points rather than noisy ones)
TOPIC_DISTANCE = 0.65  # average cosine distance under which weakly supported questions are one topic
# (tuned on data/traffic/shifted.txt with MiniLM: mortgages, insurance and crypto come out as topics)
TOPIC_NEIGHBOUR_SIMILARITY = 0.6  # a reference question this close to a topic's centre covered it before
MMD_SAMPLE = 300
EPS = 1e-4


# --- statistics ----------------------------------------------------------------------------------
def psi(reference_counts, current_counts) -> float:
    """Population stability index between two histograms over the same bins, less its sampling noise.

    Under no drift, PSI still averages about (bins - 1) * (1/n_ref + 1/n_cur) (it behaves like a
    chi-square over n): 0.3 for 10 bins and 60 requests a side, above the usual alert level. That
    expectation is subtracted (floor 0), so small windows and per-bucket charts do not cry wolf.
    """
    ref = np.asarray(reference_counts, dtype=float)
    cur = np.asarray(current_counts, dtype=float)
    n_ref, n_cur = max(ref.sum(), 1.0), max(cur.sum(), 1.0)
    bins = int(np.count_nonzero((ref + cur) > 0))
    ref_p = np.clip(ref / n_ref, EPS, None)
    cur_p = np.clip(cur / n_cur, EPS, None)
    raw = float(np.sum((cur_p - ref_p) * np.log(cur_p / ref_p)))
    return max(0.0, raw - max(bins - 1, 0) * (1.0 / n_ref + 1.0 / n_cur))


def chi_square_p(reference_counts, current_counts) -> float:
    """p-value of 'both histograms come from one distribution' (bins empty on both sides dropped)."""
    table = np.vstack([reference_counts, current_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0
    return float(chi2_contingency(table)[1])


def quantile_edges(reference: np.ndarray, bins: int = N_BINS) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (ties collapse, so discrete values still work)."""
    return np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)


def numeric_drift(reference: np.ndarray, current: np.ndarray) -> tuple[float, float, dict]:
    """(PSI over reference-quantile bins, KS p-value, details) for a numeric signal."""
    edges = quantile_edges(reference)
    ks = ks_2samp(reference, current)
    details = {"ks_statistic": float(ks.statistic), "reference_mean": float(np.mean(reference)),
               "current_mean": float(np.mean(current))}
    return psi(histogram(reference, edges), histogram(current, edges)), float(ks.pvalue), details


def binary_drift(reference: np.ndarray, current: np.ndarray) -> tuple[float, float, dict]:
    """(PSI over yes/no, chi-square p-value, details) for a rate."""
    ref_counts = [np.sum(~reference), np.sum(reference)]
    cur_counts = [np.sum(~current), np.sum(current)]
    details = {"reference_rate": float(np.mean(reference)), "current_rate": float(np.mean(current))}
    return psi(ref_counts, cur_counts), chi_square_p(ref_counts, cur_counts), details


def categorical_drift(reference: np.ndarray, current: np.ndarray, categories: int) -> tuple[float, float, dict]:
    ref_counts = np.bincount(reference, minlength=categories)
    cur_counts = np.bincount(current, minlength=categories)
    return psi(ref_counts, cur_counts), chi_square_p(ref_counts, cur_counts), {}


def mmd_rbf(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """Squared maximum mean discrepancy with an RBF kernel (median-distance bandwidth), on subsamples."""
    rng = np.random.default_rng(seed)
    x = x[rng.permutation(len(x))[:MMD_SAMPLE]]
    y = y[rng.permutation(len(y))[:MMD_SAMPLE]]
    both = np.vstack([x, y])
    sq = np.sum(both**2, axis=1)
    dist = np.clip(sq[:, None] + sq[None, :] - 2 * both @ both.T, 0, None)
    bandwidth = np.median(dist[dist > 0]) if np.any(dist > 0) else 1.0
    kernel = np.exp(-dist / bandwidth)
    n = len(x)
    kxx, kyy, kxy = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    return float(kxx.mean() + kyy.mean() - 2 * kxy.mean())


def cluster_model(reference: np.ndarray):
    from sklearn.cluster import KMeans

    k = int(max(2, min(N_CLUSTERS, len(reference) // 10)))
    return KMeans(n_clusters=k, n_init=4, random_state=0).fit(reference)


def embedding_drift(reference: np.ndarray, current: np.ndarray, model=None) -> tuple[float, float, dict]:
    """PSI over k-means clusters of the reference; centroid cosine distance and MMD as details."""
    model = model or cluster_model(reference)
    k = model.n_clusters
    value, p, _ = categorical_drift(model.predict(reference), model.predict(current), k)
    ref_c, cur_c = reference.mean(axis=0), current.mean(axis=0)
    cosine = float(ref_c @ cur_c / max(np.linalg.norm(ref_c) * np.linalg.norm(cur_c), 1e-12))
    return value, p, {"centroid_distance": 1.0 - cosine, "mmd": mmd_rbf(reference, current), "clusters": k}


def status_of(value: float | None, p_value: float | None, settings) -> str:
    if value is None:
        return "insufficient"
    if p_value is not None and p_value >= settings.drift_p_value:
        return "ok"  # a PSI level that a test cannot tell from sampling noise
    if value >= settings.drift_alert:
        return "alert"
    if value >= settings.drift_warn:
        return "warn"
    return "ok"


def status_reason(value: float | None, p_value: float | None, settings) -> str:
    """Why a signal's status is not what its PSI alone suggests (empty when the PSI tells the whole story)."""
    if value is None or p_value is None or p_value < settings.drift_p_value or value < settings.drift_warn:
        return ""
    return f"not significant (p={p_value:.2f})"  # a PSI past the line that sampling noise explains


# --- the report ----------------------------------------------------------------------------------
@dataclass
class DriftSignal:
    name: str
    label: str
    statistic: float | None
    p_value: float | None
    status: str  # ok | warn | alert | insufficient
    n_reference: int
    n_current: int
    details: dict = field(default_factory=dict)
    timeline: pd.DataFrame = field(default_factory=pd.DataFrame)  # bucket, statistic, n
    reason: str = ""  # e.g. "not significant (p=0.55)" when a high PSI is still "ok"


@dataclass
class EmergingTopic:
    size: int
    share_current: float  # of the current window's questions
    share_reference: float  # of the reference window's questions near this topic
    mean_top_score: float | None
    examples: list[str]


@dataclass
class DriftReport:
    reference: tuple[datetime, datetime]
    current: tuple[datetime, datetime]
    n_reference: int
    n_current: int
    signals: list[DriftSignal]
    topics: list[EmergingTopic]

    @property
    def status(self) -> str:
        """The worst status among signals that had enough data ('insufficient' when none had)."""
        order = ["ok", "warn", "alert"]
        return max((s.status for s in self.signals if s.status in order), key=order.index, default="insufficient")


TRACE_COLUMNS = "trace_id, start_time, question, answer, top_score, mean_score, no_answer, pii_hits, status"


def load_traces(store, start: datetime, end: datetime, collection: Scope = None) -> pd.DataFrame:
    sql = f"SELECT {TRACE_COLUMNS} FROM traces WHERE start_time >= ? AND start_time < ? AND name = ?"
    params: list = [start, end, REQUEST_SPAN]
    condition, scope_params = scope_condition(collection, "collection")
    if condition:
        sql += f" AND {condition}"
        params += scope_params
    df = store.query_df(sql + " ORDER BY start_time", params)
    feedback = feedback_by_trace(store, days=None, collection=collection)
    return df.merge(feedback[["trace_id", "score"]].rename(columns={"score": "feedback"}), on="trace_id", how="left")


def time_windows(settings, now: datetime | None = None) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """(reference, current): the last `drift_current_hours`, and the `drift_reference_hours` before them."""
    now = now or utc_now()
    split = now - timedelta(hours=settings.drift_current_hours)
    return (split - timedelta(hours=settings.drift_reference_hours), split), (split, now + timedelta(seconds=1))


def count_windows(store, current_n: int, reference_n: int,
                  collection: Scope = None) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """(reference, current) windows holding the last `current_n` requests and the `reference_n` before them."""
    sql = "SELECT start_time FROM traces WHERE name = ?"
    params: list = [REQUEST_SPAN]
    condition, scope_params = scope_condition(collection, "collection")
    if condition:
        sql += f" AND {condition}"
        params += scope_params
    times = [r[0] for r in store.query(sql + " ORDER BY start_time DESC LIMIT ?", params + [current_n + reference_n])]
    if len(times) <= current_n:
        now = utc_now()
        return (now, now), (times[-1] if times else now, now + timedelta(seconds=1))
    split = times[current_n - 1]
    return (times[-1], split), (split, times[0] + timedelta(microseconds=1))


def question_embeddings(store, embedder, df: pd.DataFrame) -> np.ndarray:
    """One embedding per row of `df` (rows with a question), cached in trace_embeddings by trace and model.

    A question text already embedded for another trace is reused, and each distinct text is encoded once.
    """
    if df.empty:
        return np.zeros((0, getattr(embedder, "dim", 0)), dtype=np.float32)
    model = embedder.model_id
    ids, questions = df["trace_id"].tolist(), df["question"].tolist()
    cached = {
        trace_id: np.asarray(vector, dtype=np.float32)
        for trace_id, vector in store.query(
            "SELECT trace_id, embedding FROM trace_embeddings WHERE model = ? AND list_contains(?, trace_id)", [model, ids]
        )
    }
    missing = [(t, q) for t, q in zip(ids, questions) if t not in cached]
    if missing:
        texts = list(dict.fromkeys(q for _, q in missing))
        by_text = {
            text: np.asarray(vector, dtype=np.float32)
            for text, vector in store.query(
                "SELECT t.question, any_value(e.embedding) FROM trace_embeddings e JOIN traces t ON e.trace_id = t.trace_id"
                " WHERE e.model = ? AND list_contains(?, t.question) GROUP BY t.question", [model, texts]
            )
        }
        new_texts = [text for text in texts if text not in by_text]
        if new_texts:
            by_text.update(zip(new_texts, embedder.encode(new_texts)))
        with store.transaction("telemetry") as cur:
            cur.executemany(
                "INSERT INTO trace_embeddings (trace_id, model, embedding) VALUES (?, ?, ?)",
                [(t, model, by_text[q].tolist()) for t, q in missing],
            )
        cached.update({t: by_text[q] for t, q in missing})
    return np.vstack([cached[t] for t in ids]).astype(np.float32)


def _timeline(frame: pd.DataFrame, reference_values, values_of: Callable, score: Callable) -> pd.DataFrame:
    """The statistic of consecutive slices of `frame` (equal request counts, in time order) against the
    reference sample; each point sits at its slice's last request."""
    rows = []
    frame = frame.sort_values("start_time")
    slices = min(TIMELINE_BUCKETS, len(frame) // TIMELINE_MIN_N)
    if slices and len(reference_values):
        for part in np.array_split(np.arange(len(frame)), slices):
            chunk = frame.iloc[part]
            values = values_of(chunk)
            if len(values) >= TIMELINE_MIN_N // 2:
                rows.append({"bucket": chunk["start_time"].iloc[-1], "statistic": score(reference_values, values),
                             "n": len(values)})
    return pd.DataFrame(rows, columns=["bucket", "statistic", "n"])


SignalKind = tuple[str, str, str, Callable[[pd.DataFrame], np.ndarray]]
SIGNALS: list[SignalKind] = [
    ("top_score", "Top-1 relevance score", "numeric", lambda d: d["top_score"].dropna().to_numpy(float)),
    ("mean_score", "Mean relevance score", "numeric", lambda d: d["mean_score"].dropna().to_numpy(float)),
    ("no_answer_rate", "No-answer rate", "binary", lambda d: d["no_answer"].dropna().to_numpy(bool)),
    ("answer_length", "Answer length (words)", "numeric",
     lambda d: d["answer"].dropna().map(lambda a: len(a.split())).to_numpy(float)),
    ("pii_hit_rate", "PII hit rate", "binary", lambda d: (d["pii_hits"].dropna() > 0).to_numpy(bool)),
    ("feedback", "Positive feedback rate", "binary", lambda d: (d["feedback"].dropna() >= 0.5).to_numpy(bool)),
]


def compare(reference: pd.DataFrame, current: pd.DataFrame, settings, embedder=None, store=None) -> tuple[list[DriftSignal], list[EmergingTopic]]:
    """Every signal of the current window against the reference window; topics when embeddings are at hand."""
    min_n = settings.drift_min_samples
    both = pd.concat([reference, current], ignore_index=True)
    signals = []
    for name, label, kind, values_of in SIGNALS:
        ref, cur = values_of(reference), values_of(current)
        test = numeric_drift if kind == "numeric" else binary_drift
        value = p = None
        details: dict = {}
        if len(ref) >= min_n and len(cur) >= min_n:
            value, p, details = test(ref, cur)
        timeline = _timeline(both, ref, values_of, lambda r, c, test=test: test(r, c)[0]) if len(ref) >= min_n else None
        signals.append(DriftSignal(name, label, value, p, status_of(value, p, settings), len(ref), len(cur), details,
                                   timeline if timeline is not None else pd.DataFrame(columns=["bucket", "statistic", "n"]),
                                   status_reason(value, p, settings)))
    topics: list[EmergingTopic] = []
    if embedder is not None and store is not None:
        ref_q, cur_q = reference.dropna(subset=["question"]), current.dropna(subset=["question"])
        ref_e, cur_e = question_embeddings(store, embedder, ref_q), question_embeddings(store, embedder, cur_q)
        value = p = None
        details = {}
        timeline = pd.DataFrame(columns=["bucket", "statistic", "n"])
        if len(ref_e) >= min_n and len(cur_e) >= min_n:
            model = cluster_model(ref_e)
            value, p, details = embedding_drift(ref_e, cur_e, model)
            labels = dict(zip(pd.concat([ref_q, cur_q])["trace_id"], model.predict(np.vstack([ref_e, cur_e]))))
            k = model.n_clusters
            timeline = _timeline(
                pd.concat([ref_q, cur_q], ignore_index=True), model.predict(ref_e),
                lambda part: part["trace_id"].map(labels).to_numpy(int),
                lambda r, c: categorical_drift(r, c, k)[0],
            )
        signals.insert(0, DriftSignal("query_embeddings", "Query embeddings (clusters)", value, p,
                                      status_of(value, p, settings), len(ref_e), len(cur_e), details, timeline,
                                      status_reason(value, p, settings)))
        topics = emerging_topics(ref_q, ref_e, cur_q, cur_e)
    return signals, topics


def emerging_topics(reference: pd.DataFrame, ref_e: np.ndarray, current: pd.DataFrame, cur_e: np.ndarray,
                    min_size: int = 2, limit: int = 8) -> list[EmergingTopic]:
    """Clusters of current questions the corpus barely supports (no answer, or a top score in the reference's
    lowest fifth), largest first, with how much of the reference traffic asked about the same thing."""
    if len(current) < min_size:
        return []
    ref_scores = reference["top_score"].dropna()
    low_score = ref_scores.quantile(0.2) if len(ref_scores) else None
    weak = current["no_answer"].fillna(False).astype(bool).to_numpy().copy()
    if low_score is not None:
        weak |= (current["top_score"].fillna(np.inf) <= low_score).to_numpy()
    if weak.sum() < min_size:
        return []
    from sklearn.cluster import AgglomerativeClustering

    # Cluster distinct questions (a question asked five times is one point of weight five).
    weak_rows = pd.DataFrame({"question": current["question"].to_numpy()[weak],
                              "score": current["top_score"].to_numpy(float)[weak], "row": np.flatnonzero(weak)})
    distinct = weak_rows.groupby("question", sort=False).agg(count=("row", "size"), first=("row", "first"),
                                                             score=("score", "mean")).reset_index()
    vectors = cur_e[distinct["first"].to_numpy()]
    if len(distinct) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        labels = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=TOPIC_DISTANCE
        ).fit_predict(vectors)
    topics = []
    for label in np.unique(labels):
        members = labels == label
        group = distinct[members]
        size = int(group["count"].sum())
        if size < min_size:
            continue
        centre = (vectors[members] * group["count"].to_numpy()[:, None]).sum(axis=0)
        centre /= max(np.linalg.norm(centre), 1e-12)
        near_reference = float(np.mean(ref_e @ centre >= TOPIC_NEIGHBOUR_SIMILARITY)) if len(ref_e) else 0.0
        scores = group["score"].dropna()
        examples = group.sort_values("count", ascending=False)["question"].tolist()[:4]
        topics.append(EmergingTopic(size, size / len(current), near_reference,
                                    float(scores.mean()) if len(scores) else None, examples))
    topics.sort(key=lambda t: (t.share_reference - t.share_current, -t.size))
    return topics[:limit]


def drift_report(store, settings, embedder=None, collection: Scope = None,
                 current_n: int | None = None, reference_n: int | None = None, now: datetime | None = None) -> DriftReport:
    """Drift of the current window against the reference: by time (settings) or, with `current_n`, by count."""
    if current_n:
        reference_window, current_window = count_windows(store, current_n, reference_n or current_n, collection)
    else:
        reference_window, current_window = time_windows(settings, now)
    reference = load_traces(store, *reference_window, collection)
    current = load_traces(store, *current_window, collection)
    signals, topics = compare(reference, current, settings, embedder, store)
    return DriftReport(reference_window, current_window, len(reference), len(current), signals, topics)
