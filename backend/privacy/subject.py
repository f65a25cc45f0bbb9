"""A data subject's identifiers (e-mails, phones, names, customer ids), checked, and matched in text as they really appear."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable

from backend.models import InputError

KINDS = ("email", "phone", "name", "customer_id")
# What an erased identifier becomes: the redactor's own <TYPE> tokens, so erased and redacted text read alike.
REPLACEMENTS = {"email": "<EMAIL_ADDRESS>", "phone": "<PHONE_NUMBER>", "name": "<PERSON>", "customer_id": "<CUSTOMER_ID>"}
_EMAIL = re.compile(r"^[^@\s,;<>()]+@[^@\s,;<>()]+\.[^@\s,;<>()]+$")
# A run of digits that may be a phone number as people write one: "+44 (0)20 7946-0958", "020.7946.0958".
_PHONE_RUN = re.compile(r"\+?\(?\d[\d \t\u00a0().\-/]*\d")
_DIGIT_GROUP = re.compile(r"\d+")
_COUNTRY_PREFIX = re.compile(r"^(?:\+|00|011)?[1-9]\d{0,2}0?$")  # a country code, maybe dialled, maybe with trunk 0
MIN_PHONE_DIGITS = 6
MAX_IDENTIFIER_CHARS = 200


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    kind: str  # one of KINDS
    value: str  # the text as it appears

    @property
    def replacement(self) -> str:
        return REPLACEMENTS[self.kind]


@dataclass(frozen=True)
class Phone:
    """A phone number as its national significant number, with its country code when it was given with one."""

    raw: str
    national: str  # digits after any country code and trunk 0
    country: str | None  # "44", or None when given in national form

    def matches(self, digits: str, plus: bool = False) -> bool:
        """Are these digits (as written in some text, "(0)" dropped; `plus`: written after a "+") this number, with
        or without a country code? A number given without one matches any country code, but only one written as
        such (after "+", "00" or "011"), so "ref 12 020 7946 0958" is not taken for +12 20 7946 0958."""
        if not digits.endswith(self.national):
            return False
        prefix = digits[: len(digits) - len(self.national)]
        if prefix in ("", "0"):
            return True
        if self.country is None:
            return (plus or prefix.startswith(("00", "011"))) and bool(_COUNTRY_PREFIX.match(prefix))
        return prefix in (self.country, f"{self.country}0", f"00{self.country}", f"00{self.country}0", f"011{self.country}")


def parse_phone(raw: str) -> Phone:
    text = raw.strip()
    digits = re.sub(r"\D", "", text.replace("(0)", ""))
    if len(digits) < MIN_PHONE_DIGITS + 1 or re.search(r"[^\d\s+().\-/]", text):
        raise InputError(f"phone {raw!r}: give a phone number of at least {MIN_PHONE_DIGITS + 1} digits "
                         "(spaces, dashes, brackets and a leading + are fine)", field="phone")
    if text.startswith(("+", "00")):
        import phonenumbers

        try:
            number = phonenumbers.parse("+" + (digits[2:] if text.startswith("00") else digits), None)
        except phonenumbers.NumberParseException:
            raise InputError(f"phone {raw!r}: the country code is not one phonenumbers knows", field="phone") from None
        return Phone(raw, phonenumbers.national_significant_number(number).lstrip("0") or digits, str(number.country_code))
    return Phone(raw, digits.lstrip("0"), None)


@dataclass(frozen=True)
class SubjectRequest:
    """Who a data-subject request is about: each identifier checked and normalised (see subject_request)."""

    emails: tuple[str, ...] = ()
    phones: tuple[Phone, ...] = ()
    names: tuple[tuple[str, ...], ...] = ()  # name parts, in "First Last" order
    customer_ids: tuple[str, ...] = ()
    _patterns: list = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._patterns.extend(_patterns(self))

    def identifier_counts(self) -> dict[str, int]:
        """How many identifiers of each kind: what the audit log may say about a request (never the values)."""
        return {"email": len(self.emails), "phone": len(self.phones), "name": len(self.names),
                "customer_id": len(self.customer_ids)}

    def described(self) -> dict[str, list[str]]:
        """The identifiers as given (for the person's own report)."""
        return {"email": list(self.emails), "phone": [p.raw for p in self.phones],
                "name": [" ".join(n) for n in self.names], "customer_id": list(self.customer_ids)}

    def canonical(self) -> str:
        parts = [*(f"email:{e}" for e in self.emails), *(f"phone:{p.country or ''}:{p.national}" for p in self.phones),
                 *(f"name:{' '.join(n).lower()}" for n in self.names), *(f"customer_id:{c}" for c in self.customer_ids)]
        return "\n".join(sorted(parts))

    # --- what SQL can prefilter on: every match contains one of these (lower case) -------------------
    def needles(self) -> list[str]:
        return self._needles

    @cached_property
    def _needles(self) -> list[str]:
        # The longest piece of a name without an apostrophe: O'Brien may be stored with either one.
        words = [max((piece for part in name for piece in re.split(r"['’]", part)), key=len).lower()
                 for name in self.names]
        return sorted({*self.emails, *words, *(c.lower() for c in self.customer_ids)})

    def digit_needles(self) -> list[str]:
        return sorted({p.national for p in self.phones})

    # --- matching ----------------------------------------------------------------------------------
    def may_match(self, text: str) -> bool:
        """False when no match can be in `text` (none of the needles is): most texts are rejected this cheaply."""
        lowered = text.lower()
        if any(needle in lowered for needle in self.needles()):
            return True
        return bool(self.phones) and any(d in re.sub(r"\D", "", text) for d in self.digit_needles())

    def find(self, text: str) -> list[Match]:
        """Every occurrence of the subject's identifiers in `text`, left to right, never overlapping."""
        if not text or not self.may_match(text):
            return []
        found = [Match(m.start(), m.end(), kind, m.group(0)) for kind, pattern in self._patterns
                 for m in pattern.finditer(text)]
        if self.phones:
            found += list(_phone_matches(text, self.phones))
        kept: list[Match] = []
        for match in sorted(found, key=lambda m: (m.start, -(m.end - m.start))):
            if not kept or match.start >= kept[-1].end:
                kept.append(match)
        return kept

    def redact(self, text: str) -> str:
        return Redaction.of(text, self.find(text)).text


@dataclass(frozen=True)
class Redaction:
    """A text with its matches replaced, and where each old offset went (sections and chunk spans move with it)."""

    text: str
    matches: tuple[Match, ...]

    @classmethod
    def of(cls, text: str, matches: Iterable[Match]) -> Redaction:
        matches = tuple(matches)
        out, position = [], 0
        for match in matches:
            out += [text[position:match.start], match.replacement]
            position = match.end
        out.append(text[position:])
        return cls("".join(out), matches)

    def offset(self, old: int, end: bool = False) -> int:
        """The new offset of old offset `old`; one inside a replaced span goes to the replacement's start (or
        its end, for the end of a span), so a chunk that cut a name in two holds the whole replacement."""
        shift = 0
        for match in self.matches:
            if old >= match.end:
                shift += len(match.replacement) - (match.end - match.start)
            elif old > match.start:
                return match.start + shift + (len(match.replacement) if end else 0)
            else:
                break
        return old + shift


def snippet(text: str, match: Match, masked: bool, matches: Iterable[Match] = (), width: int = 48) -> str:
    """One line of context around a match; `masked` replaces every identifier in it by its <TYPE>."""
    start, end = max(0, match.start - width), min(len(text), match.end + width)
    inside = [m for m in (matches or [match]) if m.start < end and m.end > start] if masked else []
    clipped = [Match(max(m.start, start) - start, min(m.end, end) - start, m.kind, m.value) for m in inside]
    piece = Redaction.of(text[start:end], clipped).text
    piece = " ".join(piece.split())
    return ("…" if start > 0 else "") + piece + ("…" if end < len(text) else "")


def subject_request(emails: Iterable[str] = (), phones: Iterable[str] = (), names: Iterable[str] = (),
                    customer_ids: Iterable[str] = ()) -> SubjectRequest:
    """The request, every identifier checked: InputError naming the field for a bad one or an empty request."""
    emails, phones, names, customer_ids = (_given(v) for v in (emails, phones, names, customer_ids))
    if not (emails or phones or names or customer_ids):
        raise InputError("give at least one identifier of the person: an e-mail, a phone number, a name or a "
                         "customer id", field="identifiers")
    for kind, values in (("email", emails), ("phone", phones), ("name", names), ("customer_id", customer_ids)):
        for value in values:
            if len(value) > MAX_IDENTIFIER_CHARS:
                raise InputError(f"{kind} {value[:40]!r}…: longer than {MAX_IDENTIFIER_CHARS} characters", field=kind)
    for email in emails:
        if not _EMAIL.match(email):
            raise InputError(f"email {email!r} is not an e-mail address (expected name@domain.tld)", field="email")
    for cid in customer_ids:
        if len(cid) < 3 or re.search(r"\s", cid):
            raise InputError(f"customer_id {cid!r}: give the id as stored, at least 3 characters and no spaces",
                             field="customer_id")
    return SubjectRequest(tuple(dict.fromkeys(e.lower() for e in emails)),
                          tuple({(p.country, p.national): p for p in map(parse_phone, phones)}.values()),
                          tuple(dict.fromkeys(map(_name_parts, names))),
                          tuple(dict.fromkeys(customer_ids)))


def subject_hash(request: SubjectRequest, data_dir: Path) -> str:
    """A keyed hash of the identifiers: links one person's requests in the audit log without naming them. Keyed by
    the installation's salt (pii.salt, a file in the data dir, never in DuckDB), so the log alone confirms no guess."""
    from backend.ingest.personal_data import value_hash

    return value_hash(Path(data_dir), "DATA_SUBJECT", request.canonical())[:24]


# --- helpers -----------------------------------------------------------------------------------------
def _given(values: Iterable[str] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = values.splitlines()
    return [" ".join(str(v).split()) for v in values if v is not None and str(v).strip()]


def _name_parts(name: str) -> tuple[str, ...]:
    if name.count(",") == 1:  # "Last, First" as given: matched in both orders anyway
        last, first = (part.strip() for part in name.split(","))
        name = f"{first} {last}"
    parts = tuple(p for p in name.replace(",", " ").split() if p)
    if len(parts) < 2 or not all(re.search(r"\w", p) for p in parts):
        raise InputError(f"name {name!r}: give the full name, first and last (one word alone would match other "
                         "people)", field="name")
    return parts


def _word(part: str) -> str:
    return re.sub(r"['’]", "['’]", re.escape(part))  # O'Brien as typed with either apostrophe


def _patterns(request: SubjectRequest) -> list[tuple[str, re.Pattern]]:
    flags = re.IGNORECASE
    # Not inside a longer address: "ann@example.com" is not found in "joann@example.com" or "ann@example.com.au".
    out = [("email", re.compile(rf"(?<![\w.+\-]){re.escape(e)}(?![\w\-]|\.\w)", flags)) for e in request.emails]
    for parts in request.names:
        forward = r"\s+".join(_word(p) for p in parts)
        reverse = _word(parts[-1]) + r"\s*,\s*" + r"\s+".join(_word(p) for p in parts[:-1])
        out.append(("name", re.compile(rf"(?<!\w)(?:{forward}|{reverse})(?!\w)", flags)))
    out += [("customer_id", re.compile(rf"(?<![A-Za-z0-9]){re.escape(c)}(?![A-Za-z0-9])", flags))
            for c in request.customer_ids]
    return out


def _phone_matches(text: str, phones: tuple[Phone, ...]) -> Iterable[Match]:
    """Each digit run split into its groups; the longest window of consecutive groups that is one of the numbers."""
    longest = max(len(p.national) for p in phones) + 7
    for run in _PHONE_RUN.finditer(text):
        groups = list(_DIGIT_GROUP.finditer(run.group(0)))
        # A run written with a country code ("+1 207 946 0958") is one number from its start: not 207 946 0958.
        anchored = run.group(0).startswith("+") or (bool(groups) and groups[0].group(0).startswith("00"))
        i = 0
        while i < len(groups):
            best = None
            digits = ""
            for j in range(i, len(groups)):
                digits += groups[j].group(0)
                if len(digits) > longest:
                    break
                window = run.group(0)[groups[i].start():groups[j].end()]
                plain = re.sub(r"\D", "", window.replace("(0)", ""))
                plus = i == 0 and run.group(0).startswith("+")
                if any(p.matches(d, plus) for p in phones for d in {digits, plain}):
                    best = j
            if best is None:
                if anchored:
                    break
                i += 1
                continue
            start = run.start() + groups[i].start()
            if i == 0 and run.group(0).startswith(("+", "(")):
                start = run.start()
            end = run.start() + groups[best].end()
            yield Match(start, end, "phone", text[start:end])
            i, anchored = best + 1, False
