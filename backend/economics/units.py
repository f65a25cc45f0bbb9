"""Parsing what people type for volumes, durations, frequencies and yes/no answers, with errors naming the field."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from backend.models import InputError

# Magnitude suffixes people write after a count: 100k, 1.5M, 2bn.
_MAGNITUDES = {
    "": 1, "k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6,
    "b": 1e9, "bn": 1e9, "billion": 1e9,
}
# Words allowed after a count ("200 examples", "100k queries a month"); anything else is an unknown unit.
_COUNT_NOUNS = {
    "examples", "example", "samples", "sample", "pairs", "queries", "query", "requests", "request",
    "calls", "tokens", "questions", "documents", "docs", "per month", "a month", "/month", "/mo", "month",
    "monthly", "queries/month", "queries per month", "queries a month", "requests per month",
    "requests a month", "requests/month",
}
_NUMBER = r"[-+]?(?:\d[\d,_]*(?:\.\d+)?|\.\d+)(?:e[-+]?\d+)?"
_COUNT_RE = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<mag>[a-z]*)\s*(?P<noun>[a-z/ ]*?)\s*$", re.IGNORECASE)

_DURATION_UNITS_MS = {
    "ms": 1.0, "msec": 1.0, "millisecond": 1.0, "milliseconds": 1.0,
    "s": 1e3, "sec": 1e3, "secs": 1e3, "second": 1e3, "seconds": 1e3,
    "m": 60e3, "min": 60e3, "mins": 60e3, "minute": 60e3, "minutes": 60e3,
    "h": 3600e3, "hr": 3600e3, "hrs": 3600e3, "hour": 3600e3, "hours": 3600e3,
}
_DURATION_RE = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>[a-z]*)\s*$", re.IGNORECASE)

# Interval units for "how often the knowledge changes", in days.
_INTERVAL_DAYS = {
    "hour": 1 / 24, "hours": 1 / 24, "day": 1, "days": 1, "week": 7, "weeks": 7,
    "month": 30, "months": 30, "quarter": 91, "quarters": 91, "year": 365, "years": 365,
}
_FREQUENCY_WORDS = {
    "realtime": 1 / 24, "real-time": 1 / 24, "continuously": 1 / 24, "continuous": 1 / 24, "hourly": 1 / 24,
    "daily": 1, "weekly": 7, "monthly": 30, "quarterly": 91,
    "rarely": 365, "yearly": 365, "annually": 365, "never": math.inf, "static": math.inf,
}
_INTERVAL_RE = re.compile(rf"^\s*(?:every\s+)?(?:(?P<num>{_NUMBER})\s*)?(?P<unit>[a-z-]+)\s*$", re.IGNORECASE)
STABLE_AFTER_DAYS = 182  # the rules call knowledge "stable" when it holds for six months or more

_TRUE = {"true", "yes", "y", "1", "on", "required", "needed"}
_FALSE = {"false", "no", "n", "0", "off", "not required", "not needed", "none"}


def _clean_number(text: str) -> float:
    return float(text.replace(",", "").replace("_", ""))


def _shown(value) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def parse_count(value, field: str, *, minimum: int = 0, maximum: float = 1e10) -> int:
    """A whole number from '100000', '100,000', '100k', '1.5M' or '200 examples'."""
    if isinstance(value, bool):
        raise InputError(f"{field}: expected a number, got {value}")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip()
        match = _COUNT_RE.match(text)
        if not text or not match:
            raise InputError(f"{field}: {_shown(value)} is not a number (write e.g. 100000, 100k or 1.5M)")
        magnitude = match["mag"].lower()
        noun = match["noun"].strip().lower()
        if magnitude not in _MAGNITUDES:
            # "200 examples" lands the noun in the magnitude group when no space-free suffix is present
            noun = f"{magnitude} {noun}".strip()
            magnitude = ""
        if noun and noun not in _COUNT_NOUNS:
            raise InputError(f"{field}: unknown unit {noun!r} in {_shown(value)} (write e.g. 100000, 100k or 200 examples)")
        number = _clean_number(match["num"]) * _MAGNITUDES[magnitude]
    if math.isnan(number) or math.isinf(number):
        raise InputError(f"{field}: {_shown(value)} is not a finite number")
    if abs(number - round(number)) > 1e-9:
        raise InputError(f"{field}: {_shown(value)} must be a whole number")
    if number < minimum:
        raise InputError(f"{field}: {_shown(value)} must be at least {minimum:,}")
    if number > maximum:
        raise InputError(f"{field}: {_shown(value)} is beyond the planner's range (at most {maximum:,.0f})")
    return int(round(number))


def parse_duration_ms(value, field: str, *, maximum_ms: float = 3_600_000) -> float:
    """Milliseconds from '2s', '150 ms', '1.5 seconds' or '1 min'; a bare number (not text) is taken as ms."""
    if isinstance(value, bool):
        raise InputError(f"{field}: expected a duration, got {value}")
    if isinstance(value, (int, float)):
        ms = float(value)
    else:
        text = str(value).strip()
        match = _DURATION_RE.match(text)
        if not text or not match:
            raise InputError(f"{field}: {_shown(value)} is not a duration (write e.g. 2s or 150ms)")
        unit = match["unit"].lower()
        if not unit:
            raise InputError(f"{field}: {_shown(value)} has no unit (write e.g. 2s or 150ms)")
        if unit not in _DURATION_UNITS_MS:
            raise InputError(f"{field}: unknown unit {unit!r} in {_shown(value)} (use ms, s, min or h)")
        ms = _clean_number(match["num"]) * _DURATION_UNITS_MS[unit]
    if math.isnan(ms) or ms <= 0:
        raise InputError(f"{field}: {_shown(value)} must be a positive duration")
    if ms > maximum_ms:
        raise InputError(f"{field}: {_shown(value)} is beyond the planner's range (at most {maximum_ms / 1000:,.0f} s)")
    return ms


@dataclass(frozen=True)
class ChangeFrequency:
    """How often the knowledge changes: a label and the interval in days (inf = never)."""

    label: str
    interval_days: float

    @property
    def changes_often(self) -> bool:
        return self.interval_days < STABLE_AFTER_DAYS

    @property
    def changes_per_month(self) -> float:
        return 0.0 if math.isinf(self.interval_days) else 30.0 / self.interval_days


def _frequency_label(days: float) -> str:
    if math.isinf(days):
        return "never"
    for limit, label in ((1 / 24, "hourly"), (1, "daily"), (7, "weekly"), (31, "monthly"), (STABLE_AFTER_DAYS - 1, "quarterly")):
        if days <= limit:
            return label
    return "rarely"


def parse_change_frequency(value, field: str) -> ChangeFrequency:
    """'weekly', 'every 2 weeks', 'rarely', 'never', '3 months' -> a ChangeFrequency."""
    text = str(value).strip().lower()
    if text in _FREQUENCY_WORDS:
        days = _FREQUENCY_WORDS[text]
        label = "rarely" if text in {"rarely", "yearly", "annually"} else _frequency_label(days)
        return ChangeFrequency(label, days)
    match = _INTERVAL_RE.match(text)
    if not text or not match:
        raise InputError(f"{field}: {_shown(value)} is not a frequency (write e.g. daily, weekly, every 2 weeks, rarely)")
    unit = match["unit"]
    if unit not in _INTERVAL_DAYS:
        raise InputError(f"{field}: unknown unit {unit!r} in {_shown(value)} (use hours, days, weeks, months, quarters or years)")
    count = _clean_number(match["num"]) if match["num"] else 1.0
    if count <= 0:
        raise InputError(f"{field}: {_shown(value)} must be a positive interval")
    days = count * _INTERVAL_DAYS[unit]
    return ChangeFrequency(_frequency_label(days), days)


def parse_bool(value, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InputError(f"{field}: {_shown(value)} is not yes/no (write true or false)")


def parse_choice(value, field: str, choices: tuple[str, ...], aliases: dict[str, str] | None = None) -> str:
    text = str(value).strip().lower()
    text = (aliases or {}).get(text, text)
    if text not in choices:
        raise InputError(f"{field}: {_shown(value)} is not one of {', '.join(choices)}")
    return text


def parse_fraction(value, field: str) -> float:
    """A share between 0 and 1 from '60%', '0.6' or 0.6."""
    if isinstance(value, bool):
        raise InputError(f"{field}: expected a share, got {value}")
    text = str(value).strip()
    try:
        number = _clean_number(text[:-1]) / 100 if text.endswith("%") else _clean_number(text)
    except ValueError:
        raise InputError(f"{field}: {_shown(value)} is not a share (write e.g. 60% or 0.6)") from None
    if not 0 <= number <= 1:
        raise InputError(f"{field}: {_shown(value)} must be between 0% and 100%")
    return number


def parse_money(value, field: str, *, maximum: float = 1e9) -> float:
    """Dollars from '$5,000', '5k' or 5000."""
    text = value if isinstance(value, (int, float)) else str(value).strip().lstrip("$").strip()
    return parse_number(text, field, maximum=maximum)


def parse_number(value, field: str, *, minimum: float = 0.0, maximum: float = 1e9, strict_minimum: bool = False) -> float:
    """A plain decimal number ('12.5', '1,000', '2k'); words are an error."""
    if isinstance(value, bool):
        raise InputError(f"{field}: expected a number, got {value}")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        match = _COUNT_RE.match(str(value).strip())
        magnitude = match["mag"].lower() if match else ""
        if not match or match["noun"].strip() or magnitude not in _MAGNITUDES:
            raise InputError(f"{field}: {_shown(value)} is not a number")
        number = _clean_number(match["num"]) * _MAGNITUDES[magnitude]
    if math.isnan(number) or math.isinf(number):
        raise InputError(f"{field}: {_shown(value)} is not a finite number")
    if number < minimum or (strict_minimum and number == minimum):
        raise InputError(f"{field}: {_shown(value)} must be {'above' if strict_minimum else 'at least'} {minimum:g}")
    if number > maximum:
        raise InputError(f"{field}: {_shown(value)} is beyond the planner's range (at most {maximum:,g})")
    return number
