"""Follow-up rewriting by rules: a follow-up question made standalone from the previous question, no LLM."""
from __future__ import annotations

import re

from backend.chat.follow_up import needs_previous_turn, starts_a_clause
from backend.text.sentences import content_stems, words

_FOLLOW_UP_START = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|and what about|what if|same for|and for|and in|and if|"
    r"or|plus|ok(?:ay)?,?|what else|why|how come)\b[\s,]*(.*)$",
    re.IGNORECASE,
)
_ANAPHORA = re.compile(r"\b(it|its|that|this|these|those|they|them|their|there|he|she|his|her|such|the same|one)\b", re.IGNORECASE)
_PREPOSITIONS = ("for", "in", "on", "at", "with", "to", "of", "about", "during", "after", "before", "under", "from", "by", "within")


def strip_question(text: str) -> str:
    return text.strip().rstrip("?.! ").strip()


_CONTEXT = re.compile(r"\s*\(context: .*\)\?\s*$", re.DOTALL)


def own_words(standalone: str) -> str:
    """A rewritten follow-up without the previous question it borrowed as "(context: ...)": the user's words."""
    return _CONTEXT.sub("", standalone)


def rewrite_follow_up(question: str, previous: str) -> str | None:
    """Deterministic standalone rewrite of a follow-up, given the previous standalone question; None when
    the question already stands alone (`needs_previous_turn` decides).

    "and for international transfers?" after "What is the fee for domestic transfers?" becomes
    "What is the fee for international transfers?": the follow-up's prepositional phrase replaces the
    previous question's last phrase with the same preposition. Other follow-ups keep their words and
    borrow the previous question's as context.
    """
    if not needs_previous_turn(question, previous):
        return None  # a self-contained question is searched as typed, however short
    match = _FOLLOW_UP_START.match(question)
    anaphoric = bool(_ANAPHORA.search(question))
    base = strip_question(previous)
    rest = strip_question(match.group(2)) if match else strip_question(question)
    first = rest.split(" ", 1)[0].lower() if rest else ""
    if match and first in _PREPOSITIONS:
        cut = list(re.finditer(rf"\b{first}\b", base, flags=re.IGNORECASE))
        if cut:
            return f"{base[:cut[-1].start()].rstrip()} {rest}?"
        rest = rest.split(" ", 1)[1] if " " in rest else rest
    pro_form = re.search(r"\s+ones?$", rest, flags=re.IGNORECASE) if match else None
    if pro_form:  # "and medium-risk ones?": "ones" stands for the previous question's noun, which a swap keeps
        swapped = _swap_noun_phrase(base, rest[:pro_form.start()])
        return f"{swapped}?" if swapped else f"{strip_question(question)} (context: {base})?"
    clause = starts_a_clause(rest) or (match is not None and match.group(1).lower().endswith("if"))
    if match and rest and not anaphoric and not clause:  # "what if I fail three?" asks no noun phrase
        framed = _frame_with(base, rest)
        if framed:
            return f"{framed}?"
        swapped = _swap_noun_phrase(base, rest)
        if swapped:
            return f"{swapped}?"
        if len(words(rest)) <= 6:  # "what about contractors?" -> the previous question, asked about contractors
            return f"{base}, regarding {rest}?"
    return f"{strip_question(question)} (context: {base})?"


def _frame_with(base: str, phrase: str) -> str | None:
    """"And a replacement card?" after "What does it cost to withdraw cash ... with the debit card?" asks
    the same thing ("What does it cost") of a new object: when the follow-up shares the head noun that ends
    the previous question, keep the question's frame (up to its first content word) and put the phrase after it."""
    tokens = list(re.finditer(r"[\w£$€%'-]+", base))
    is_content = [bool(content_stems(t.group(0))) for t in tokens]
    content = [i for i, flag in enumerate(is_content) if flag]
    if len(content) < 3 or not content_stems(tokens[content[-1]].group(0)) & content_stems(phrase):
        return None
    start = content[-1]
    while start > 0 and is_content[start - 1]:
        start -= 1  # the final noun phrase: the run of content words ending the question
    between = [i for i in content if content[0] < i < start]
    if len(between) < 3:  # little stands between the frame and that phrase: swapping the phrase is enough
        return None
    return f"{base[:tokens[content[0]].end()]} for {phrase}"


def _swap_noun_phrase(base: str, phrase: str) -> str | None:
    """"domestic transfer" in the base question becomes "international transfers" when the follow-up's
    phrase shares its head noun; None when the two share no content word."""
    shared = content_stems(phrase) & content_stems(base)
    if not shared:
        return None
    tokens = list(re.finditer(r"[\w£$€%'-]+", base))
    for i, token in enumerate(tokens):
        if content_stems(token.group(0)) & shared:
            start = i
            while start > 0 and content_stems(tokens[start - 1].group(0)) and not content_stems(tokens[start - 1].group(0)) & shared:
                start -= 1  # the modifiers in front of the shared noun belong to the phrase being replaced
            end = i
            while end + 1 < len(tokens) and content_stems(tokens[end + 1].group(0)) & shared:
                end += 1
            return f"{base[:tokens[start].start()]}{phrase}{base[tokens[end].end():]}"
    return None
