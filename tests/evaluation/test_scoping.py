"""Evaluation scoped by the caller: runs, results, leaderboard, gold sets, experiments and failure reports of
another tenant do not exist for it; starting runs and changing gold sets need an operator of the collection's tenant."""
from __future__ import annotations

import shutil

import duckdb
import pytest

from backend.context import RequestContext
from backend.evaluation import access, goldsets, runs
from backend.evaluation import leaderboard as lb
from backend.evaluation.experiment import resolve_gold, resume_experiment, run_experiment
from backend.evaluation.failure_analysis import failure_report
from backend.evaluation.grid import parse_experiment
from backend.gateway.identity import Forbidden
from backend.models import InputError, NotFound
from backend.platform import Platform
from backend.settings import Settings
from backend.store.db import MIGRATIONS_DIR, Store
from tests.evaluation.tenants import context_of, two_tenants


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("eval-scope") / "data"
    with Platform(Settings(data_dir=data_dir)) as platform:
        made = two_tenants(platform)
    return data_dir, made


@pytest.fixture
def platform(world):
    with Platform(Settings(data_dir=world[0])) as instance:
        yield instance


@pytest.fixture
def writable(world, tmp_path):
    """A platform on a copy of the world, for tests that store gold sets and runs (the others read it as built)."""
    copy = tmp_path / "data"
    shutil.copytree(world[0], copy)
    with Platform(Settings(data_dir=copy)) as instance:
        yield instance


def _not_found(call, *args) -> str:
    with pytest.raises(NotFound) as info:
        call(*args)
    return str(info.value)


def test_an_operator_reads_only_their_tenants_runs_results_and_gold_sets(platform, world):
    _, made = world
    olga = context_of(platform, "olga")
    acme, globex = made.run["acme"], made.run["globex"]
    assert [r["id"] for r in access.list_runs(platform, olga)] == [acme]
    assert access.count_runs(platform, olga) == 1 and access.count_runs(platform, olga, "acme-docs") == 1
    board = lb.leaderboard(platform, olga)
    assert board["run"].tolist() == [acme] and set(board["base_collection"]) == {"acme-docs"}
    assert [row["run"] for row in lb.leaderboard_rows(platform, olga)] == [acme]
    assert lb.unavailable_metrics(platform, olga) == {"faithfulness": "unavailable for acme"}
    assert [g["name"] for g in goldsets.readable_goldsets(platform, olga)] == ["acme-gold"]
    assert goldsets.readable_goldset(platform, "acme-gold", olga).collection == "acme-docs"
    assert lb.per_question(platform, olga, acme)["question"].str.contains("acme").all()
    assert lb.question_detail(platform, olga, acme, "q1")["retrieved"][0]["text"] == "acme fees text"
    assert failure_report(platform, olga, acme)["counts"]["retrieval_miss"] == 1
    assert set(lb.run_diff(platform, olga, acme, acme, "pass_rate")["change"]) == {"same"}

    # Another tenant's run reads exactly like a run id that was never used.
    unknown = 10_000
    for call in (lb.per_question, lb.run_results, lb.run_detail, failure_report):
        assert _not_found(call, platform, olga, globex) == _not_found(call, platform, olga, unknown).replace(
            str(unknown), str(globex))
    assert _not_found(lb.question_detail, platform, olga, globex, "q1") == f"evaluation run {globex} not found"
    assert _not_found(lb.run_diff, platform, olga, acme, globex, "pass_rate") == f"evaluation run {globex} not found"
    # ... another tenant's collection like one that does not exist, another tenant's gold set like an unknown name.
    assert _not_found(lb.leaderboard, platform, olga, None, None, "globex-docs") == \
        _not_found(lb.leaderboard, platform, olga, None, None, "nowhere").replace("nowhere", "globex-docs")
    assert "globex" not in _not_found(access.list_runs, platform, olga, "globex-docs").partition("(")[2]
    assert _not_found(goldsets.readable_goldset, platform, "globex-gold", olga) == \
        _not_found(goldsets.readable_goldset, platform, "never-stored", olga).replace("never-stored", "globex-gold")
    assert _not_found(resolve_gold, platform, "globex-gold", None, "test", olga).startswith("gold set 'globex-gold' not found")


def test_the_system_and_an_admin_read_every_tenant(platform, world):
    _, made = world
    for ctx in (None, RequestContext(settings=platform.settings, user="ada", role="admin")):
        assert {r["id"] for r in access.list_runs(platform, ctx)} == set(made.run.values())
    admin = RequestContext(settings=platform.settings, user="ada", role="admin")
    assert set(lb.leaderboard(platform, admin)["run"]) == set(made.run.values())
    assert {g["name"] for g in goldsets.readable_goldsets(platform, admin)} == {"acme-gold", "globex-gold"}


def test_an_analyst_reads_only_granted_collections_and_with_no_grant_nothing(platform, world):
    _, made = world
    bob = context_of(platform, "bob")  # globex analyst with no grant
    assert access.list_runs(platform, bob) == [] and access.count_runs(platform, bob) == 0
    assert lb.leaderboard(platform, bob).empty and lb.leaderboard_rows(platform, bob) == []
    assert goldsets.readable_goldsets(platform, bob) == [] and lb.unavailable_metrics(platform, bob) == {}
    for run_id in made.run.values():
        assert _not_found(lb.run_detail, platform, bob, run_id) == f"evaluation run {run_id} not found"
    alice = context_of(platform, "alice")  # acme analyst granted acme-docs: reads its results
    assert [r["id"] for r in access.list_runs(platform, alice)] == [made.run["acme"]]
    assert lb.run_detail(platform, alice, made.run["acme"])["results"][0]["question"].startswith("What does acme")


def test_gold_sets_change_only_for_an_operator_of_the_collections_tenant(writable):
    platform = writable
    acme_set = goldsets.GoldSet("acme-extra", "upload", "acme-docs",
                                [goldsets.GoldItem("q1", "What does acme charge?", "A fee.", {"fees.md": 1}, line=1)])
    with pytest.raises(NotFound, match="collection 'acme-docs' does not exist"):
        goldsets.register_goldset(platform, acme_set, context_of(platform, "gina"))  # globex operator
    for reader in ("stan", "alice"):  # acme stakeholder; acme analyst granted the collection
        with pytest.raises(Forbidden, match="may read evaluation results but not start runs"):
            goldsets.register_goldset(platform, acme_set, context_of(platform, reader))
    with pytest.raises(NotFound):  # nothing of globex's is read before the write check (its traffic here)
        goldsets.build_goldset(platform, "globex-docs", lambda: pytest.fail("built before the check"),
                               context_of(platform, "olga"))
    assert "acme-extra" not in {g["name"] for g in goldsets.list_goldsets(platform.store, None)}  # none stored

    # An acme operator cannot take over globex's gold set by reusing its name; globex's stays as it was.
    olga = context_of(platform, "olga")
    squatter = goldsets.GoldSet("globex-gold", "upload", "acme-docs", acme_set.items)
    with pytest.raises(InputError, match="gold set name 'globex-gold' is already taken"):
        goldsets.register_goldset(platform, squatter, olga)
    kept = goldsets.load_goldset(platform.store, "globex-gold", None)
    assert kept.collection == "globex-docs" and kept.items[0].question == "What does globex charge?"
    assert goldsets.register_goldset(platform, acme_set, olga).name == "acme-extra"
    assert "acme-extra" in {g["name"] for g in goldsets.readable_goldsets(platform, olga)}
    assert "acme-extra" not in {g["name"] for g in goldsets.readable_goldsets(platform, context_of(platform, "gina"))}


def test_runs_start_only_for_an_operator_of_the_collections_tenant(writable, world):
    platform = writable
    _, made = world
    gold = goldsets.load_goldset(platform.store, "acme-gold", None)
    experiment = parse_experiment({"name": "scoped", "retrieval_only": True,
                                   "grid": {"retrieval_mode": ["bm25"], "top_k": [1], "chunk_tokens": [40],
                                            "chunk_overlap": [5]}}, "scoped.yaml")
    experiment.collection = "acme-docs"
    before = {r["id"] for r in access.list_runs(platform)}
    with pytest.raises(NotFound, match="collection 'acme-docs' does not exist"):
        run_experiment(platform, experiment, gold, ctx=context_of(platform, "gina"))
    with pytest.raises(Forbidden):
        run_experiment(platform, experiment, gold, ctx=context_of(platform, "stan"))
    with pytest.raises(NotFound, match=f"experiment {made.experiment['globex']} not found"):
        resume_experiment(platform, made.experiment["globex"], ctx=context_of(platform, "olga"))
    assert {r["id"] for r in access.list_runs(platform)} == before  # nothing stored by the refused starts

    (outcome,) = run_experiment(platform, experiment, gold, ctx=context_of(platform, "olga"))
    run = access.require_run(platform, outcome.run_id, context_of(platform, "olga"))
    assert run["status"] == "finished" and run["base_collection"] == "acme-docs"
    # The re-chunked scratch copy holds acme's documents, so it is acme's collection, not the default tenant's.
    assert platform.corpus.collection_row(run["collection"])["tenant"] == "acme"
    assert not platform.corpus.has_collection(run["collection"], context_of(platform, "gina"))
    with pytest.raises(NotFound):
        access.require_run(platform, outcome.run_id, context_of(platform, "gina"))
    assert runs.experiment_row(platform.store, run["experiment_id"])["collection"] == "acme-docs"


def test_the_migration_gives_old_experiments_the_collection_they_ran_on(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
                " applied_at TIMESTAMP DEFAULT current_timestamp)")
    for sql in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if int(sql.name[:3]) < 65:
            con.execute(sql.read_text())
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [int(sql.name[:3]), sql.stem])
    con.execute("INSERT INTO eval_gold_sets (name, kind, collection, content_hash, n_items)"
                " VALUES ('g', 'upload', 'gold-col', 'h', 1)")
    con.execute("INSERT INTO eval_experiments (id, name, gold_set, config) VALUES (1, 'ran', 'g', '{}'),"
                " (2, 'file', 'g', '{\"collection\": \"file-col\"}'), (3, 'gold', 'g', '{}'), (4, 'none', 'x', '{}')")
    con.execute("INSERT INTO eval_runs (experiment_id, label, gold_set, gold_hash, base_collection, collection, config,"
                " config_hash, code_version, n_questions) VALUES (1, 'l', 'g', 'h', 'run-col', 'run-col', '{}', 'c', 'v', 1)")
    con.close()
    store = Store(path)
    try:
        assert dict(store.query("SELECT id, collection FROM eval_experiments ORDER BY id")) == {
            1: "run-col", 2: "file-col", 3: "gold-col", 4: "demo"}
    finally:
        store.close()
