"""Retention: expired documents leave DuckDB, FAISS and BM25; old conversations go with what they made; one job, a dry run."""
from __future__ import annotations

import json
import time
from datetime import timedelta
from itertools import count
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from backend.chat.cache import AnswerCache, CacheKey
from backend.chat.memory import ConversationMemory
from backend.cli import main
from backend.clock import utc_now
from backend.context import RequestContext
from backend.models import Answer, Forbidden, InputError, NotFound
from backend.platform import Platform
from backend.privacy.retention import RetentionJob, apply_retention_policies
from backend.settings import Settings
from tests.observability.scripted import scripted_request
from tests.pages.conftest import run as run_page
from tests.pages.signin import signed_in

_names = count(1)
ADMIN_PAGE = Path(__file__).resolve().parents[2] / "pages" / "admin.py"
TOPICS = {
    "Travel expenses": "Travel expenses are reimbursed within thirty days when the receipt is attached.",
    "Laptop loans": "Laptops are lent for two weeks and returned to the service desk with their charger.",
    "Parking permits": "Parking permits are renewed every January at the facilities office on the ground floor.",
}


def _ingest(platform: Platform, folder, collection: str, ages: dict[str, int]) -> dict[str, int]:
    """One small Markdown document per title, ingested into `collection`, then made `age` days old; title -> id."""
    folder.mkdir(parents=True, exist_ok=True)
    for title in ages:
        (folder / f"{title.lower().replace(' ', '-')}.md").write_text(f"# {title}\n\n{TOPICS[title]}\n")
    report = platform.corpus.ingest([folder], collection)
    ids = {f.title: f.document_id for f in report.files}
    for title, age in ages.items():
        when = utc_now() - timedelta(days=age)
        platform.store.execute("UPDATE documents SET updated_at = ? WHERE id = ?", [when, ids[title]])
        platform.store.execute("UPDATE ingest_files SET created_at = ? WHERE document_id = ?", [when, ids[title]])
    return ids


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("retention"), conversation_retention_days=30,
                        trace_retention_days=30)
    with Platform(settings) as instance:
        yield instance


@pytest.fixture
def make_collection(platform, tmp_path):
    def make(ages: dict[str, int], retention_days: int | None = 30) -> tuple[str, dict[str, int]]:
        name = f"coll{next(_names)}"
        ids = _ingest(platform, tmp_path / name, name, ages)
        if retention_days is not None:
            platform.corpus.set_retention_days(name, retention_days)
        return name, ids
    return make


def _entry(report, name: str):
    return next(c for c in report.collections if c.name == name)


def _chunk_ids(platform, document_id: int) -> set[int]:
    return {int(r[0]) for r in platform.store.query("SELECT id FROM chunks WHERE document_id = ?", [document_id])}


def test_a_dry_run_lists_only_the_expired_document_and_deletes_nothing(platform, make_collection):
    name, ids = make_collection({"Travel expenses": 40, "Laptop loans": 0})
    runs = len(platform.gateway.audit_log(action="retention.apply"))
    report = apply_retention_policies(platform, dry_run=True, collection=name)
    entry = _entry(report, name)
    assert [(d["id"], d["title"], d["age_days"]) for d in entry.documents] == [(ids["Travel expenses"], "Travel expenses", 40)]
    assert entry.deleted == 0 and report.traces is None  # one collection named: traces are left alone
    assert platform.corpus.count_documents(name) == 2
    assert _chunk_ids(platform, ids["Travel expenses"])
    assert len(platform.gateway.audit_log(action="retention.apply")) == runs  # a dry run is not a run


def test_apply_deletes_the_expired_document_from_duckdb_faiss_and_bm25(platform, make_collection):
    name, ids = make_collection({"Travel expenses": 40, "Laptop loans": 0})
    old, new = ids["Travel expenses"], ids["Laptop loans"]
    old_chunks = _chunk_ids(platform, old)
    hits = platform.retriever.search("travel expenses reimbursed receipt", name, mode="hybrid", k=5)
    assert hits[0].chunk.document_id == old

    report = apply_retention_policies(platform, collection=name, trigger="cli")
    entry = _entry(report, name)
    assert (entry.deleted, entry.chunks, entry.error) == (1, len(old_chunks), None)
    assert [d["id"] for d in platform.corpus.documents(name)] == [new]
    assert platform.corpus.require_document(old)["status"] == "deleted"
    assert platform.store.scalar("SELECT count(*) FROM document_versions WHERE document_id = ?", [old]) == 0
    dense, lexical = platform.corpus.collection_index(name).ids()
    assert not old_chunks & dense and not old_chunks & lexical and _chunk_ids(platform, new) <= dense & lexical
    for mode in ("bm25", "dense", "hybrid"):
        found = {h.chunk.document_id for h in platform.retriever.search("travel expenses reimbursed", name, mode=mode, k=5)}
        assert old not in found, mode
    assert {h.chunk.document_id for h in platform.retriever.search("laptop loans", name, mode="bm25", k=5)} == {new}
    # the same delete path as a user's: audited per document, as the caller; the run audited with counts only
    [deleted] = platform.gateway.audit_log(action="document.delete", target=str(old))
    assert deleted["actor"] == "retention"
    [run] = [r for r in platform.gateway.audit_log(action="retention.apply") if r["target"] == name]
    assert run["details"]["documents"] == 1 and run["details"]["collections"] == {name: 1}
    assert run["details"]["trigger"] == "cli" and "Travel" not in json.dumps(run["details"])
    assert apply_retention_policies(platform, collection=name).counts()["documents"] == 0  # nothing left to do


def test_a_collection_without_retention_keeps_everything(platform, make_collection):
    name, ids = make_collection({"Travel expenses": 400, "Parking permits": 90}, retention_days=None)
    report = apply_retention_policies(platform, collection=name)
    entry = _entry(report, name)
    assert entry.retention_days is None and entry.documents == [] and entry.deleted == 0
    assert platform.corpus.count_documents(name) == 2


def test_an_unchanged_re_ingest_restarts_the_clock(platform, make_collection, tmp_path):
    name, ids = make_collection({"Parking permits": 40})
    platform.corpus.ingest([tmp_path / name], name)  # the same file again: outcome unchanged
    assert _entry(apply_retention_policies(platform, dry_run=True, collection=name), name).documents == []


def test_retention_settings_are_checked_authorised_and_audited(platform, make_collection):
    name, _ = make_collection({"Laptop loans": 0}, retention_days=None)
    for bad in (0, -3, 1.5, "ten", 40_000, True):
        with pytest.raises(InputError) as caught:
            platform.corpus.set_retention_days(name, bad)
        assert caught.value.field == "retention_days"
    operator = RequestContext.for_tenant(platform.settings, "default", user="olga", role="operator")
    assert platform.corpus.set_retention_days(name, "14", operator)["retention_days"] == 14
    analyst = RequestContext.for_tenant(platform.settings, "default", user="ann", role="analyst")
    with pytest.raises(Forbidden):
        platform.corpus.set_retention_days(name, 7, analyst)
    with pytest.raises(NotFound):
        platform.corpus.set_retention_days(name, 7, RequestContext.for_tenant(platform.settings, "acme", role="operator"))
    with pytest.raises(Forbidden):
        apply_retention_policies(platform, dry_run=True, ctx=analyst)
    platform.corpus.set_retention_days(name, None, operator)
    rows = platform.gateway.audit_log(action="collection.retention", target=name)
    assert [(r["actor"], r["details"]["from"], r["details"]["to"]) for r in rows] == [("olga", 14, None), ("olga", None, 14)]


def _conversation(platform, tenant: str, age_days: int, collection: str = "chat") -> tuple[str, int]:
    """A conversation of one rated turn whose last message is `age_days` old, and its cached answer as old."""
    memory = ConversationMemory(platform.store, platform.settings)
    conversation = memory.start(collection, tenant, "How long is a laptop loan?", user="ann")
    _, message = memory.add_turn(conversation, "How long is a laptop loan?", "how long is a laptop loan",
                                 Answer(text="Two weeks."))
    memory.record_feedback(message, 1, "clear")
    entry = AnswerCache(platform.store, platform.settings).put(
        f"laptop loan {conversation}", None, CacheKey(collection, tenant, 0, "cfg"), Answer(text="Two weeks."))
    when = utc_now() - timedelta(days=age_days)
    platform.store.execute("UPDATE messages SET created_at = ? WHERE conversation_id = ?", [when, conversation], lane="chat")
    platform.store.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", [when, conversation], lane="chat")
    platform.store.execute("UPDATE cache_entries SET created_at = ? WHERE id = ?", [when, entry], lane="chat")
    return conversation, entry


def _rows(platform, table: str, column: str, value) -> int:
    return platform.store.scalar(f"SELECT count(*) FROM {table} WHERE {column} = ?", [value])


def test_old_conversations_go_with_their_messages_feedback_and_cached_answers(platform):
    old = [_conversation(platform, "default", 45), _conversation(platform, "default", 31), _conversation(platform, "acme", 60)]
    new = _conversation(platform, "default", 2)
    dry = apply_retention_policies(platform, dry_run=True).conversations
    assert {t["tenant"]: t["conversations"] for t in dry.tenants} == {"default": 2, "acme": 1}
    assert next(t for t in dry.tenants if t["tenant"] == "default")["oldest"] < utc_now() - timedelta(days=44)
    assert all(_rows(platform, "messages", "conversation_id", c) == 2 for c, _ in old)  # the dry run deleted nothing

    went = apply_retention_policies(platform).conversations
    assert (went.deleted, went.messages, went.feedback) == (3, 6, 3) and went.cache_entries >= 3
    for conversation, entry in old:
        assert [_rows(platform, t, c, v) for t, c, v in (("conversations", "id", conversation),
                ("messages", "conversation_id", conversation), ("feedback", "conversation_id", conversation),
                ("cache_entries", "id", entry))] == [0, 0, 0, 0]
    conversation, entry = new
    assert [_rows(platform, "messages", "conversation_id", conversation), _rows(platform, "feedback", "conversation_id",
            conversation), _rows(platform, "cache_entries", "id", entry)] == [2, 1, 1]
    run = platform.gateway.audit_log(action="retention.apply", limit=1)[0]
    assert run["actor"] == "retention" and run["details"]["conversations"] == 3 and run["details"]["messages"] == 6


def test_traces_past_their_days_are_rolled_up_by_the_same_run(platform):
    from backend.observability.tracing import Tracer

    tracer = Tracer(platform.store, platform.settings)  # no job: this test drives the policies itself
    stale = scripted_request(tracer, "stale question", collection="chat")
    tracer.flush()
    tracer.shutdown()
    for table in ("traces", "spans"):
        platform.store.execute(f"UPDATE {table} SET start_time = start_time - INTERVAL 40 DAY WHERE trace_id = ?",
                               [stale], lane="telemetry")
    dry = apply_retention_policies(platform, dry_run=True).traces
    assert dry.days == 1 and dry.traces == 1 and _rows(platform, "traces", "trace_id", stale) == 1
    went = apply_retention_policies(platform).traces
    assert (went.days, went.traces, went.error) == (1, 1, None) and _rows(platform, "traces", "trace_id", stale) == 0


def test_a_failing_collection_does_not_stop_the_others(platform, make_collection, monkeypatch):
    broken, broken_ids = make_collection({"Travel expenses": 40})
    healthy, healthy_ids = make_collection({"Parking permits": 40, "Laptop loans": 1})
    delete = platform.corpus.remove_document  # what retention deletes by (an e-mail with its attachments)

    def flaky(document_id, ctx=None):
        if document_id == broken_ids["Travel expenses"]:
            raise OSError("disk full while saving the index")
        return delete(document_id, ctx)

    monkeypatch.setattr(platform.corpus, "remove_document", flaky)
    old_conversation, _ = _conversation(platform, "default", 50)
    report = RetentionJob(platform).run_once()  # the periodic function, on this thread
    assert _entry(report, broken).error == "OSError: disk full while saving the index"
    assert report.failures[0].startswith(f"collection {broken}: OSError")
    assert _entry(report, healthy).deleted == 1 and report.conversations.deleted >= 1
    assert platform.corpus.count_documents(broken) == 1 and platform.corpus.count_documents(healthy) == 1
    assert _rows(platform, "conversations", "id", old_conversation) == 0
    run = platform.gateway.audit_log(action="retention.apply", limit=1)[0]
    assert run["details"]["failed"] == [f"collection {broken}"] and run["details"]["trigger"] == "job"
    monkeypatch.undo()  # the next round retries it, and then it goes
    assert _entry(RetentionJob(platform).run_once(), broken).deleted == 1


def test_the_job_runs_on_its_own_timer_without_traffic(platform, make_collection):
    name, ids = make_collection({"Travel expenses": 40, "Laptop loans": 0})
    job = RetentionJob(platform)  # no request, no span: the timer alone starts the round
    assert job.start(every_s=3600, first_after_s=0.05) and not job.start()  # one timer per job
    deadline = time.monotonic() + 60
    while job.last_report is None and time.monotonic() < deadline:
        time.sleep(0.05)
    job.close()  # stops the timer: a round still running stops before the store closes
    assert job.last_report is not None and _entry(job.last_report, name).deleted == 1
    assert [d["id"] for d in platform.corpus.documents(name)] == [ids["Laptop loans"]]
    assert not job.start()  # closed: no timer starts after shutdown


def test_closing_the_platform_stops_its_retention_timer(tmp_path):
    instance = Platform(Settings(data_dir=tmp_path / "data", tracing_enabled=False))
    job = instance.retention
    assert instance.derive(top_k=3).retention is job  # one job per store, whatever the variant
    assert job.start(first_after_s=3600)
    instance.close()
    assert not job.start() and not job._thread.is_alive()


# --- the command line -------------------------------------------------------------------------------
def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_cli_dry_run_lists_then_applies_and_its_exit_codes(data_dir, tmp_path, capsys, monkeypatch):
    with Platform(Settings(data_dir=data_dir)) as platform:
        ids = _ingest(platform, tmp_path / "docs", "handbook", {"Travel expenses": 40, "Laptop loans": 3})
        platform.corpus.set_retention_days("handbook", 30)

    code, out, err = _cli(capsys, "retention", "--dry-run")
    assert code == 0, err
    assert "dry run: nothing is deleted" in out and "collection handbook (default): keeps 30 days" in out
    assert "1 document would go" in out and "Travel expenses" in out and "Laptop loans" not in out
    assert "conversations: kept for ever" in out and "traces: keep 30 days" in out

    code, out, err = _cli(capsys, "retention", "--collection", "nope")
    assert code == 2 and "error: collection 'nope' does not exist (collections: handbook)" in err

    from backend.corpus.service import CorpusService

    def broken(self, document_id, ctx=None):
        raise OSError("index directory is read-only")

    with monkeypatch.context() as patch:
        patch.setattr(CorpusService, "remove_document", broken)
        code, out, _ = _cli(capsys, "retention", "--collection", "handbook")
    assert code == 1 and "failed: OSError: index directory is read-only" in out

    code, out, err = _cli(capsys, "retention", "--collection", "handbook")
    assert code == 0, err
    assert "retention applied" in out and "1 document went" in out and "traces:" not in out
    code, out, _ = _cli(capsys, "retention", "--dry-run", "--json")
    report = json.loads(out)
    assert code == 0 and report["dry_run"] and report["collections"][0]["documents"] == []
    with Platform(Settings(data_dir=data_dir)) as platform:
        assert [d["id"] for d in platform.corpus.documents("handbook")] == [ids["Laptop loans"]]
        runs = platform.gateway.audit_log(action="retention.apply")
        assert [r["details"]["failed"] for r in runs] == [[], ["collection handbook"]]


# --- the Admin page ---------------------------------------------------------------------------------
@pytest.fixture
def page_platform(data_dir):
    from components.platform import get_platform

    get_platform.clear()
    instance = get_platform()
    yield instance
    instance.close()
    get_platform.clear()


def _click(app: AppTest, label: str) -> AppTest:
    [button] = [b for b in app.button if b.label == label]
    button.click()
    return run_page(app)


def test_the_admin_retention_tab_edits_previews_and_applies(page_platform, tmp_path):
    ids = _ingest(page_platform, tmp_path / "docs", "handbook", {"Travel expenses": 40, "Laptop loans": 3})
    app = run_page(signed_in(AppTest.from_file(str(ADMIN_PAGE), default_timeout=120), "admin", user="root"))
    assert "Retention" in [t.label for t in app.tabs]
    assert any("Conversations** are kept for ever" in m.value for m in app.markdown)

    assert app.selectbox(key="admin_retention_collection").value == "handbook"
    app.number_input(key="admin_retention_days_handbook").set_value(30)
    run_page(app)
    _click(app, "Save retention")
    assert any("Documents of handbook are now kept 30 days." in s.value for s in app.success)
    [row] = page_platform.corpus.retention_settings()
    assert row["retention_days"] == 30

    _click(app, "Preview (dry run)")
    [documents] = [d.value for d in app.dataframe if "age (days)" in d.value.columns]
    assert list(documents["title"]) == ["Travel expenses"] and list(documents["age (days)"]) == [40]
    assert page_platform.corpus.count_documents("handbook") == 2

    _click(app, "Apply now")
    assert any("This deletes 1 document(s) and 0 conversation(s)" in w.value for w in app.warning)
    assert page_platform.corpus.count_documents("handbook") == 2  # not before the confirmation
    _click(app, "Yes, apply retention")
    assert any(s.value.startswith("Retention applied: 1 document(s)") for s in app.success)
    assert [d["id"] for d in page_platform.corpus.documents("handbook")] == [ids["Laptop loans"]]
    actions = [(r["action"], r["actor"]) for r in page_platform.gateway.audit_log(limit=5)]
    assert ("retention.apply", "root") in actions and ("collection.retention", "root") in actions
