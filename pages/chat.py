"""Chat: ask a collection, read the streamed answer with checkable citations, rate it, manage past conversations."""
import streamlit as st

from backend.gateway.metered import UI_CHAT_ROUTE, MeteredChat
from backend.models import GroundworkError
from components.chat_sidebar import chat_sidebar, chat_state, new_conversation, restore_from_url, sync_url
from components.chat_turn import get_chat, not_answered, render_answer
from components.navigation import page_context
from components.safe_markdown import safe_markdown, safe_stream

identity, ctx = page_context(__file__)

VISIBLE_TURNS = 12  # older turns stay behind a toggle, so a long conversation does not slow every rerun

rag = get_chat()
metered = MeteredChat(rag.platform.gateway, rag)  # the API's rules: rate limit, tenant quota, usage recorded

st.title("Chat with your documents")

collections = rag.platform.corpus.collection_names(ctx)
if not collections:
    st.info(
        "No collection to ask yet. Ingest the demo handbook with `make demo` (or "
        "`python -m backend ingest data/demo --collection demo`), then reload this page.",
        icon=":material/upload_file:",
    )
    st.stop()

chat = chat_state()  # survives a visit to another page; ?conversation=<id> survives a reload
restore_from_url(rag, ctx)
options = chat_sidebar(rag, ctx, collections)
collection = options.collection

if chat["collection"] != collection:  # a conversation belongs to one collection
    new_conversation()
    chat["collection"] = collection
sync_url()

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
        render_answer(turn["answer"], chat["feedback"].get(turn["answer"].get("message_id")), identity)

question = st.chat_input(f"Ask a question about {collection}")
if question is not None:
    try:
        stream = metered.ask_stream(identity, question, collection, chat["conversation_id"], route=UI_CHAT_ROUTE,
                                    ctx=ctx, mode=options.mode, k=options.k, generator=options.generator)
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
