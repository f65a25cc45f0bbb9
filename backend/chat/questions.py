"""Question checks: the text we accept, injection and prompt-leak notices."""
from __future__ import annotations

import re
import unicodedata

from backend.models import InputError
from backend.settings import Settings

REFUSAL = "I can't share my instructions. Ask a question about the documents and I will answer from them."
INJECTION_NOTICE = ("Your question contains instructions addressed to the assistant; they were ignored. "
                    "Answers come only from the documents.")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ufeff]")


def clean_question(question, settings: Settings) -> str:
    """The question as text we can safely handle, or an InputError naming what is wrong with it."""
    if isinstance(question, bytes):
        question = question.decode("utf-8", errors="replace")
    if not isinstance(question, str):
        raise InputError("question: must be text")
    # Lone surrogates (undecodable bytes on a command line) cannot be stored or encoded: replace them.
    question = question.encode("utf-8", errors="replace").decode("utf-8")
    if len(question) > settings.max_question_chars:
        raise InputError(
            f"question: {len(question):,} characters, over the limit of {settings.max_question_chars:,}; "
            "shorten it to the question itself"
        )
    visible = _CONTROL.sub(" ", unicodedata.normalize("NFC", question))
    visible = re.sub(r"\s+", " ", visible).strip()
    if not visible and not question.strip():
        raise InputError("question: empty; type a question about the documents")
    if not visible:
        raise InputError("question: not readable text (binary data?); type a question in words")
    readable = sum(ch.isalnum() or ch.isspace() or ch in ".,;:?!'\"()-/%£$€&" for ch in visible)
    letters = sum(ch.isalpha() for ch in visible)
    if readable / len(visible) < 0.6 or letters < 2 or len(_CONTROL.findall(question)) > len(question) * 0.1:
        raise InputError("question: not readable text (binary data?); type a question in words")
    return visible
