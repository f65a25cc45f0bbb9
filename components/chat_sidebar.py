"""Chat's sidebar and state: what to ask (kept across pages), past conversations searched and opened, the open one
renamed, exported or deleted, and ?conversation=<id> reopening it after a reload."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from backend.chat.conversations import TITLE_MAX, export_file_name
from backend.chat.service import ChatService
from backend.context import RequestContext
from backend.models import GroundworkError

GENERATORS = {
    "extractive": "Extractive (no model)",
    "openai": "OpenAI-compatible server",
    "vllm": "vLLM on this machine's GPU",
}
MODES = ["hybrid", "bm25", "dense"]
STATE = "chat"  # a plain session-state dict, not a widget's: Streamlit keeps it when another page runs
QUERY = "conversation"  # ?conversation=<id>: the open conversation, so a reload reopens it
CONFIRM = "chat_confirm_delete"  # the id of the conversation whose delete waits for a confirmation
NOTICE = "chat_notice"  # what a callback did (kind, text), shown on the rerun it causes
# Widgets whose value survives a visit to another page: without persist_state Streamlit drops a widget's
# value once its page is not rendered, and Chat would come back on the defaults.
KEEP = "session"


@dataclass(frozen=True)
class AskOptions:
    collection: str
    mode: str
    k: int
    generator: str


def chat_state() -> dict:
    """The open conversation (id, collection, title), its turns as shown and their ratings."""
    return st.session_state.setdefault(STATE, {"conversation_id": None, "collection": None, "title": None,
                                               "turns": [], "feedback": {}})


def new_conversation() -> None:
    chat_state().update(conversation_id=None, title=None, turns=[], feedback={})
    st.session_state.pop("chat_past", None)
    st.session_state.pop(CONFIRM, None)
    sync_url()  # now, not at the end of the run: the URL is read first thing (restore_from_url)


def open_conversation(rag: ChatService, ctx: RequestContext, conversation_id: str) -> None:
    """Reopen from DuckDB (answers as stored, not recomputed); NotFound for anyone else's conversation."""
    found = rag.conversation(conversation_id, ctx)
    conversation = found["conversation"]
    chat_state().update(
        conversation_id=conversation_id, collection=conversation["collection"], title=conversation["title"],
        turns=[{"question": t.question, "answer": {**t.answer_data, "text": t.answer, "message_id": t.message_id}}
               for t in found["turns"] if t.message_id is not None],
        feedback=found["feedback"],
    )
    st.session_state["chat_collection"] = conversation["collection"]  # a conversation belongs to one collection
    st.session_state.pop(CONFIRM, None)
    sync_url()


def restore_from_url(rag: ChatService, ctx: RequestContext) -> None:
    """?conversation=<id> (a reload, a bookmark) reopens that conversation when it is the caller's own; any other
    id is "not found", whether it exists or not, and leaves the URL."""
    wanted = st.query_params.get(QUERY)
    if not wanted or wanted == chat_state()["conversation_id"]:
        return
    try:
        open_conversation(rag, ctx, wanted)
    except GroundworkError:
        del st.query_params[QUERY]
        st.warning("Conversation not found: the link names no conversation of yours. Pick one under Past "
                   "conversations, or ask a new question.", icon=":material/search_off:")


def sync_url() -> None:
    """The URL names the open conversation (none: no parameter)."""
    conversation_id = chat_state()["conversation_id"]
    if conversation_id and st.query_params.get(QUERY) != conversation_id:
        st.query_params[QUERY] = conversation_id
    elif not conversation_id and QUERY in st.query_params:
        del st.query_params[QUERY]


def chat_sidebar(rag: ChatService, ctx: RequestContext, collections: list[str]) -> AskOptions:
    """The sidebar: collection, mode, k, generator, New conversation, past conversations, the open one's actions."""
    settings = rag.settings
    if st.session_state.get("chat_collection") not in collections:  # first visit, or a grant since revoked
        default = settings.default_collection
        st.session_state["chat_collection"] = default if default in collections else collections[0]
    names = list(GENERATORS)
    with st.sidebar:
        st.header("Ask")
        collection = st.selectbox("Collection", collections, key="chat_collection", persist_state=KEEP)
        mode = st.segmented_control("Retrieval", MODES, default=settings.retrieval_mode, key="chat_mode",
                                    persist_state=KEEP, help="BM25 matches words, dense matches meaning, hybrid fuses "
                                    "both") or settings.retrieval_mode
        k = st.slider("Passages given to the generator (k)", 1, 15, settings.top_k, key="chat_k", persist_state=KEEP)
        generator = st.selectbox("Generator", names, index=names.index(settings.generator), format_func=GENERATORS.get,
                                 key="chat_generator", persist_state=KEEP,
                                 help="Extractive quotes the documents; the others need an LLM server or a GPU")
        st.button("New conversation", icon=":material/add_comment:", on_click=new_conversation, width="stretch")
        notice = st.session_state.pop(NOTICE, None)
        if notice:
            (st.success if notice[0] == "success" else st.error)(notice[1])
        _past_conversations(rag, ctx, collection)
        if chat_state()["conversation_id"]:
            _this_conversation(rag, ctx)
    return AskOptions(collection, mode, int(k), generator or settings.generator)


def _past_conversations(rag: ChatService, ctx: RequestContext, collection: str) -> None:
    """The caller's conversations in this collection, or with a search, theirs in every collection they read."""
    st.subheader("Past conversations")
    query = st.text_input("Search conversations", key="chat_search", persist_state=KEEP, icon=":material/search:",
                          placeholder="Words of a title, question or answer")
    searching = bool(query.strip())
    try:
        rows = rag.search_conversations(ctx, query, None if searching else collection, limit=25)
    except GroundworkError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if not rows:
        st.caption("No conversation of yours holds that text." if searching else
                   "No past conversations in this collection yet.")
        return

    def label(row: dict) -> str:
        where = f"{row['collection']} · " if row["collection"] != collection else ""
        turns = f"{row['turns']} turn{'s' if row['turns'] != 1 else ''}"
        return f"{where}{row['title'] or '(untitled)'} · {turns} · {row['updated_at']:%d %b %H:%M}"

    labels = {row["id"]: label(row) for row in rows}
    chosen = st.selectbox(f"{len(rows)} matching" if searching else "Recent in this collection", list(labels),
                          format_func=labels.get, index=None, placeholder="Reopen a conversation", key="chat_past")
    if chosen and chosen != chat_state()["conversation_id"]:
        st.button("Open conversation", icon=":material/history:", on_click=_open, args=(rag, ctx, chosen),
                  width="stretch")


def _this_conversation(rag: ChatService, ctx: RequestContext) -> None:
    """Rename, export (Markdown, JSON) and delete (after a confirmation) the open conversation."""
    chat = chat_state()
    conversation_id = chat["conversation_id"]
    if chat["title"] is None:  # a new conversation's first answer just set its title in the store
        try:
            chat["title"] = rag.book.summary(conversation_id, ctx)["title"]
        except GroundworkError:  # deleted elsewhere (the API) since: start afresh
            new_conversation()
            return
    title = chat["title"]
    st.subheader("This conversation")
    title_key = f"chat_title_{conversation_id}"
    st.session_state.setdefault(title_key, title)
    st.text_input("Title", key=title_key, max_chars=TITLE_MAX)
    st.button("Rename", icon=":material/edit:", on_click=_rename, args=(rag, ctx, conversation_id), width="stretch")
    markdown, json_file = st.columns(2)
    for column, fmt, mime, text in ((markdown, "markdown", "text/markdown", "Markdown"),
                                    (json_file, "json", "application/json", "JSON")):
        column.download_button(
            text, data=lambda fmt=fmt: rag.export_conversation(conversation_id, fmt, ctx).data,
            file_name=export_file_name(title, conversation_id, fmt), mime=mime, on_click="ignore",
            icon=":material/download:", key=f"chat_export_{fmt}", width="stretch",
            help="Each answer with its citations (titles, pages, quotes); built when clicked and recorded in the "
                 "audit log.")
    if st.session_state.get(CONFIRM) != conversation_id:
        st.button("Delete conversation", icon=":material/delete:", on_click=_ask_to_delete, args=(conversation_id,),
                  width="stretch")
        return
    turns = len(chat["turns"])
    st.warning(f"Delete “{title}” with its {turns} turn{'s' if turns != 1 else ''} and their ratings? This cannot "
               "be undone.", icon=":material/warning:")
    confirm, cancel = st.columns(2)
    confirm.button("Delete", type="primary", on_click=_delete, args=(rag, ctx, conversation_id), key="chat_delete_yes",
                   width="stretch")
    cancel.button("Keep it", on_click=_ask_to_delete, args=(None,), key="chat_delete_no", width="stretch")


# --- callbacks: they run before the rerun draws anything, so they may set the widgets' keys ---------------
def _open(rag: ChatService, ctx: RequestContext, conversation_id: str) -> None:
    try:
        open_conversation(rag, ctx, conversation_id)
    except GroundworkError as exc:
        st.session_state[NOTICE] = ("error", str(exc))


def _rename(rag: ChatService, ctx: RequestContext, conversation_id: str) -> None:
    title_key = f"chat_title_{conversation_id}"
    try:
        row = rag.rename_conversation(conversation_id, st.session_state.get(title_key, ""), ctx)
    except GroundworkError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
        return
    chat_state()["title"] = st.session_state[title_key] = row["title"]  # as stored: redacted
    st.session_state[NOTICE] = ("success", f"Renamed to “{row['title']}”.")


def _ask_to_delete(conversation_id: str | None) -> None:
    st.session_state[CONFIRM] = conversation_id


def _delete(rag: ChatService, ctx: RequestContext, conversation_id: str) -> None:
    try:
        removed = rag.delete_conversation(conversation_id, ctx)
    except GroundworkError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
        return
    new_conversation()
    st.session_state[NOTICE] = ("success", f"Deleted “{removed['title']}” with its {removed['messages']} messages "
                                           f"and {removed['feedback']} ratings.")
