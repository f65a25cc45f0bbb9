"""Eval runs in DuckDB: create or resume a run, write each question's result as it is scored, finish atomically."""
from __future__ import annotations

import json
import subprocess
from functools import lru_cache

from backend.settings import PROJECT_ROOT
from backend.store.rows import Scope, scope_condition


@lru_cache(maxsize=1)
def code_version() -> str:
    """The git commit of the code (with '+dirty' when the tree has changes), or 'unknown' outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                                text=True, timeout=5).stdout.strip()
        if not commit:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "backend"],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5).stdout.strip()
        return f"{commit}+dirty" if dirty else commit
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def create_experiment(store, name: str, gold_set: str, config: dict, collection: str) -> int:
    with store.transaction("evaluation") as cur:
        return cur.execute(
            "INSERT INTO eval_experiments (name, gold_set, config, collection) VALUES (?, ?, ?, ?) RETURNING id",
            [name, gold_set, json.dumps(config, default=str), collection],
        ).fetchone()[0]


def experiment_row(store, experiment_id: int) -> dict | None:
    """The stored experiment (name, gold set, collection, config as parsed), or None; callers check its scope."""
    rows = store.query_dicts("SELECT * FROM eval_experiments WHERE id = ?", [experiment_id])
    return _decode(rows[0]) if rows else None


def find_resumable(store, gold_set: str, gold_hash: str, config_hash: str, collection: str, version: str,
                   index_version) -> dict | None:
    """An unfinished run of exactly this configuration, gold snapshot, code and index: its results still hold."""
    rows = store.query_dicts(
        "SELECT * FROM eval_runs WHERE status = 'running' AND gold_set = ? AND gold_hash = ? AND config_hash = ? "
        "AND base_collection = ? AND code_version = ? AND index_version IS NOT DISTINCT FROM ? ORDER BY id DESC LIMIT 1",
        [gold_set, gold_hash, config_hash, collection, version, index_version],
    )
    return rows[0] if rows else None


def create_run(store, *, experiment_id: int | None, label: str, gold_set: str, gold_hash: str, base_collection: str,
               collection: str, config: dict, config_hash: str, index_version, n_questions: int) -> int:
    with store.transaction("evaluation") as cur:
        return cur.execute(
            "INSERT INTO eval_runs (experiment_id, label, gold_set, gold_hash, base_collection, collection, config, "
            "config_hash, code_version, index_version, n_questions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [experiment_id, label, gold_set, gold_hash, base_collection, collection, json.dumps(config), config_hash,
             code_version(), index_version, n_questions],
        ).fetchone()[0]


def done_items(store, run_id: int) -> set[str]:
    return {row[0] for row in store.query("SELECT item_id FROM eval_results WHERE run_id = ?", [run_id])}


def save_result(store, run_id: int, result: dict) -> None:
    """One question's result, committed on its own so an interrupted run resumes after it."""
    with store.transaction("evaluation") as cur:
        cur.execute("DELETE FROM eval_results WHERE run_id = ? AND item_id = ?", [run_id, result["item_id"]])
        cur.execute(
            "INSERT INTO eval_results (run_id, item_id, ordinal, question, answer, reference_answer, retrieved, gold_rank, "
            "metrics, latency_ms, tokens_in, tokens_out, cost_usd, failure_class, failure_reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, result["item_id"], result["ordinal"], result["question"], result.get("answer"),
             result.get("reference_answer"), json.dumps(result.get("retrieved", [])), result.get("gold_rank"),
             json.dumps(result["metrics"]), result.get("latency_ms"), result.get("tokens_in"), result.get("tokens_out"),
             result.get("cost_usd"), result.get("failure_class"), result.get("failure_reason")],
        )


def results(store, run_id: int, with_retrieved: bool = True) -> list[dict]:
    columns = "*" if with_retrieved else "* EXCLUDE (retrieved)"
    rows = store.query_dicts(f"SELECT {columns} FROM eval_results WHERE run_id = ? ORDER BY ordinal", [run_id])
    for row in rows:
        row["metrics"] = json.loads(row["metrics"]) if row.get("metrics") else {}
        if with_retrieved:
            row["retrieved"] = json.loads(row["retrieved"]) if row.get("retrieved") else []
    return rows


def finish_run(store, run_id: int, summary: dict) -> None:
    """Mark finished only if every question has a result: a run is never shown finished while partial."""
    with store.transaction("evaluation") as cur:
        expected, stored = cur.execute(
            "SELECT n_questions, (SELECT count(*) FROM eval_results WHERE run_id = ?) FROM eval_runs WHERE id = ?",
            [run_id, run_id],
        ).fetchone()
        if stored != expected:
            raise RuntimeError(f"run {run_id} has {stored} of {expected} results; not finishing it")
        cur.execute(
            "UPDATE eval_runs SET status = 'finished', summary = ?, finished_at = current_timestamp, error = NULL WHERE id = ?",
            [json.dumps(summary), run_id],
        )


def fail_run(store, run_id: int, error: str) -> None:
    store.execute("UPDATE eval_runs SET status = 'failed', error = ? WHERE id = ?", [error[:2000], run_id], lane="evaluation")


def _decode(row: dict) -> dict:
    for key in ("config", "summary"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


def _run_filters(scope: Scope, status: str | None, gold_set: str | None,
                 experiment_id: int | None) -> tuple[str, list]:
    """The WHERE clause of a run listing: always the collection scope (an empty scope matches nothing)."""
    condition, params = scope_condition(scope, "r.base_collection")
    where = [condition or "TRUE"]
    for clause, value in (("r.status = ?", status), ("r.gold_set = ?", gold_set), ("r.experiment_id = ?", experiment_id)):
        if value not in (None, ""):
            where.append(clause)
            params.append(value)
    return " WHERE " + " AND ".join(where), params


def list_runs(store, scope: Scope, status: str | None = None, gold_set: str | None = None,
              experiment_id: int | None = None, limit: int | None = None, offset: int = 0) -> list[dict]:
    """Runs of the collections in `scope` (by the collection the experiment named), newest first, each with its
    progress (results stored so far). `scope` has no default: every caller says whose runs it reads."""
    where, params = _run_filters(scope, status, gold_set, experiment_id)
    page = ""
    if limit is not None:
        page = " LIMIT ? OFFSET ?"
        params += [limit, offset]
    sql = (
        "SELECT r.*, e.name AS experiment, (SELECT count(*) FROM eval_results x WHERE x.run_id = r.id) AS n_done "
        "FROM eval_runs r LEFT JOIN eval_experiments e ON e.id = r.experiment_id" + where + " ORDER BY r.id DESC" + page
    )
    return [_decode(row) for row in store.query_dicts(sql, params)]


def count_runs(store, scope: Scope, status: str | None = None, gold_set: str | None = None) -> int:
    where, params = _run_filters(scope, status, gold_set, None)
    return int(store.scalar("SELECT count(*) FROM eval_runs r" + where, params))


def run_row(store, run_id: int) -> dict | None:
    """One run with its experiment's name and progress, or None; callers check its scope (evaluation.access)."""
    rows = store.query_dicts(
        "SELECT r.*, e.name AS experiment, (SELECT count(*) FROM eval_results x WHERE x.run_id = r.id) AS n_done "
        "FROM eval_runs r LEFT JOIN eval_experiments e ON e.id = r.experiment_id WHERE r.id = ?", [run_id])
    return _decode(rows[0]) if rows else None
