"""`python -m backend ...` while the real server runs: found through server.json, the same results as on the file."""
from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from backend.cli import main
from backend.evaluation.experiment import resolve_gold, run_experiment
from backend.evaluation.grid import parse_experiment
from backend.gateway import discovery
from backend.gateway.identity import SCOPES, Unauthorized
from backend.platform import Platform
from backend.settings import Settings, get_settings
from tests.gateway.helpers import PASSWORD
from tests.live_server import serve
from tests.store.corpus_fixtures import document_text, write_corpus

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
FEES = """# Fees and Charges Policy

## Transfers

Domestic transfers are free for personal customers. From 1 April 2025 an international transfer sent over SWIFT
costs £3.50 per transfer, whatever the amount or destination.
"""
QUESTION = "How much does an international transfer cost?"


@dataclass
class World:
    data_dir: Path
    docs: Path
    read_key: str  # an operator's key with the read scope only


@dataclass
class Run:
    code: int
    out: str
    err: str


def cli(data_dir: Path, *argv: str, env: dict[str, str] | None = None) -> Run:
    """backend.cli.main in this process, on `data_dir`, with stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GROUNDWORK_DATA_DIR", str(data_dir))
        for name in ("GROUNDWORK_SERVER", "GROUNDWORK_API_KEY"):
            patch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = main(list(argv))
        finally:
            get_settings.cache_clear()
    return Run(code, out.getvalue(), err.getvalue())


def cli_json(data_dir: Path, *argv: str, env: dict[str, str] | None = None) -> tuple[object, str]:
    run = cli(data_dir, *argv, "--json", env=env)
    assert run.code == 0, run.err
    return json.loads(run.out), run.err


def without_timing(text: str) -> list[str]:
    """A table's lines without the closing timing line (the only part that differs run to run)."""
    return [line for line in text.splitlines() if " ms" not in line]


def build(root: Path) -> World:
    docs = root / "docs"
    write_corpus(docs, 4)
    (docs / "fees.md").write_text(FEES)
    data_dir = root / "data"
    with Platform(Settings(data_dir=data_dir)) as platform:
        gateway = platform.gateway
        gateway.bootstrap(demo=False)
        platform.corpus.ingest([docs], collection="demo")
        platform.corpus.create_collection("uploads")
        gateway.create_user("reader", platform.settings.default_tenant, "operator", PASSWORD)
        read_key, _ = gateway.create_key("reader", ["read"])
        gold_file = root / "gold.jsonl"  # one finished evaluation run, for `eval list`
        gold_file.write_text(json.dumps({"id": "q1", "question": QUESTION, "answer": "£3.50 per transfer.",
                                         "document": "fees.md", "evidence": "costs £3.50 per transfer",
                                         "answerable": True}) + "\n")
        experiment = parse_experiment({"name": "remote-list", "grid": {"retrieval_mode": ["bm25"], "top_k": [2]}},
                                      "remote-list.yaml")
        run_experiment(platform, experiment, resolve_gold(platform, str(gold_file), "demo"))
    return World(data_dir, docs, read_key)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    built = build(tmp_path_factory.mktemp("cli-remote"))
    shutil.copytree(built.data_dir, built.data_dir.parent / "pristine")  # before any command or server touched it
    return built


@pytest.fixture(scope="module")
def local(world) -> dict[str, object]:
    """Each command's output on the file, before any server runs."""
    results: dict[str, object] = {}
    results["search"], _ = cli_json(world.data_dir, "search", "refund chargeback", "--collection", "demo", "--k", "4")
    results["search_table"] = cli(world.data_dir, "search", "refund chargeback", "--collection", "demo", "--k", "4").out
    results["ask"], _ = cli_json(world.data_dir, "ask", QUESTION, "--collection", "demo")
    cli(world.data_dir, "stats")  # the first stats opens every index, which records an empty collection's settings
    results["stats"], _ = cli_json(world.data_dir, "stats")
    results["stats_table"] = cli(world.data_dir, "stats").out
    results["eval_list"], _ = cli_json(world.data_dir, "eval", "list", "--all")
    results["eval_table"] = cli(world.data_dir, "eval", "list").out
    spare = world.data_dir.parent / "spare"  # the same data, for local runs while the server holds the file
    shutil.copytree(world.data_dir, spare)
    results["spare"] = spare
    return results


@pytest.fixture(scope="module")
def server(world, local) -> str:
    with serve(world.data_dir) as url:
        yield url


# --- through discovery ----------------------------------------------------------------------------
def test_search_through_the_running_server_matches_the_file(world, local, server):
    remote, err = cli_json(world.data_dir, "search", "refund chargeback", "--collection", "demo", "--k", "4")
    assert err == f"using the running server at {server}\n"
    expected = local["search"]
    assert [h["chunk_id"] for h in remote["hits"]] == [h["chunk_id"] for h in expected["hits"]]
    assert remote["hits"] == expected["hits"]
    assert {k: remote[k] for k in ("query", "collection", "mode", "k")} == \
        {k: expected[k] for k in ("query", "collection", "mode", "k")}
    table = cli(world.data_dir, "search", "refund chargeback", "--collection", "demo", "--k", "4")
    assert table.code == 0 and without_timing(table.out) == without_timing(local["search_table"])


def test_ask_through_the_running_server_matches_the_file(world, local, server):
    remote, err = cli_json(world.data_dir, "ask", QUESTION, "--collection", "demo")
    assert err == f"using the running server at {server}\n"
    expected = local["ask"]
    assert set(remote) == set(expected)
    assert remote["answer"] == expected["answer"] and "£3.50" in remote["answer"]
    assert [c["chunk_id"] for c in remote["citations"]] == [c["chunk_id"] for c in expected["citations"]]
    assert remote["session"]  # the server remembers the conversation: a follow-up continues it
    follow_up, _ = cli_json(world.data_dir, "ask", "and a domestic one?", "--collection", "demo",
                            "--session", remote["session"])
    assert follow_up["session"] == remote["session"]

    human = cli(world.data_dir, "ask", QUESTION, "--collection", "demo")
    assert human.code == 0, human.err
    assert human.out.startswith(expected["answer"] + "\n")
    assert f"[1] {expected['citations'][0]['title']}" in human.out and "session " in human.out


def test_ask_batch_through_the_server(world, server, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text(json.dumps({"id": "q1", "question": QUESTION}) + "\n"
                     + json.dumps({"id": "q2", "question": "and a domestic one?"}) + "\n")
    run = cli(world.data_dir, "ask", "--batch", str(batch), "--collection", "nope")
    assert run.code == 1
    records = [json.loads(line) for line in run.out.splitlines()]
    assert [r["id"] for r in records] == ["q1", "q2"]
    assert all(r["error"].startswith("404: ") and "nope" in r["error"] for r in records)
    assert "2 of 2 questions failed" in run.err


def test_a_subprocess_finds_the_server_too(world, local, server):
    environment = {k: v for k, v in os.environ.items() if k not in ("GROUNDWORK_SERVER", "GROUNDWORK_API_KEY")}
    environment.update(GROUNDWORK_DATA_DIR=str(world.data_dir), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "backend", "search", "refund chargeback", "--collection", "demo",
                           "--k", "4", "--json"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"using the running server at {server}\n"
    assert [h["chunk_id"] for h in json.loads(proc.stdout)["hits"]] == [h["chunk_id"] for h in local["search"]["hits"]]


def test_the_servers_errors_come_back_with_status_and_message(world, server):
    run = cli(world.data_dir, "search", "refund", "--collection", "no-such-collection")
    assert run.code == 2 and run.err.splitlines()[-1].startswith("error: 404: ")
    run = cli(world.data_dir, "search", "refund", "--k", "51")
    assert run.code == 2 and run.err.splitlines()[-1].startswith("error: 422: k: ")
    run = cli(world.data_dir, "ask", QUESTION, "--no-cache")
    assert run.code == 2 and "error: --no-cache: the server at" in run.err


def test_eval_list_through_the_running_server_matches_the_file(world, local, server):
    remote, err = cli_json(world.data_dir, "eval", "list", "--all")
    assert err == f"using the running server at {server}\n"
    assert len(remote) == 1 and remote[0]["status"] == "finished"
    assert remote == local["eval_list"]
    table = cli(world.data_dir, "eval", "list")
    assert table.code == 0 and table.out == local["eval_table"] and "remote-list" not in table.err
    none, _ = cli_json(world.data_dir, "eval", "list", "--gold", "no-such-gold-set")
    assert none == []


def test_commands_without_an_api_say_why_while_the_server_runs(world, server):
    run = cli(world.data_dir, "eval", "run", "--config", "data/eval/demo-grid.yaml")
    assert run.code == 2
    assert run.err.startswith(f"error: `eval run` cannot run through the running server at {server}: evaluation ")
    assert "stop it" in run.err and "in use" not in run.err
    run = cli(world.data_dir, "traces", "prune")
    assert run.code == 2 and "`traces prune` cannot run through the running server" in run.err
    run = cli(world.data_dir, "decide", "cost", "--monthly-queries", "1M")  # needs no store: runs as ever
    assert run.code == 0 and run.out.startswith("API (") and run.err == ""


def test_stats_through_the_running_server_match_the_file(world, local, server):
    remote, err = cli_json(world.data_dir, "stats")
    assert err == f"using the running server at {server}\n"
    expected = {k: v for k, v in local["stats"].items() if k != "last_ingest_run"}  # the API lists no runs
    assert remote == expected
    table = cli(world.data_dir, "stats")
    assert table.code == 0 and table.out == local["stats_table"]


def ingest_files(root: Path) -> Path:
    folder = root / "incoming"
    write_corpus(folder, 2, start=10)
    (folder / "photo.png").write_bytes(b"\x89PNG....")
    (folder / "empty.md").write_bytes(b"")
    return folder


def outcomes(report: dict) -> list[tuple[str, str, int, str]]:
    return [(f["path"], f["outcome"], f["chunks"], f["message"]) for f in report["files"]]


def test_ingest_through_the_running_server_reports_as_a_local_ingest(world, local, server, tmp_path):
    folder = ingest_files(tmp_path)
    missing = tmp_path / "nope.md"
    remote = cli(world.data_dir, "ingest", str(folder), str(missing), "--collection", "uploads", "--json")
    assert remote.code == 2 and remote.err.startswith(f"using the running server at {server}\n")
    assert f"error: no such file or directory: {missing}" in remote.err
    on_file = cli(local["spare"], "ingest", str(folder), str(missing), "--collection", "uploads", "--json")
    assert on_file.code == 2
    report, expected = json.loads(remote.out), json.loads(on_file.out)
    assert outcomes(report) == outcomes(expected)
    assert [f["outcome"] for f in report["files"]] == ["ingested", "ingested", "failed", "failed", "failed"]
    assert {k: report[k] for k in ("collection", "status", "counts", "chunks_added")} == \
        {k: expected[k] for k in ("collection", "status", "counts", "chunks_added")}
    assert len(report["run_ids"]) == 1 and report["run_id"] == report["run_ids"][0]
    progress = [line for line in remote.err.splitlines() if line.startswith("[")]
    assert len(progress) == 5 and progress[0].startswith("[1/5] ")

    again = cli(world.data_dir, "ingest", str(folder / "doc-010.md"), "--collection", "uploads")
    assert again.code == 0, again.err
    assert "[1/1] unchanged" in again.out and "1 files into 'uploads': 1 unchanged" in again.out
    hits, _ = cli_json(world.data_dir, "search", "term10x1 term10x2", "--collection", "uploads", "--k", "1")
    assert hits["hits"][0]["title"] == document_text(10)[0]


def test_ingest_in_batches_and_of_two_files_with_one_name(world, server, tmp_path, monkeypatch):
    from backend.commands import ingest

    monkeypatch.setattr(ingest, "MAX_BATCH_FILES", 2)
    first, second = write_corpus(tmp_path / "a", 3, start=20), write_corpus(tmp_path / "b", 1, start=20)
    report, _ = cli_json(world.data_dir, "ingest", str(tmp_path / "a"), str(second[0]), "--collection", "uploads")
    assert [f["outcome"] for f in report["files"]] == ["ingested", "ingested", "ingested", "failed"]
    assert len(report["run_ids"]) == 2  # 3 files to send, 2 a request
    assert report["files"][3]["message"].startswith(
        f"doc-020.md: the server keeps uploads by file name, and {first[0]} has this name too; rename one")
    run = cli(world.data_dir, "ingest", str(tmp_path / "a"), "--collection", "uploads")
    assert run.code == 0, run.err
    assert run.out.strip().splitlines()[-1].startswith("3 files into 'uploads': 3 unchanged;") and "(runs " in run.out


def test_ingest_into_a_new_collection_creates_it_on_the_server_as_a_local_ingest_does(world, server, tmp_path):
    doc = write_corpus(tmp_path / "docs", 1, start=30)[0]
    report, err = cli_json(world.data_dir, "ingest", str(doc), "--collection", "brand-new")
    assert err.startswith(f"using the running server at {server}")
    assert [f["outcome"] for f in report["files"]] == ["ingested"]
    stats, _ = cli_json(world.data_dir, "stats")
    assert {c["name"]: c["documents"] for c in stats["collections"]}["brand-new"] == 1


def wait_for_trace(data_dir: Path, trace_id: str) -> list[dict]:
    """`traces list --json` once it holds the trace with all its spans (the server exports them in the background)."""
    deadline = time.monotonic() + 60
    while True:
        traces, err = cli_json(data_dir, "traces", "list", "--limit", "5")
        assert err.startswith("using the running server at ")
        found = [t for t in traces if t["trace_id"] == trace_id]
        if found and len(found[0]["spans"]) > 1 or time.monotonic() > deadline:
            return traces
        time.sleep(0.5)


def test_traces_through_the_running_server(world, server):
    asked, _ = cli_json(world.data_dir, "ask", "How long do refunds take?", "--collection", "demo")
    traces = wait_for_trace(world.data_dir, asked["trace_id"])
    trace = next(t for t in traces if t["trace_id"] == asked["trace_id"])
    assert trace["question"] == "How long do refunds take?" and trace["collection"] == "demo" and trace["spans"]
    assert {"trace_id", "name", "start_time", "duration_ms", "status", "collection", "question", "spans"} == set(trace)
    table = cli(world.data_dir, "traces", "list", "--limit", "5")
    assert table.code == 0 and asked["trace_id"] in table.out and "span" in table.out


# --- a given server and key ----------------------------------------------------------------------
def test_a_given_server_without_a_key_names_the_variable(world, server):
    run = cli(world.data_dir, "--server", server, "search", "refund")
    assert run.code == 2
    assert run.err == (f"error: GROUNDWORK_API_KEY: set it to an API key of the server at {server} (given by "
                       "--server); an admin creates keys on the Admin page\n")


def test_a_key_lacking_a_scope_gets_the_servers_403(world, server, tmp_path):
    env = {"GROUNDWORK_API_KEY": world.read_key}
    doc = write_corpus(tmp_path / "docs", 1, start=40)[0]
    run = cli(world.data_dir, "--server", server, "ingest", str(doc), "--collection", "uploads", env=env)
    assert run.code == 2
    assert run.err == f"using the server at {server}\nerror: 403: this API key lacks the scope 'ingest'\n"
    run = cli(world.data_dir, "--server", server, "ask", QUESTION, "--collection", "demo", env=env)
    assert run.code == 2
    assert run.err == f"using the server at {server}\nerror: 403: this API key lacks the scope 'ask'\n"
    hits, err = cli_json(world.data_dir, "--server", server, "search", "refund", "--collection", "demo", env=env)
    assert err == f"using the server at {server}\n" and hits["hits"]
    env = {"GROUNDWORK_SERVER": server, "GROUNDWORK_API_KEY": "gw_00000000_" + "a" * 43}
    run = cli(world.data_dir, "search", "refund", env=env)
    assert run.code == 2 and run.err.endswith("error: 401: invalid API key\n")


# --- server.json over a server's life --------------------------------------------------------------
def test_server_json_lives_as_long_as_the_server_and_its_key_dies_with_it(world, tmp_path):
    pristine = world.data_dir.parent / "pristine"
    world = replace(world, data_dir=tmp_path / "data")  # a server of its own, on the module's world as built
    shutil.copytree(pristine, world.data_dir)
    with Platform(Settings(data_dir=world.data_dir)) as platform:  # what a server killed with SIGKILL leaves
        leftover, _ = platform.gateway.create_key("admin", SCOPES, name=discovery.KEY_NAME)
    stale = discovery.discovery_path(world.data_dir)
    stale.write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": 2 ** 22 + 1, "key": leftover}))
    run = cli(world.data_dir, "search", "refund", "--collection", "demo")  # a dead pid's file: the file itself
    assert run.code == 0 and run.err == "" and "hits from 'demo'" in run.out

    with serve(world.data_dir) as url:
        assert stat.S_IMODE(stale.stat().st_mode) == 0o600
        found = discovery.read_discovery(world.data_dir)
        assert found.url == url and found.key != leftover
        assert found.pid != os.getpid() and discovery.pid_alive(found.pid)
        assert found.key not in (world.data_dir / f"server-{url.rsplit(':', 1)[1]}.log").read_text()
        assert cli(world.data_dir, "search", "refund", "--collection", "demo").err == f"using the running server at {url}\n"
        asked, _ = cli_json(world.data_dir, "ask", QUESTION, "--collection", "demo")
        remote_traces = wait_for_trace(world.data_dir, asked["trace_id"])
        remote_table = cli(world.data_dir, "traces", "list", "--limit", "5").out
    assert not stale.exists()
    local_traces, _ = cli_json(world.data_dir, "traces", "list", "--limit", "5")
    assert local_traces == remote_traces  # the same traces and spans, whichever way they were read
    assert cli(world.data_dir, "traces", "list", "--limit", "5").out == remote_table
    run = cli(world.data_dir, "search", "refund", "--collection", "demo")
    assert run.code == 0 and run.err == ""  # the file again, as today
    with Platform(Settings(data_dir=world.data_dir)) as platform:
        for key in (leftover, found.key):
            with pytest.raises(Unauthorized, match="revoked"):
                platform.gateway.authenticate_key(key)
        assert {k["status"] for k in platform.gateway.list_keys(user="admin")} == {"revoked"}
