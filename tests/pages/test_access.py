"""What a signed-in caller may read, through the pages (AppTest): an analyst's grants narrow Chat, Documents and
Search explorer to the granted collection; Chat's past conversations are the signed-in user's own."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from backend.models import NotFound
from tests.pages.conftest import run, texts
from tests.pages.signin import ensure_user, sign_in_token, signed_in
from tests.pages.test_chat import FEES, REFUNDS, _ask, _clear_caches

ROOT = Path(__file__).resolve().parents[2]
SECRET = """# Board Minutes

The board agreed that the international transfer fee rises to £9.99 from next year.
"""


def _page(name: str, user: str, timeout: float = 180) -> AppTest:
    return signed_in(AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=timeout), "analyst",
                     user=user)


@pytest.fixture
def platform(data_dir, tmp_path):
    """Two collections of one tenant, `policies` and `board`; analysts ann and bob of the group granted `policies`."""
    from components.platform import get_platform

    _clear_caches()
    for name, files in {"policies": {"fees.md": FEES, "refunds.md": REFUNDS}, "board": {"minutes.md": SECRET}}.items():
        folder = tmp_path / name
        folder.mkdir()
        for file, text in files.items():
            (folder / file).write_text(text)
    instance = get_platform()
    instance.corpus.ingest([tmp_path / "policies"], collection="policies")
    instance.corpus.ingest([tmp_path / "board"], collection="board")
    gateway = instance.gateway
    for user in ("ann", "bob"):
        ensure_user(instance, user, "analyst")
    gateway.create_group("policy-readers", instance.settings.default_tenant)
    gateway.grant("policy-readers", "policies")
    for user in ("ann", "bob"):
        gateway.add_member("policy-readers", user)
    yield instance
    instance.close()
    _clear_caches()


def test_an_analyst_sees_only_the_granted_collection(platform):
    chat = run(_page("chat", "ann"))
    assert chat.sidebar.selectbox(key="chat_collection").options == ["policies"]
    _ask(chat, "How much does an international transfer cost?")
    assert "£9.99" not in texts(chat) and "£3.50" in texts(chat)

    documents = run(_page("corpus_documents", "ann"))
    assert documents.selectbox(key="docs_collection").options == ["All collections", "policies"]
    table = documents.dataframe[0].value
    assert set(table["collection"]) == {"policies"} and "Board Minutes" not in set(table["title"])
    assert not [b for b in documents.button if b.key in ("doc_reingest", "doc_move", "doc_delete")]

    [board_doc] = [d["id"] for d in platform.corpus.documents("board")]
    linked = _page("corpus_documents", "ann")
    linked.query_params["doc"] = str(board_doc)
    run(linked)
    assert "Board Minutes" not in texts(linked) and not [s for s in linked.subheader if "Board" in s.value]
    assert any(f"unknown document id {board_doc}" in w.value for w in linked.warning)

    search = _page("corpus_search", "ann")
    run(search)
    assert search.selectbox(key="search_collection").options == ["policies"]
    search.text_input(key="q").set_value("international transfer fee")
    run(search)
    assert "£9.99" not in texts(search) and "Board Minutes" not in texts(search)


def test_an_analyst_without_a_grant_reads_nothing(platform):
    ensure_user(platform, "cy", "analyst")
    chat = run(_page("chat", "cy"))
    assert not chat.chat_input and any("No collection to ask yet" in i.value for i in chat.info)
    documents = run(_page("corpus_documents", "cy"))
    assert not documents.dataframe


def test_past_conversations_are_the_signed_in_users_own(platform):
    ann = run(_page("chat", "ann"))
    _ask(ann, "How long do customers have to ask for a fee refund?")
    [(conversation, owner)] = platform.store.query("SELECT id, user_name FROM conversations")
    assert owner == "ann"
    ann_again = run(_page("chat", "ann"))
    assert len(ann_again.sidebar.selectbox(key="chat_past").options) == 1  # her one conversation

    bob = run(_page("chat", "bob"))
    assert not [s for s in bob.sidebar.selectbox if s.key == "chat_past"]  # nothing of ann's is listed
    bob_ctx = platform.gateway.context_for(platform.gateway.resolve_session(sign_in_token(platform, "analyst", "bob")))
    with pytest.raises(NotFound):  # nor can bob continue ann's conversation by its id
        platform.chat.ask("and for a domestic transfer?", "policies", conversation, ctx=bob_ctx)
