"""The deterministic planner: the tool calls rules can justify from a question and its passages, with no model."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from backend.agent.sections import READ_SECTION, SECTION_READ, document_in, section_request
from backend.chat.rewrite import own_words
from backend.generation.base import Passage
from backend.retrieval.freshness import asks_about_the_past
from backend.text.sentences import content_stems, split_sentences

CALCULATE, QUERY_TABLE, CREATE_TICKET = "calculate", "query_table", "create_ticket"
FEE_TOTAL, DATE_SHIFT, TABLE_ROW, HAND_OVER = "fee_total", "date_shift", "table_row", "hand_over"

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10, "eleven": 11, "twelve": 12}
_COUNT = r"(?P<count>\d{1,4}|" + "|".join(NUMBER_WORDS) + r")"
_COST_WORDS = re.compile(r"\b(?:cost|costs|charged?|charges|fees?|prices?|pay|much)\b", re.IGNORECASE)
# The word before the count decides whether "3 X" is a quantity being priced ("what do 3 X cost", "the fee for 3 X")
# or a figure inside some other phrase ("older than 10 business days"): only these lead into a priced quantity.
_QUANTITY = re.compile(r"\b(?:do|does|would|will|are|is|for|of|cost|send|sending|make|making|order|ordering)\s+"
                       + _COUNT + r"\s+(?P<item>[^?.!,;:]+)", re.IGNORECASE)
_ANY_COUNT = re.compile(r"\b" + _COUNT + r"\s+[A-Za-z]", re.IGNORECASE)
# An item ends where the question goes on about it ("... transfers cost me", "... transfers of £1,000 each").
_ITEM_ENDS = {"cost", "costs", "come", "be", "would", "will", "do", "does", "in", "per", "each", "of", "to", "total",
              "altogether", "together", "or", "and", "at", "on", "with", "if", "for", "me", "us", "a", "an", "the",
              "this", "that", "from", "now", "today", "currently", "under", "after", "before", "than"}
# Words that name no particular thing to price: "3 payments" could be any payment, so no figure is the right one.
_GENERIC = content_stems("payment payments transfer transfers transaction transactions fee fees charge charges cost "
                         "costs item items thing things one ones time times")
_NOT_ITEMS = content_stems("day days week weeks month months year years hour hours minute minutes business percent "
                           "pound pounds euro euros dollar dollars gbp eur usd")
_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
_MONEY = re.compile(r"(?P<symbol>[£€$])\s?(?P<amount>\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)"
                    r"|(?P<amount2>\d+(?:\.\d{1,2})?)\s?(?P<code>GBP|EUR|USD)\b"
                    r"|amount:\s*(?P<amount3>\d+(?:\.\d{1,2})?)\s*\|\s*currency:\s*(?P<code3>GBP|EUR|USD)\b")
# An amount right after these is not what one item costs now: an old price, a bound, a threshold.
_NOT_THE_PRICE = re.compile(r"(?:\bfrom|\bwas|\bwere|\bpreviously|\buntil|\bminimum(?: of)?|\bmaximum(?: of)?|\bup to|"
                            r"\bat least|\blimit of|\bmore than|\bover|\babove|\bunder|\bbelow|\bless than|\bexceeding|"
                            r"\bexcess of)\s*$", re.IGNORECASE)
# A sentence that prices by percentage or with a floor or cap has no flat figure to multiply.
_NOT_FLAT = re.compile(r"%|\bpercent\b|\bminimum\b|\bmaximum\b", re.IGNORECASE)

_MONTHS = {m: i for i, m in enumerate(["january", "february", "march", "april", "may", "june", "july", "august",
                                       "september", "october", "november", "december"], start=1)}
_DATE = (r"(?P<date>\d{4}-\d{2}-\d{2}|\d{1,2}\s+(?:" + "|".join(_MONTHS) + r")\s+\d{4}|(?:"
         + "|".join(_MONTHS) + r")\s+\d{1,2},?\s+\d{4})")
_DATE_SHIFT = re.compile(r"^\s*(?:what|which|when)\b.*?\b" + _COUNT + r"\s+(?P<unit>days?|weeks?|months?|years?)\s+"
                         r"(?P<direction>after|from|before|since|later than|earlier than|prior to)\s+" + _DATE,
                         re.IGNORECASE)
_DATE_PLUS = re.compile(r"^\s*(?:what|which)\b.*?\b" + _DATE + r"\s+(?P<direction>plus|minus|\+|-)\s+" + _COUNT
                        + r"\s+(?P<unit>days?|weeks?|months?|years?)\b", re.IGNORECASE)

_TABLE_WORDS = re.compile(r"\b(?:table|tables|schedule|spreadsheet|csv|xlsx|sheet)\b", re.IGNORECASE)
_ASKS_FOR_A_VALUE = re.compile(r"^\s*(?:what|how much|which|give|tell|show|look up|find)\b", re.IGNORECASE)
_TABLE_SOURCES = (".csv", ".xlsx")

# A request to hand over, at the start of a clause ("..., please open a ticket"), never a question about doing so
# ("How do I escalate a complaint?").
_HAND_OVER = re.compile(
    r"(?:^|[.!?;,]\s*|\b(?:and|so|then)\s+)(?:please\s+)?(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?|"
    r"i\s+(?:want|would like|need|'d like)\s+(?:you\s+)?to\s+|i\s+want\s+|let'?s\s+)?(?:please\s+)?"
    r"(?:(?:open|create|raise|file|log|submit|start)\s+(?:a|an|me a)\s+(?:support\s+|new\s+)?ticket|"
    r"hand\s+(?:this|it|me|my\s+\w+|the\s+\w+)\s+(?:over\s+)?to\s+(?:a|an|some)\s*(?:human|person|agent|someone|"
    r"member of staff|colleague)|escalate\s+(?:this|it|my\s+\w+|the\s+\w+)|"
    r"(?:speak|talk)\s+to\s+(?:a|an)\s+(?:human|person|agent))",
    re.IGNORECASE)
TITLE_CHARS = 120  # create_ticket's limits: 120 for the title; the description is kept well under its 2000 so
DESCRIPTION_CHARS = 1500  # the whole call stays within the default tool_argument_max_chars (2000, JSON included)


@dataclass(frozen=True)
class Figure:
    """A money amount read from one sentence of a passage: what one item costs, and where it says so."""

    amount: str  # as written, without separators: "3.50"
    symbol: str  # "£", "€" or "$"
    passage: int  # the passage's number in the context
    sentence: str  # the sentence it was read from, verbatim from the chunk

    def shown(self) -> str:
        return money(Decimal(self.amount), self.symbol)


@dataclass(frozen=True)
class PlannedCall:
    """One tool call the rules justify, with what the answer's statement needs once the tool has answered."""

    tool: str
    arguments: dict[str, Any]
    intent: str  # FEE_TOTAL, DATE_SHIFT, TABLE_ROW or HAND_OVER
    count: int = 0
    quantity: str = ""  # the question's own words for what is counted: "three SWIFT transfers"
    item: str = ""  # "SWIFT transfers"
    figure: Figure | None = None
    passage: int | None = None  # the passage a table row was found in
    details: dict[str, Any] = field(default_factory=dict)


def money(value: Decimal | float, symbol: str) -> str:
    return f"{symbol}{value:,.2f}"


def plan(question: str, passages: Sequence[Passage], history: Sequence[dict] = (),
         asked: str | None = None) -> list[PlannedCall]:
    """Every call the rules justify for this (redacted, standalone) question, in the order to make them. A write is
    proposed only from `asked`, the user's own words (default: the question): never from a passage, and never from
    a rewriting of a follow-up that a passage's text could have slipped into."""
    calls: list[PlannedCall] = []
    # Counts and dates come from the question's own words: a follow-up that borrowed the previous question as
    # context ("... (context: What do three SWIFT transfers cost)?") must not be priced with that question's count.
    question = own_words(question)
    arithmetic = plan_fee_total(question, passages) or plan_date_shift(question)
    if arithmetic is not None:
        calls.append(arithmetic)
    else:
        lookup = plan_table_lookup(question, passages) or plan_section_read(question, passages)
        if lookup is not None:
            calls.append(lookup)
    hand_over = plan_hand_over(asked if asked is not None else question, history)
    if hand_over is not None:
        calls.append(hand_over)
    return calls


def wants_tools(question: str) -> bool:
    """Whether the question alone may lead to a tool call (a priced quantity, a date shift, a hand-over): such a
    question is answered afresh, as a cached answer to a near-identical question may be for another count."""
    # A section read may reach a collection the question's is not: its answer is never one to serve from the cache.
    return bool(priced_quantity(question) or plan_date_shift(question) or _HAND_OVER.search(question)
                or section_request(question))


# --- arithmetic over a figure in the passages ---------------------------------------------------------------------
def _count(text: str) -> int:
    return int(text) if text.isdigit() else NUMBER_WORDS[text.lower()]


def priced_quantity(question: str) -> tuple[int, str, str] | None:
    """(count, the question's words for the quantity, the item) when the question prices a quantity of one thing."""
    if not _COST_WORDS.search(question) or re.search(r"\bhow\s+many\b", question, re.IGNORECASE):
        return None
    found = []
    for match in _QUANTITY.finditer(question):
        words = []
        for word in match["item"].split():
            if word.lower() in _ITEM_ENDS:
                break
            words.append(word)
        if words:
            found.append((match, " ".join(words)))
    # None, or several quantities ("2 CHAPS payments and 3 SWIFT transfers"): not one product.
    if len(found) != 1 or len(_ANY_COUNT.findall(question)) != 1:
        return None
    match, item = found[0]
    count = _count(match["count"])
    stems = content_stems(item)
    if count < 2 or not stems - _GENERIC or stems & _NOT_ITEMS:
        return None
    return count, f"{match['count']} {item}", item


def _amounts(text: str) -> list[tuple[str, str]]:
    """(amount, symbol) of every money figure in `text` that could be a current price."""
    out = []
    for match in _MONEY.finditer(text):
        if _NOT_THE_PRICE.search(text[:match.start()]):
            continue
        amount = (match["amount"] or match["amount2"] or match["amount3"]).replace(",", "")
        symbol = match["symbol"] or _SYMBOLS[match["code"] or match["code3"]]
        out.append((f"{float(amount):.2f}", symbol))
    return list(dict.fromkeys(out))


def _price_in(sentence: str, item_stems: set[str]) -> tuple[str, str] | None:
    """The one price the sentence gives the item: its only amount, else the only amount of the one clause that names
    the item; None when it gives none or it is ambiguous which figure is the item's."""
    if _NOT_FLAT.search(sentence):
        return None
    amounts = _amounts(sentence)
    if len(amounts) == 1:
        return amounts[0]
    if not amounts:
        return None
    clauses = [c for c in re.split(r";|\s\|\s|,\s", sentence) if item_stems <= content_stems(c)]
    priced = [a for c in clauses for a in _amounts(c)]
    return priced[0] if len(set(priced)) == 1 else None


def _sentences(text: str) -> list[str]:
    """A chunk's sentences, each table row (a line) on its own even where no full stop ends it."""
    return [span.text for line in text.split("\n") for span in split_sentences(line)]


def find_figure(item: str, passages: Sequence[Passage], about_the_past: bool = False) -> Figure | None:
    """The price of one `item` in the passages: from the first passage (in context order) with a sentence naming every
    word of the item and one price for it. A superseded version's figure never when a current passage has one, and
    only for a question about the past; such a question gets none when both have one (which it means is a guess)."""
    stems = content_stems(item)
    found: dict[bool, Figure] = {}
    for passage in passages:
        if passage.superseded in found:
            continue
        for sentence in _sentences(passage.chunk.text):
            if not stems <= content_stems(sentence):
                continue
            price = _price_in(sentence, stems)
            if price is not None:
                found[passage.superseded] = Figure(price[0], price[1], passage.number, sentence)
                break
    if not about_the_past:
        return found.get(False)
    return None if len(found) == 2 else next(iter(found.values()), None)


def plan_fee_total(question: str, passages: Sequence[Passage]) -> PlannedCall | None:
    quantity = priced_quantity(question)
    if quantity is None:
        return None
    count, words, item = quantity
    figure = find_figure(item, passages, about_the_past=asks_about_the_past(question))
    if figure is None:
        return None
    return PlannedCall(CALCULATE, {"expression": f"{count} * {figure.amount}"}, FEE_TOTAL, count=count,
                       quantity=words, item=item, figure=figure)


# --- dates ----------------------------------------------------------------------------------------------------------
def parse_date(text: str) -> date | None:
    text = " ".join(text.replace(",", " ").split())
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        parts = text.split()
        if parts[0].isdigit():
            day, month, year = int(parts[0]), _MONTHS[parts[1].lower()], int(parts[2])
        else:
            month, day, year = _MONTHS[parts[0].lower()], int(parts[1]), int(parts[2])
        return date(year, month, day)
    except (ValueError, KeyError, IndexError):
        return None


def plan_date_shift(question: str) -> PlannedCall | None:
    """"What date is 30 days after 2025-03-01?" (before, plus, minus; days, weeks, months, years) as calculate's date
    arithmetic."""
    match = _DATE_SHIFT.search(question) or _DATE_PLUS.search(question)
    if match is None:
        return None
    start = parse_date(match["date"])
    if start is None:
        return None
    count = _count(match["count"])
    backwards = match["direction"].lower() in ("before", "earlier than", "prior to", "minus", "-")
    unit = match["unit"].lower().rstrip("s") + ("s" if count != 1 else "")
    expression = f"{start.isoformat()} {'-' if backwards else '+'} {count} {unit}"
    return PlannedCall(CALCULATE, {"expression": expression}, DATE_SHIFT, count=count,
                       quantity=f"{count} {unit} {'before' if backwards else 'after'} {start.isoformat()}",
                       details={"start": start.isoformat()})


# --- a row of an ingested table -------------------------------------------------------------------------------------
def cells_of(line: str) -> dict[str, str]:
    """A table row as the loaders render it ("product: Everyday Plus | fee: Monthly account fee | ..."), by column."""
    cells = {}
    for part in line.split(" | "):
        name, colon, value = part.partition(": ")
        if colon and name.strip() and value.strip():
            cells[name.strip()] = value.strip()
    return cells


def _is_table(passage: Passage) -> bool:
    return Path(passage.chunk.source or passage.chunk.title or "").suffix.lower() in _TABLE_SOURCES


def plan_table_lookup(question: str, passages: Sequence[Passage]) -> PlannedCall | None:
    """query_table for the one row of a retrieved table that the question names by at least two of its text cells,
    when the question asks for a value and speaks of a table (or the best passage is a table's)."""
    tables = [p for p in passages if _is_table(p) and not p.superseded]
    if not tables or not _ASKS_FOR_A_VALUE.search(question):
        return None
    if not _TABLE_WORDS.search(question) and not _is_table(passages[0]):
        return None
    asked = content_stems(question)
    scored: list[tuple[int, int, Passage, dict[str, str], list[str]]] = []
    for passage in tables:
        for line in passage.chunk.text.split("\n"):
            cells = cells_of(line)
            named = [c for c, v in cells.items() if not _MONEY.fullmatch(v) and not re.fullmatch(r"[\d.,:-]+", v)
                     and (stems := content_stems(v)) and stems <= asked]
            if len(named) >= 2:
                covered = set().union(*(content_stems(cells[c]) for c in named))
                scored.append((len(named), len(covered), passage, cells, named))
    if not scored:
        return None
    scored.sort(key=lambda s: (-s[0], -s[1]))
    best = scored[0]
    rivals = [s for s in scored[1:] if (s[0], s[1]) == (best[0], best[1]) and s[3] != best[3]]
    if rivals:  # two rows fit the question equally well: which one it means is a guess
        return None
    _, _, passage, cells, named = best
    where = {column: cells[column] for column in named}
    table = passage.chunk.document_id
    return PlannedCall(QUERY_TABLE, {"table": table, "where": where, "limit": 5}, TABLE_ROW, passage=passage.number,
                       details={"where": where, "title": Path(passage.chunk.source or passage.chunk.title).name})


def plan_section_read(question: str, passages: Sequence[Passage]) -> PlannedCall | None:
    """read_document_section for a quoted heading of a document named by id, or by a title: one of the passages'
    titles gives the id here, any other is looked up in the caller's scope by the agent step (details["title"])."""
    request = section_request(question)
    if request is None:
        return None
    heading, document_id, title = request
    if document_id is None:
        document_id = document_in(title, passages)
    arguments: dict[str, Any] = {"heading": heading}
    if document_id is not None:
        arguments["document_id"] = document_id
    return PlannedCall(READ_SECTION, arguments, SECTION_READ, details={"title": title} if document_id is None else {})


# --- a hand-over to a person --------------------------------------------------------------------------------------
def _clip(text: str, limit: int, one_line: bool = True) -> str:
    text = " ".join(text.split()) if one_line else "\n\n".join(" ".join(p.split()) for p in text.split("\n\n"))
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def plan_hand_over(question: str, history: Sequence[dict] = ()) -> PlannedCall | None:
    """create_ticket when the user asks for one (or for a person); titled by the question, or by the question before
    it when this one only asks for the hand-over, described by the question and the answer so far."""
    if not _HAND_OVER.search(question):
        return None
    earlier_question = next((m["content"] for m in reversed(history) if m.get("role") == "user"), "")
    earlier_answer = next((m["content"] for m in reversed(history) if m.get("role") == "assistant"), "")
    rest = _HAND_OVER.sub(" ", question).strip(" .,!?;:-")
    subject = rest if len(content_stems(rest)) >= 2 else (earlier_question or question)
    description = f"Question: {question.strip()}"
    if earlier_question and subject == earlier_question:
        description += f"\n\nEarlier question: {earlier_question.strip()}"
    if earlier_answer:
        description += f"\n\nAnswer so far: {earlier_answer.strip()}"
    arguments = {"title": _clip(subject, TITLE_CHARS), "description": _clip(description, DESCRIPTION_CHARS, one_line=False)}
    return PlannedCall(CREATE_TICKET, arguments, HAND_OVER)
