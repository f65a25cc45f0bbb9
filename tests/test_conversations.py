"""Conversation management on a real platform: rename, search, delete (atomic) and export, each only over the caller's
own conversations in collections they may read; bad titles, queries and formats named by field."""
from __future__ import annotations

import json
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from backend.chat.conversations import TITLE_MAX, conversation_markdown, conversation_record
from backend.context import RequestContext
from backend.models import InputError, NotFound
from backend.platform import Platform
from backend.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FEES = """# Fees and Charges Policy

## Transfers

Domestic transfers are free for personal customers. From 1 April 2025 an international transfer sent over SWIFT
costs £3.50 per transfer, whatever the amount or destination.
"""
SECRET = """# Project Bluebird

The vault access code of project Bluebird is 7391-ALPHA and it rotates every 30 days.
"""
SWIFT = "How much does an international transfer cost?"
FUNDS = "What evidence must a customer give who receives more than GBP 25,000 within 30 days?"
VAULT = "What is the vault access code of project Bluebird?"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("conversations")
    docs, secret = root / "docs", root / "secret"
    docs.mkdir(), secret.mkdir()
    (docs / "fees.md").write_text(FEES)
    shutil.copy(ROOT / "data" / "demo" / "aml-kyc-policy.pdf", docs / "aml-kyc-policy.pdf")
    (secret / "bluebird.md").write_text(SECRET)
    platform = Platform(Settings(data_dir=root / "data"))
    platform.corpus.ingest([docs], collection="demo")
    platform.corpus.ingest([secret], collection="secret")
    yield platform
    platform.close()


def _ctx(platform, user: str, collections=("demo", "secret")) -> RequestContext:
    return RequestContext.for_tenant(platform.settings, platform.settings.default_tenant, user=user,
                                     collections=frozenset(collections))


@pytest.fixture(scope="module")
def talk(platform) -> dict[str, str]:
    """ann: a two-turn conversation in demo (SWIFT fee, then source of funds) and one in secret; ben: one in demo."""
    chat = platform.chat
    ann, ben = _ctx(platform, "ann"), _ctx(platform, "ben")
    fees = chat.ask(SWIFT, "demo", ctx=ann)
    chat.ask(FUNDS, "demo", fees.conversation_id, ctx=ann)
    return {"fees": fees.conversation_id, "fees_answer": fees.message_id,
            "vault": chat.ask(VAULT, "secret", ctx=ann).conversation_id,
            "ben": chat.ask(SWIFT, "demo", ctx=ben).conversation_id}


def _ids(rows: list[dict]) -> list[str]:
    return [row["id"] for row in rows]


def _count(platform, sql: str, params) -> int:
    return platform.store.scalar(sql, params)


# --- rename -------------------------------------------------------------------------------------------
def test_rename_the_callers_own_conversation_redacted_and_in_place(platform, talk):
    chat, ann = platform.chat, _ctx(platform, "ann")
    before = {row["id"]: row for row in chat.search_conversations(ann)}
    renamed = chat.rename_conversation(talk["vault"], "  Bluebird   notes for jane.roe@example.com  ", ann)
    assert renamed["title"] == "Bluebird notes for <EMAIL_ADDRESS>" and renamed["turns"] == 1
    stored = platform.store.scalar("SELECT title FROM conversations WHERE id = ?", [talk["vault"]])
    assert stored == renamed["title"] and "jane.roe" not in stored
    after = {row["id"]: row for row in chat.search_conversations(ann)}
    assert after[talk["vault"]]["updated_at"] == before[talk["vault"]]["updated_at"]  # a rename is no new activity
    assert list(after) == list(before)


@pytest.mark.parametrize("title, message", [
    ("", "blank"), ("   \n\t", "blank"), (None, "blank"), ("x" * (TITLE_MAX + 1), f"over the limit of {TITLE_MAX}"),
])
def test_a_blank_or_too_long_title_is_refused_naming_the_field(platform, talk, title, message):
    with pytest.raises(InputError, match=message) as refused:
        platform.chat.rename_conversation(talk["fees"], title, _ctx(platform, "ann"))
    assert refused.value.field == "title"
    assert platform.store.scalar("SELECT title FROM conversations WHERE id = ?", [talk["fees"]]) == SWIFT


def test_a_title_of_exactly_the_limit_is_kept_whole(platform, talk):
    ben = _ctx(platform, "ben")
    assert platform.chat.rename_conversation(talk["ben"], "b" * TITLE_MAX, ben)["title"] == "b" * TITLE_MAX
    platform.chat.rename_conversation(talk["ben"], SWIFT, ben)


def test_another_users_conversation_cannot_be_renamed_and_answers_as_an_unknown_one(platform, talk):
    ben = _ctx(platform, "ben")
    with pytest.raises(NotFound) as unknown:
        platform.chat.rename_conversation("0" * 32, "mine now", ben)
    with pytest.raises(NotFound) as foreign:
        platform.chat.rename_conversation(talk["fees"], "mine now", ben)
    assert str(foreign.value).replace(talk["fees"], "?") == str(unknown.value).replace("0" * 32, "?")
    assert foreign.value.field == "conversation_id"
    assert platform.store.scalar("SELECT title FROM conversations WHERE id = ?", [talk["fees"]]) == SWIFT


def test_the_system_caller_may_rename_anyones_and_a_revoked_collection_hides_a_conversation(platform, talk):
    system = platform.corpus.system
    renamed = platform.chat.rename_conversation(talk["ben"], "Ben's SWIFT question", system)["title"]
    assert renamed == "<PERSON>'s SWIFT question"  # titles are redacted, names too
    platform.chat.rename_conversation(talk["ben"], SWIFT, system)
    demo_only = _ctx(platform, "ann", collections=("demo",))  # ann's grant to secret revoked
    with pytest.raises(NotFound):
        platform.chat.rename_conversation(talk["vault"], "still mine?", demo_only)


# --- search -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("query, expected", [
    ("INTERNATIONAL transfer", ["fees"]),  # the title, any case
    ("25,000", ["fees"]),  # the second question's text
    ("£3.50", ["fees"]),  # an answer's text
    ("7391-alpha", ["vault"]),  # the answer in the other collection
    ("no conversation says this", []),
    ("%_%", []),  # LIKE wildcards are plain text here
])
def test_search_by_title_question_and_answer_text_only_the_callers_own(platform, talk, query, expected):
    found = platform.chat.search_conversations(_ctx(platform, "ann"), query)
    assert _ids(found) == [talk[name] for name in expected]
    assert talk["ben"] not in _ids(found)


def test_search_is_scoped_to_readable_collections_and_a_blank_query_lists_everything(platform, talk):
    chat, ann = platform.chat, _ctx(platform, "ann")
    assert _ids(chat.search_conversations(ann, "  ")) == [talk["vault"], talk["fees"]]
    assert _ids(chat.search_conversations(ann, "transfer", collection="demo")) == [talk["fees"]]
    assert _ids(chat.search_conversations(_ctx(platform, "ann", ("demo",)), "7391")) == []  # secret not granted now
    with pytest.raises(NotFound):
        chat.search_conversations(_ctx(platform, "ann", ("demo",)), "7391", collection="secret")
    assert set(_ids(chat.search_conversations(platform.corpus.system, "international transfer"))) == {
        talk["fees"], talk["ben"]}  # the system caller: everyone's
    assert _ids(chat.search_conversations(ann, "", limit=1, offset=1)) == [talk["fees"]]


def test_a_too_long_search_is_refused_naming_the_field(platform, talk):
    with pytest.raises(InputError, match="over the limit of 200") as refused:
        platform.chat.search_conversations(_ctx(platform, "ann"), "fee " * 60)
    assert refused.value.field == "q"


# --- export -------------------------------------------------------------------------------------------
def test_export_json_holds_each_answer_with_its_citations_pages_and_quotes(platform, talk):
    platform.chat.feedback(talk["fees_answer"], 1, "right figure", ctx=_ctx(platform, "ann"))
    exported = platform.chat.export_conversation(talk["fees"], "json", _ctx(platform, "ann"))
    assert exported.mime == "application/json" and exported.file_name.endswith(f"-{talk['fees'][:8]}.json")
    record = json.loads(exported.data)
    assert (record["id"], record["collection"], record["title"]) == (talk["fees"], "demo", SWIFT)
    first, second = record["turns"]
    assert first["question"] == SWIFT and "£3.50" in first["answer"] and "[1]" in first["answer"]
    assert first["feedback"] == {"rating": 1, "comment": "right figure"}
    [fee] = [c for c in first["citations"] if c["marker"] == 1]
    assert fee["title"] == "Fees and Charges Policy" and "£3.50" in fee["quote"] and fee["page"] is None
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", first["answer"])}
    assert markers == {c["marker"] for c in first["citations"]}  # every [n] has its source, and no more
    assert second["question"] == FUNDS and "25,000" in second["answer"]
    pdf = [c for c in second["citations"] if c["title"].startswith("Anti-Money Laundering")]
    assert pdf and pdf[0]["page"] == 2 and pdf[0]["quote"]
    assert first["trace_id"] and record["exported_at"].endswith("+00:00")


def test_export_markdown_reads_as_the_conversation_with_its_sources(platform, talk):
    exported = platform.chat.export_conversation(talk["fees"], "markdown", _ctx(platform, "ann"))
    text = exported.data.decode("utf-8")
    assert exported.mime == "text/markdown" and exported.file_name.startswith("how-much-does-an-international")
    assert text.startswith(f"# {SWIFT}\n") and "Collection **demo**" in text and "2 turns" in text
    assert f"## 1. {SWIFT}" in text and f"## 2. {FUNDS}" in text
    assert "- [1] Fees and Charges Policy" in text and "  > " in text and "£3.50" in text
    assert ", page 2" in text  # the PDF's cited page


def test_every_export_is_audited_as_the_caller_and_a_foreign_one_is_not_found(platform, talk):
    ann, ben = _ctx(platform, "ann"), _ctx(platform, "ben")
    before = len(platform.gateway.audit_log(action="export.conversation", actor="ann"))
    platform.chat.export_conversation(talk["vault"], "markdown", ann)
    [row] = platform.gateway.audit_log(action="export.conversation", actor="ann", limit=1)
    assert row["target"] == talk["vault"] and len(platform.gateway.audit_log(
        action="export.conversation", actor="ann")) == before + 1
    assert "7391" not in json.dumps(row, default=str)  # the audit names the file, never holds its content
    with pytest.raises(NotFound):
        platform.chat.export_conversation(talk["vault"], "json", ben)
    assert platform.gateway.audit_log(action="export.conversation", actor="ben") == []
    with pytest.raises(InputError) as refused:
        platform.chat.export_conversation(talk["vault"], "pdf", ann)
    assert refused.value.field == "format"


def test_the_markdown_of_a_record_without_answers_or_title():
    record = conversation_record({"id": "c1", "title": "", "collection": "demo", "tenant": "default",
                                  "created_at": None, "updated_at": None}, [], {})
    assert conversation_markdown(record).splitlines()[0] == "# Untitled conversation"
    assert "0 turns" in conversation_markdown(record)


# --- delete -------------------------------------------------------------------------------------------
def test_a_foreign_delete_is_not_found_and_deletes_nothing(platform, talk):
    with pytest.raises(NotFound):
        platform.chat.delete_conversation(talk["fees"], _ctx(platform, "ben"))
    assert _count(platform, "SELECT count(*) FROM messages WHERE conversation_id = ?", [talk["fees"]]) == 4


@contextmanager
def _failing_on(platform, statement: str):
    """The chat lane's transactions, with `statement` failing inside them (as a crash between statements would)."""
    real = platform.store.transaction

    class Cursor:
        def __init__(self, cur):
            self.cur = cur

        def execute(self, sql, params=None):
            if sql.startswith(statement):
                raise RuntimeError("disk gone mid-delete")
            return self.cur.execute(sql, params)

    @contextmanager
    def transaction(lane="corpus"):
        with real(lane) as cur:
            yield Cursor(cur)

    platform.store.transaction = transaction
    try:
        yield
    finally:
        del platform.store.transaction


def test_delete_is_atomic_a_failure_midway_leaves_everything(platform, talk):
    ann = _ctx(platform, "ann")
    counts = [_count(platform, f"SELECT count(*) FROM {table} WHERE conversation_id = ?", [talk["fees"]])
              for table in ("messages", "feedback")]
    assert counts[0] == 4 and counts[1] >= 1
    with _failing_on(platform, "DELETE FROM conversations"), pytest.raises(RuntimeError, match="mid-delete"):
        platform.chat.delete_conversation(talk["fees"], ann)
    assert [_count(platform, f"SELECT count(*) FROM {table} WHERE conversation_id = ?", [talk["fees"]])
            for table in ("messages", "feedback")] == counts
    assert talk["fees"] in _ids(platform.chat.search_conversations(ann))


def test_delete_removes_the_conversation_its_messages_and_ratings_and_nothing_else(platform, talk):
    ann = _ctx(platform, "ann")
    others = _count(platform, "SELECT count(*) FROM messages WHERE conversation_id <> ?", [talk["fees"]])
    removed = platform.chat.delete_conversation(talk["fees"], ann)
    assert removed == {"id": talk["fees"], "collection": "demo", "title": SWIFT, "messages": 4, "feedback": 1}
    for table, column in (("conversations", "id"), ("messages", "conversation_id"), ("feedback", "conversation_id")):
        assert _count(platform, f"SELECT count(*) FROM {table} WHERE {column} = ?", [talk["fees"]]) == 0
    assert _count(platform, "SELECT count(*) FROM messages WHERE conversation_id <> ?", [talk["fees"]]) == others
    assert _ids(platform.chat.search_conversations(ann)) == [talk["vault"]]
    with pytest.raises(NotFound):
        platform.chat.delete_conversation(talk["fees"], ann)  # gone: a second delete finds nothing
    with pytest.raises(NotFound):
        platform.chat.conversation(talk["fees"], ann)
