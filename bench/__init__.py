"""Benchmarks that print figures (never timed assertions): retrieval latency, FAISS at 1M, ingest throughput."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"  # git-ignored: bench data dirs and result JSON
SCIFACT_DIR = Path(os.environ.get("GROUNDWORK_BENCH_SCIFACT", PROJECT_ROOT.parent / "shared" / "eval" / "scifact"))


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    values = np.asarray(samples_ms, dtype=np.float64)
    return {"p50": round(float(np.percentile(values, 50)), 3), "p95": round(float(np.percentile(values, 95)), 3)}


def timed(fn, *args, **kwargs):
    """(result, milliseconds) of one call."""
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, (time.perf_counter() - started) * 1000.0


def bench_settings(name: str):
    """Settings with the data dir under bench/results/ (or $GROUNDWORK_BENCH_DATA_DIR): never var/ or a test's."""
    from backend.settings import Settings

    base = Path(os.environ.get("GROUNDWORK_BENCH_DATA_DIR", RESULTS_DIR))
    return Settings(data_dir=base / name)


def write_results(name: str, results: dict) -> Path:
    """bench/results/<name>.json, or <name>-quick.json for a --quick run."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}{'-quick' if results.get('quick') else ''}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    return path


def machine() -> str:
    return f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at start"


def heading(title: str, results: dict) -> str:
    """First line of a bench report: what ran, on what machine, quick or not."""
    return f"== {title} bench ({results['machine']}{', quick' if results['quick'] else ''})"
