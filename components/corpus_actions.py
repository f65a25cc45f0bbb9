"""Confirmations for what changes the corpus: delete or move a document, delete a collection (st.dialog)."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from backend.models import GroundworkError
from components.corpus_common import flash

PENDING = "corpus_pending_action"


def close_document() -> None:
    st.query_params.pop("doc", None)


def ask(action: str, target) -> None:
    """Remember the action to confirm, so its dialog stays open across reruns until confirmed or dismissed."""
    st.session_state[PENDING] = (action, target)


def asked(action: str, target) -> bool:
    return st.session_state.get(PENDING) == (action, target)


def _forget() -> None:
    st.session_state.pop(PENDING, None)


def perform(action: Callable[[], object], success: str | Callable[[object], str]) -> None:
    """Run a change; on success say so at the top of the next run (and close any open dialog), else show why not.
    `success` may be made from what the change returned (a delete says what went with it)."""
    try:
        result = action()
    except GroundworkError as exc:
        st.error(str(exc))
        return
    flash("success", success(result) if callable(success) else success)
    _forget()
    st.rerun()


def _confirm_or_cancel(label: str, icon: str, key: str, action: Callable[[], object],
                       success: str | Callable[[object], str], disabled: bool = False) -> None:
    left, right = st.columns(2)
    if left.button(label, type="primary", icon=icon, key=f"confirm_{key}", disabled=disabled):
        perform(action, success)
    if right.button("Cancel", key=f"cancel_{key}"):
        _forget()
        st.rerun()


@st.dialog("Delete document", on_dismiss=_forget)
def confirm_delete_document(platform, document_id: int, title: str, chunks: int, ctx=None) -> None:
    attachments = platform.corpus.attachments(document_id, ctx)  # an e-mail's: they go with it
    st.markdown(f"Delete **{title}** (document {document_id})"
                + (f" and the {_attachments(len(attachments))} ingested from it?" if attachments else "?"))
    if attachments:
        st.caption("With it: " + ", ".join(f"{a['title']} (document {a['id']})" for a in attachments))
    one = chunks == 1 and not attachments
    st.caption(f"Its {chunks:,} chunk{'' if chunks == 1 else 's'}{' and theirs' if attachments else ''} "
               f"leave{'s' if one else ''} DuckDB, FAISS and BM25 at once; its versions stay recorded. "
               "Ingesting the file again brings it back.")

    def delete():
        deletion = platform.corpus.remove_document(document_id, ctx)  # authorised and audited as the caller
        close_document()
        return deletion

    def deleted(deletion) -> str:
        went = f" with its {_attachments(len(deletion.attachments))}" if deletion.attachments else ""
        return f"Deleted “{title}”{went}: {deletion.chunks:,} chunk{'' if deletion.chunks == 1 else 's'}."

    _confirm_or_cancel("Delete", ":material/delete:", "delete_document", delete, deleted)


def _attachments(n: int) -> str:
    return f"{n} attachment{'' if n == 1 else 's'}"


@st.dialog("Move document", on_dismiss=_forget)
def confirm_move_document(platform, document_id: int, title: str, current: str, ctx=None) -> None:
    others = [name for name in platform.corpus.collection_names(ctx) if name != current]
    st.markdown(f"Move **{title}** out of **{current}**. Its chunks keep their embeddings; nothing is re-embedded.")
    choice = st.radio("Into", ["An existing collection", "A new collection"] if others else ["A new collection"],
                      horizontal=True, key="move_target_kind")
    if choice == "An existing collection":
        target = st.selectbox("Collection", others, key="move_target_existing")
    else:
        target = st.text_input("New collection name", key="move_target_new", placeholder="e.g. archive-2024").strip()
    _confirm_or_cancel("Move", ":material/drive_file_move:", "move", lambda: platform.corpus.move_document(document_id, target, ctx),
                       f"Moved “{title}” from {current} to {target}.", disabled=not target)


@st.dialog("Delete collection", on_dismiss=_forget)
def confirm_delete_collection(platform, name: str, ctx=None) -> None:
    st.markdown(f"Delete the empty collection **{name}** and its index files?")
    _confirm_or_cancel("Delete collection", ":material/delete:", "delete_collection",
                       lambda: platform.corpus.delete_collection(name, ctx), f"Deleted collection {name}.")
