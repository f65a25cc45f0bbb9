"""Chat: ask a collection, read the streamed answer with checkable citations, rate it, reopen past conversations."""
import streamlit as st

from backend.gateway.metered import UI_CHAT_ROUTE, MeteredChat
from backend.models import GroundworkError
from components.chat_turn import get_chat, not_answered, render_answer
from components.navigation import page_context
from components.safe_markdown import safe_markdown, safe_stream

identity, ctx = page_context(__file__)

VISIBLE_TURNS = 12  # older turns stay behind a toggle, so a long conversation does not slow every rerun
GENERATORS = {
    "extractive": "Extractive (no model)",
    "openai": "OpenAI-compatible server",
    "vllm": "vLLM on this machine's GPU",
}
MODES = ["hybrid", "bm25", "dense"]

rag = get_chat()
metered = MeteredChat(rag.platform.gateway, rag)  # the API's rules: rate limit, tenant quota, usage recorded
settings = rag.settings

st.title("Chat with your documents")

collections = rag.platform.corpus.collection_names(ctx)
if not collections:
    st.info(
        "No collection to ask yet. Ingest the demo handbook with `make demo` (or "
        "`python -m backend ingest data/demo --collection demo`), then reload this page.",
        icon=":material/upload_file:",
    )
    st.stop()

chat = st.session_state.setdefault("chat", {"conversation_id": None, "collection": None, "turns": [], "feedback": {}})


def new_conversation() -> None:
    chat.update(conversation_id=None, turns=[], feedback={})
    st.session_state.pop("chat_past", None)


def open_conversation(conversation_id: str) -> None:
    """Reopen from DuckDB: answers are rendered from what was stored, not recomputed."""
    rag.memory.require(conversation_id, user=ctx.user)  # only the caller's own conversation reopens
    turns = rag.memory.turns(conversation_id)
    chat.update(
        conversation_id=conversation_id,
        turns=[{"question": t.question, "answer": {**t.answer_data, "text": t.answer, "message_id": t.message_id}}
               for t in turns if t.message_id is not None],
        feedback=rag.memory.feedback_for(conversation_id),
    )


with st.sidebar:
    st.header("Ask")
    default = collections.index(settings.default_collection) if settings.default_collection in collections else 0
    collection = st.selectbox("Collection", collections, index=default, key="chat_collection")
    mode = st.segmented_control("Retrieval", MODES, default=settings.retrieval_mode, key="chat_mode",
                                help="BM25 matches words, dense matches meaning, hybrid fuses both") or settings.retrieval_mode
    k = st.slider("Passages given to the generator (k)", 1, 15, settings.top_k, key="chat_k")
    names = list(GENERATORS)
    generator = st.selectbox("Generator", names, index=names.index(settings.generator), format_func=GENERATORS.get,
                             key="chat_generator",
                             help="Extractive quotes the documents; the others need an LLM server or a GPU")
    st.button("New conversation", icon=":material/add_comment:", on_click=new_conversation, width="stretch")
    past = rag.memory.list(collection, limit=25, user=ctx.user)
    if past:
        labels = {p["id"]: f"{p['title'] or '(untitled)'} · {p['turns']} turn{'s' if p['turns'] != 1 else ''} · "
                           f"{p['updated_at']:%d %b %H:%M}" for p in past}
        chosen = st.selectbox("Past conversations", list(labels), format_func=labels.get, index=None,
                              placeholder="Reopen a conversation", key="chat_past")
        if chosen and chosen != chat["conversation_id"]:
            st.button("Open conversation", icon=":material/history:", on_click=open_conversation, args=(chosen,),
                      width="stretch")

if chat["collection"] != collection:  # a conversation belongs to one collection
    new_conversation()
    chat["collection"] = collection

st.caption(f"Answers come only from the documents in **{collection}**. Each [n] in an answer opens its source "
           "below it, with the quoted passage highlighted and how well it supports the sentence.")

turns = chat["turns"]
hidden = max(0, len(turns) - VISIBLE_TURNS)
if hidden and not st.toggle(f"Show {hidden} earlier turn{'s' if hidden != 1 else ''}", key="chat_show_all"):
    turns = turns[hidden:]
for turn in turns:
    with st.chat_message("user"):
        st.markdown(safe_markdown(turn["question"]))
    with st.chat_message("assistant"):
        render_answer(turn["answer"], chat["feedback"].get(turn["answer"].get("message_id")))

question = st.chat_input(f"Ask a question about {collection}")
if question is not None:
    try:
        stream = metered.ask_stream(identity, question, collection, chat["conversation_id"], route=UI_CHAT_ROUTE,
                                    ctx=ctx, mode=mode, k=k, generator=generator)
    except GroundworkError as exc:  # limited, over quota, bad input, an unusable generator: say so, store nothing
        with st.chat_message("user"):
            st.markdown(safe_markdown(question[:300] + ("…" if len(question) > 300 else "")))
        with st.chat_message("assistant"):
            not_answered(exc)
        st.stop()
    shown_question = rag.redact(question)
    with st.chat_message("user"):
        st.markdown(safe_markdown(shown_question))
    with st.chat_message("assistant"):
        try:
            st.write_stream(safe_stream(stream))
        except GroundworkError as exc:
            st.error(str(exc), icon=":material/error:")
            st.stop()
    answer = stream.answer.to_dict()
    chat["conversation_id"] = answer["conversation_id"] or chat["conversation_id"]
    chat["turns"].append({"question": shown_question, "answer": answer})
    # Redraw from session state: the new turn then has exactly the layout of the history (no stale elements).
    st.rerun()
