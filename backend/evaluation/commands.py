"""`eval run` and `eval list`: experiments from the command line, with progress, JSON output and CI gates."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from backend.models import InputError


def register(commands) -> None:
    """Add `run` and `list` to the `eval` subcommands (called from backend/commands/eval.py)."""
    run = commands.add_parser(
        "run", help="run an experiment grid on a gold set and store every run",
        description="Run every grid point of an experiment file over a gold set through the hot path. Results are "
        "stored per question, so an interrupted run resumes; --fail-under exits 1 when a metric is below.",
    )
    run.add_argument("--gold", default=None, help="gold set: demo, a stored name, FILE.jsonl/.csv, beir:DIR or traffic[:N] "
                     "(default: the experiment's `gold`)")
    run.add_argument("--config", required=True, type=Path, help="experiment YAML (grid over settings)")
    run.add_argument("--collection", default=None, help="collection to query (default: the experiment's, else the gold set's)")
    run.add_argument("--split", default="test", help="qrels split for beir: gold sets (default test)")
    run.add_argument("--limit", type=int, default=None, help="only the first N questions")
    run.add_argument("--json", action="store_true", help="print one JSON object with every run's summary")
    run.add_argument("--fail-under", action="append", default=[], metavar="METRIC=VALUE",
                     help="exit 1 if any run's METRIC is below VALUE (repeatable), e.g. pass_rate=0.7")
    run.set_defaults(handler=run_command)

    listing = commands.add_parser("list", help="list stored evaluation runs", description="List stored evaluation runs.")
    listing.add_argument("--gold", default=None, help="only runs on this gold set")
    listing.add_argument("--all", action="store_true", help="include unfinished and failed runs")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=list_command, remote=list_remote)


def parse_gates(values: list[str]) -> dict[str, float]:
    gates = {}
    for value in values:
        name, sep, threshold = value.partition("=")
        try:
            gates[name.strip()] = float(threshold)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise InputError(f"--fail-under {value!r}: use METRIC=VALUE, e.g. pass_rate=0.7")
    return gates


def check_gates(summaries: list[dict], gates: dict[str, float]) -> list[str]:
    """Messages for every run whose metric is below its gate (a metric a run lacks fails too: CI must not pass blind)."""
    failures = []
    for run in summaries:
        metrics = run["summary"].get("metrics", {})
        for name, threshold in gates.items():
            value = metrics.get(name)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                failures.append(f"run {run['run']} ({run['label']}): {name} not measured (gate {threshold})")
            elif value < threshold:
                failures.append(f"run {run['run']} ({run['label']}): {name} = {value:.4f} < {threshold}")
    return failures


def _progress_printer(stream):
    last = {}

    def show(progress) -> None:
        key = (progress.run_number, progress.phase)
        step = max(1, progress.total // 10)
        if progress.phase == "finished":
            return  # the last question's line already said n/n
        if progress.phase != "question" or progress.done in (0, progress.total) or progress.done % step == 0:
            if last.get(key) != progress.done:
                last[key] = progress.done
                print(progress.describe(), file=stream, flush=True)

    return show


def _headline(metrics: dict) -> str:
    shown = ["pass_rate", "recall@k", "mrr@10", "ndcg@10", "semantic_similarity", "rouge_l", "latency_p50_ms"]
    parts = []
    for name in shown:
        value = metrics.get(name)
        if value is not None:
            parts.append(f"{name} {value:.1f}" if name.endswith("_ms") else f"{name} {value:.3f}")
    return ", ".join(parts)


def run_command(args) -> int:
    from backend.evaluation.experiment import resolve_gold, run_experiment
    from backend.evaluation.grid import expand_grid, load_experiment
    from backend.platform import Platform
    from backend.settings import get_settings

    gates = parse_gates(args.fail_under)
    experiment = load_experiment(args.config)  # validated before the store is opened
    if args.limit is not None:
        if args.limit < 1:
            raise InputError(f"--limit: must be at least 1, got {args.limit}")
        experiment.limit = args.limit
    if args.collection:
        experiment.collection = args.collection
    settings = get_settings()
    expand_grid(experiment, settings)
    spec = args.gold or experiment.gold
    if not spec:
        raise InputError(f"{args.config.name}: no gold set: pass --gold or set `gold:` in the file")
    with Platform(settings) as platform:
        gold = resolve_gold(platform, spec, experiment.collection or None, args.split)
        experiment.collection = experiment.collection or gold.collection
        outcomes = run_experiment(platform, experiment, gold, progress=_progress_printer(sys.stderr))
    summaries: list[dict] = [{"run": o.run_id, "label": o.label, "resumed_from": o.resumed_from, "summary": o.summary}
                             for o in outcomes]
    failures = check_gates(summaries, gates)
    asked = len(gold.items[: experiment.limit] if experiment.limit else gold.items)
    if args.json:
        print(json.dumps({"experiment": experiment.name, "gold_set": gold.name, "questions": asked,
                          "runs": summaries, "gates_failed": failures}, default=str))
    else:
        print(f"experiment {experiment.name}: gold set {gold.name!r}, {asked} of {len(gold.items)} questions, {len(outcomes)} run(s)")
        for entry in summaries:
            resumed = f" (resumed after {entry['resumed_from']})" if entry["resumed_from"] else ""
            print(f"  run {entry['run']:>4}  {entry['label']:<40} {_headline(entry['summary'].get('metrics', {}))}{resumed}")
        unavailable = outcomes[0].summary.get("unavailable", {}) if outcomes else {}
        for reason in sorted(set(unavailable.values())):
            print(f"  {', '.join(n for n, why in unavailable.items() if why == reason)}: {reason}")
    for message in failures:
        print(f"below gate: {message}", file=sys.stderr)
    return 1 if failures else 0


def list_command(args) -> int:
    from backend.evaluation import access
    from backend.platform import Platform
    from backend.settings import get_settings

    with Platform(get_settings()) as platform:  # the CLI on the local file: the system context, every tenant
        rows = access.list_runs(platform, status=None if args.all else "finished", gold_set=args.gold)
    out = [{
        "run": r["id"], "label": r["label"], "experiment": r.get("experiment"), "gold_set": r["gold_set"],
        "collection": r["collection"], "status": r["status"], "questions": r["n_questions"], "done": r["n_done"],
        "code_version": r["code_version"], "index_version": r["index_version"], "config": r["config"],
        "metrics": (r.get("summary") or {}).get("metrics", {}), "started_at": r["started_at"], "finished_at": r["finished_at"],
        "error": r.get("error"),
    } for r in rows]
    return _print_runs(out, args.json)


REMOTE_PAGE = 500  # the API's largest page of runs


def list_remote(args, client) -> int:
    """The same listing from GET /api/v1/evaluation/runs, page by page: the runs of the collections the key may read."""
    from backend.client import parse_time

    query: dict = {"limit": REMOTE_PAGE, "offset": 0}
    if not args.all:
        query["status"] = "finished"
    if args.gold:
        query["gold_set"] = args.gold
    out: list[dict] = []
    while True:
        page = client.get("/api/v1/evaluation/runs", query)
        out += [{
            "run": r["id"], "label": r["label"], "experiment": r["experiment"], "gold_set": r["gold_set"],
            "collection": r["queried_collection"], "status": r["status"], "questions": r["questions"], "done": r["done"],
            "code_version": r["code_version"], "index_version": r["index_version"], "config": r["config"],
            "metrics": r["metrics"], "started_at": parse_time(r["started_at"]),
            "finished_at": parse_time(r["finished_at"]), "error": r["error"],
        } for r in page["runs"]]
        query["offset"] += REMOTE_PAGE
        if not page["runs"] or query["offset"] >= page["total"]:
            return _print_runs(out, args.json)


def _print_runs(out: list[dict], as_json: bool) -> int:
    if as_json:
        print(json.dumps(out, default=str))
        return 0
    if not out:
        print("no evaluation runs stored yet: python -m backend eval run --gold demo --config data/eval/demo-grid.yaml")
        return 0
    for r in out:
        state = r["status"] if r["status"] != "running" else f"unfinished {r['done']}/{r['questions']}"
        print(f"run {r['run']:>4}  {r['gold_set']:<14} {r['label']:<40} {state:<16} {_headline(r['metrics'])}")
    return 0
