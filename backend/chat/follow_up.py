"""Whether a chat question needs the previous turn to be understood (anaphora, ellipsis, bare comparatives), by rules."""
from __future__ import annotations

import re

from backend.text.sentences import content_stems

_TOKEN = re.compile(r"[a-z0-9£$€]+(?:[-'][a-z0-9]+)*")
# A leading connective only links turns; whether the question needs the previous one depends on what follows it.
_CONNECTIVE = re.compile(r"^\s*(?:and|but|also|so|then|or|plus|now|ok(?:ay)?|well|right)\b[\s,]*(.*)$", re.IGNORECASE | re.DOTALL)
# "What about contractors?" asks the previous question again of something else, whatever follows.
_SAME_QUESTION_OF = re.compile(r"^\s*(?:what about|how about|what if|same for|same with|what else|how come)\b", re.IGNORECASE)
_WH = {"what", "who", "whom", "whose", "which", "when", "where", "why", "how"}
_AUX = {"is", "are", "was", "were", "am", "be", "been", "do", "does", "did", "can", "could", "may", "might", "must",
        "shall", "should", "will", "would", "has", "have", "had", "isn't", "aren't", "doesn't", "don't", "can't"}
_IMPERATIVE = {"define", "explain", "describe", "list", "summarise", "summarize", "tell", "show", "give", "outline",
               "compare", "find", "name"}
_SUBJECT_PRONOUNS = {"i", "we", "you"}  # "I need to ...": the asker, never a reference to the previous turn
_POSSESSIVES = {"my", "our"}  # "My card was ...": a statement with a subject of its own (without a verb: a fragment)
_PREPOSITIONS = {"for", "in", "on", "at", "with", "to", "of", "about", "during", "after", "before", "under", "from",
                 "by", "within", "without", "over", "into", "outside", "inside", "via", "per", "than", "like"}
_COMPARATIVES = {"cheaper", "dearer", "pricier", "longer", "shorter", "higher", "lower", "faster", "quicker", "slower",
                 "bigger", "smaller", "larger", "better", "worse", "earlier", "later", "stricter", "safer", "more",
                 "less", "fewer", "greater"}
_BACK_REFERENCES = {"before", "previously", "then", "that", "this", "it", "those", "last", "earlier", "prior", "the"}
_TIME_WORDS = {"year", "month", "week", "quarter", "morning", "afternoon", "evening", "time"}
_EXISTENTIAL_BEFORE = {"is", "are", "was", "were", "be", "been", "isn't", "aren't"}
_EXISTENTIAL_AFTER = {"is", "are", "was", "were", "will", "must", "should", "may", "can", "has", "have", "'s"}
# "Is it safe to click ...", "How long does it take to ...": `it` stands for the clause that follows, not a referent.
_DUMMY_IT = re.compile(
    r"\bit\s+(?:is\s+|was\s+|be\s+|'s\s+)?(?:safe|ok|okay|possible|allowed|permitted|necessary|required|mandatory|"
    r"compulsory|acceptable|appropriate|legal|illegal|true|wise|fine|worth|normal|advisable|better|best|enough|"
    r"important|reasonable|likely)\s+(?:to|that|if|whether|for)\b"
    r"|\bit\s+(?:takes?|took|costs?|means?|matters?)\b.*\b(?:to|for|if|when)\b"
    r"|\b(?:make|makes|made)\s+it\s+\w+\s+to\b",
    re.IGNORECASE,
)
_PEOPLE = {"staff", "employee", "customer", "people", "person", "colleague", "contractor", "manager", "vendor",
           "supplier", "user", "member", "officer", "team", "agent", "adviser", "advisor", "champion", "leaver",
           "joiner", "client", "student", "everyone", "someone", "anyone", "director", "worker", "partner"}
_PEOPLE_STEMS = content_stems(" ".join(_PEOPLE))
# A bare noun phrase ending in one of these asks for a topic as a whole ("Sick leave rules?"), not for a frame.
_TOPIC_HEADS = {"policy", "policies", "rules", "rule", "process", "procedure", "procedures", "standard", "standards",
                "guidance", "guide", "guidelines", "requirements", "overview", "summary", "checklist", "definition",
                "options", "steps"}
# Words that ask how or whether, not about what: a question made only of these has no subject of its own.
_GENERIC = content_stems(
    "long much many often soon quick quickly fast happen happens happened mean means cost costs need needs take takes "
    "get gets got go goes gone come comes apply applies allowed allow change changes changed differ different "
    "exactly actually really ok okay thing things way work works define explain describe list summarise summarize "
    "tell show give outline compare find name possible usual normally usually exist exists still instead"
)
_LAST_WORD_SIGNALS = {"too", "instead", "else", "either", "then"}
_CONTRAST = re.compile(r"\b(?:otherwise|as well|in that case|if not)\b", re.IGNORECASE)  # presuppose the previous case


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("’", "'"))


def _subject_stems(text: str) -> set[str]:
    """Content stems that name something (not numbers, not the generic how/whether words)."""
    return {s for s in content_stems(text) if not s.replace(".", "").replace(",", "").isdigit()} - _GENERIC


def starts_a_clause(text: str) -> bool:
    """Whether `text` opens like a question or a sentence (a wh-word, an auxiliary, a command, I/we/you), not a phrase."""
    return _opens_clause(_tokens(text))


def _opens_clause(tokens: list[str]) -> bool:
    first = tokens[0] if tokens else ""
    if first in _POSSESSIVES:  # "My transfer was charged twice": the asker's own subject, then its verb
        return any(token in _AUX for token in tokens[1:7])
    return first in _WH or first in _AUX or first in _IMPERATIVE or first in _SUBJECT_PRONOUNS


def _stem(word: str) -> str:
    stems = content_stems(word)
    return next(iter(stems)) if len(stems) == 1 else word


def _antecedent_before(tokens: list[str], index: int, plural: bool) -> bool:
    """Whether a noun that a third-person pronoun at `index` can refer to stands earlier in the same question."""
    for i, token in enumerate(tokens[:index]):
        after_wh = i > 0 and tokens[i - 1] in _WH  # "what happens": the verb, not a noun
        if token in _PEOPLE or _stem(token) in _PEOPLE_STEMS:
            return True
        if plural and not after_wh and len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")) \
                and content_stems(token):
            return True  # a plural noun, most likely
    return False


def _anaphor(tokens: list[str], text: str) -> str | None:
    """The first word that points back to something not named in the question itself, or None."""
    dummy_it = bool(_DUMMY_IT.search(text))
    last = len(tokens) - 1
    for i, token in enumerate(tokens):
        before = tokens[i - 1] if i > 0 else ""
        after = tokens[i + 1] if i < last else ""
        if token in ("it", "its") and not dummy_it:
            return token
        if token == "that" and (i == 0 or i == last or before in _WH | _AUX | _PREPOSITIONS | {"do", "does", "did"}):
            return token  # a demonstrative; after a noun or a verb "that" starts a clause instead
        if token in ("this", "these", "those") and after not in _TIME_WORDS:
            return token
        if token in ("they", "them", "their", "theirs") and not _antecedent_before(tokens, i, plural=True):
            return token
        if token in ("he", "she", "him", "her", "his", "hers") and not _antecedent_before(tokens, i, plural=False):
            return token
        if token == "there" and before not in _EXISTENTIAL_BEFORE and after not in _EXISTENTIAL_AFTER:
            return token
        if token == "such" or token == "ones" or (token == "one" and i == last and i > 0):
            return token
    return None


def _bare_comparative(tokens: list[str], text: str) -> bool:
    """"Is it cheaper?", "more than before?": a comparison whose other side is in the previous turn."""
    if " or " in f" {text.lower()} ":
        return False  # "cheaper, SEPA or SWIFT?" names both sides
    for i, token in enumerate(tokens):
        if token not in _COMPARATIVES:
            continue
        rest = tokens[i + 1:]
        if token in ("more", "less", "fewer") and rest and rest[0] != "than" and content_stems(rest[0]):
            continue  # "more leave": a quantity, not a comparison
        if "than" not in rest:
            return True
        after_than = rest[rest.index("than") + 1:]
        if not after_than or after_than[0] in _BACK_REFERENCES and not _subject_stems(" ".join(after_than)):
            return True
    return False


def _definite_back_reference(tokens: list[str], own: set[str], previous: str) -> bool:
    """"Is the rate fixed?" after "What interest rate does the Easy Access Saver pay?": "the X", a shortened form of
    the previous question's "<modifier> X", and little else. Repeating the whole phrase ("the security logs" after
    "security logs") names the thing again instead of pointing back to it."""
    previous_tokens = _tokens(previous)
    previous_stems = _subject_stems(previous)
    if len(own - previous_stems) > 1:
        return False
    asked = {_stem(t) for t in tokens}
    for i, token in enumerate(tokens):
        if token != "the":
            continue
        phrase = []
        for word in tokens[i + 1:]:
            if not content_stems(word):
                break
            phrase.append(word)
        for word in phrase:
            for j, earlier in enumerate(previous_tokens):
                if _stem(earlier) != _stem(word):
                    continue
                start = j
                while start > 0 and content_stems(previous_tokens[start - 1]):
                    start -= 1
                if any(_stem(m) not in asked for m in previous_tokens[start:j]):
                    return True  # the previous phrase had a modifier this one dropped
    return False


def follow_up_reason(question: str, previous: str) -> str | None:
    """Why `question` needs the previous (standalone) question to be understood, or None when it stands alone.

    Strong signals decide alone: a connective followed by a fragment ("and for international transfers?"), a
    request to repeat the question of something else ("what about contractors?"), "the same", a question with no
    subject of its own ("Why?", "How long?"), a comparison with one side missing. Weak ones (a pronoun, "the X"
    for the previous question's X) give way when the question has a subject of its own (three or more content
    words, one before the pronoun) and shares none with the previous question.
    """
    if not previous.strip() or not question.strip():
        return None
    text = question.strip().rstrip("?.! ").strip()
    linked = _CONNECTIVE.match(text)
    if linked and not _SAME_QUESTION_OF.match(text):
        rest = linked.group(1).strip()
        if not rest or not _opens_clause(_tokens(rest)) and not _SAME_QUESTION_OF.match(rest):
            return "ellipsis"  # "and in Ireland?", "and a high one?": a fragment borrowing the previous frame
        text = rest
    if _SAME_QUESTION_OF.match(text):
        return "ellipsis"
    tokens = _tokens(text)
    if not tokens:
        return None
    if not _opens_clause(tokens):
        if tokens[0] in _PREPOSITIONS or tokens[0] in _COMPARATIVES:
            return "ellipsis"  # "For contractors?", "Cheaper abroad?"
        if tokens[-1] not in _TOPIC_HEADS:
            return "ellipsis"  # "Business customers?": an object without its question
    if re.search(r"\bthe same\b", text, re.IGNORECASE):
        return "anaphora"
    own = _subject_stems(text)
    if not own or (len(tokens) == 2 and tokens[0] in _WH and tokens[1] not in _AUX):
        return "no subject"  # "Why?", "How long?", "Who attends?": the verb's object is in the previous turn
    if tokens[-1] in _LAST_WORD_SIGNALS and len(tokens) > 1 or _CONTRAST.search(text):
        return "ellipsis"  # "Do contractors get one too?", "How long is it kept otherwise?"
    if _bare_comparative(tokens, text):
        return "comparative"
    anaphor = _anaphor(tokens, text)
    if anaphor is None:
        return "anaphora" if _definite_back_reference(tokens, own, previous) else None
    before = _subject_stems(" ".join(tokens[:tokens.index(anaphor)]))
    if len(own) >= 3 and before and not own & _subject_stems(previous):
        return None  # an antecedent of its own before the pronoun, nothing shared with the previous question
    return "anaphora"


def needs_previous_turn(question: str, previous: str) -> bool:
    """Whether `question`, asked after `previous`, must be rewritten with it before it is searched."""
    return follow_up_reason(question, previous) is not None
