"""Reads a `calculate` expression's text: numbers (money, thousands, percent), dates and durations become placeholders."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Union

from backend.models import InputError
from backend.tools.spec import ToolError

MAX_CHARS = 200
MAX_NESTING = 20  # parentheses inside parentheses
MAX_DIGITS = 24  # integer digits of any number: with DECIMALS places, decimal128's 34 exact digits
DECIMALS = 10
ALLOWED = "numbers, + - * / ( ), round/min/max/abs/sum, dates"
FUNCTIONS = frozenset({"round", "min", "max", "abs", "sum"})
LIMIT = Decimal(10) ** MAX_DIGITS
UNITS = {"day": (1, 0), "week": (7, 0), "month": (0, 1), "year": (0, 12)}  # (days, months) per unit

_DATE_CALL = re.compile(r"""date\s*\(\s*(?:(["'])([^"']*)\1|(\d{4}-\d{2}-\d{2}))\s*\)""", re.ASCII)
TODAY = re.compile(r"today\b(?:\s*\(\s*\))?", re.ASCII | re.IGNORECASE)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?![\w.])", re.ASCII)
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d|,\d)", re.ASCII)
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3}(?!\d))?", re.ASCII)
_UNIT = re.compile(r"\s*(day|week|month|year)s?\b", re.ASCII | re.IGNORECASE)
_PERCENT = re.compile(r"\s*%(\s*of\b)?", re.ASCII)
_OPERAND = re.compile(r"\s*[\w.(£$€¥]", re.ASCII)  # after '%', an operand makes it the remainder operator
_NAME = re.compile(r"[A-Za-z_]\w*", re.ASCII)
_CURRENCY = "£$€¥"
_DIGITS = "0123456789"  # str.isdigit() also takes other scripts' digits, which the patterns here do not
_SYMBOLS = {"×": "*", "÷": "/", "−": "-"}
_OPERATORS = frozenset("+-*/%(),.^")


@dataclass(frozen=True)
class Span:
    """A duration: only ever added to or subtracted from a date (months first, so month ends clamp)."""

    days: int = 0
    months: int = 0

    def __neg__(self) -> Span:
        return Span(-self.days, -self.months)


Value = Union[Decimal, int, date, Span]  # int: a number of days, the difference of two dates


def refused(message: str) -> InputError:
    return InputError(f"expression: {message}", field="expression")


def failed(message: str) -> ToolError:
    return ToolError(f"expression: {message}")


def places_of(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def kind_of(value: Value) -> str:
    if isinstance(value, Span):
        return "a duration"
    if isinstance(value, date):
        return "a date"
    return "a number of days" if isinstance(value, int) else "a number"


class Scan:
    """Turns the text into a Python expression whose only names are placeholders for the values read from it:
    numbers (currency signs and thousands commas dropped), percentages, dates, `today` and durations."""

    def __init__(self, text: str, today: date):
        self.text, self.today = text, today
        self.out: list[str] = []
        self.values: dict[str, Value] = {}
        self.places = 0  # the most decimal places a written number has: results keep at least as many
        self.calls: list[bool] = []  # per open parenthesis: is it a function's argument list

    def run(self) -> str:
        position = 0
        while position < len(self.text):
            position = self._token(position)
        return "".join(self.out)

    def _hold(self, value: Value) -> None:
        name = f"_v{len(self.values)}"  # the user's own names never start with '_': those are refused
        self.values[name] = value
        self.out.extend((" ", name, " "))  # spaced, so a name the user writes next to it stays apart

    def _last(self) -> str:
        return next((token for token in reversed(self.out) if token != " "), "")

    def _token(self, i: int) -> int:
        text, ch = self.text, self.text[i]
        if ch.isspace():
            self.out.append(" ")
            return i + 1
        if ch in _CURRENCY:
            j = i + 1
            while j < len(text) and text[j] == " ":
                j += 1
            if j == len(text) or text[j] not in _DIGITS + ".":
                raise refused(f"{ch!r} must come before a number, as in {ch}25.00")
            return self._number(j, grouped=True)
        if ch in _DIGITS or (ch == "." and text[i + 1:i + 2] in tuple(_DIGITS)):
            iso = _ISO.match(text, i)
            if iso:
                self._hold(self._date(iso.group(0)))
                return iso.end()
            return self._number(i, grouped=not (self.calls and self.calls[-1]))
        if ch.isalpha() or ch == "_":
            return self._name(i)
        if ch in "\"'":
            raise refused('text in quotes is not allowed (dates: 2025-03-01 or date("2025-03-01"))')
        symbol = _SYMBOLS.get(ch, ch)
        if symbol not in _OPERATORS:
            raise refused(f"{ch!r} is not allowed ({ALLOWED})")
        if symbol == "(":
            self.calls.append(self._last() in FUNCTIONS)
            if len(self.calls) > MAX_NESTING:
                raise refused(f"parentheses nested more than {MAX_NESTING} deep")
        elif symbol == ")" and self.calls:
            self.calls.pop()
        self.out.append(symbol)
        return i + 1

    def _number(self, i: int, grouped: bool) -> int:
        # Inside round/min/max/abs/sum a bare comma separates arguments: max(1,250) is 250; £1,250 is still 1250.
        match = (_GROUPED.match(self.text, i) if grouped else None) or _NUMBER.match(self.text, i)
        assert match is not None  # the caller saw a digit, or a point before one
        source = match.group(0)
        value = Decimal(source.replace(",", ""))
        if abs(value) >= LIMIT:
            raise refused(f"the number {source[:30]}{'...' if len(source) > 30 else ''} is beyond 10^{MAX_DIGITS}")
        unit = _UNIT.match(self.text, match.end())
        if unit:
            if not source.replace(",", "").isdigit():
                raise refused(f"a duration takes a whole number of {unit.group(1)}s, not {source}")
            days, months = UNITS[unit.group(1).lower()]
            count = int(source.replace(",", ""))
            self._hold(Span(days * count, months * count))
            return unit.end()
        self.places = min(DECIMALS, max(self.places, len(re.split("[eE]", source)[0].partition(".")[2])))
        percent = _PERCENT.match(self.text, match.end())
        if percent and (percent.group(1) or self._percent_sign(match.end(), percent.end())):
            self._hold(value.scaleb(-2))
            if percent.group(1):
                self.out.append("*")
            return percent.end()
        self._hold(value)
        return match.end()

    def _percent_sign(self, start: int, end: int) -> bool:
        """Is this '%' a percentage, not the remainder operator? Not when an operand follows ('10 % 3'); yes when
        it touches its number ('7% - 1') or ends the expression or a bracket ('250 * 12 %'); else the operator."""
        if _OPERAND.match(self.text, end):
            return False
        return self.text[start] == "%" or self.text[end:].lstrip()[:1] in ("", ")", ",")

    def _name(self, i: int) -> int:
        text = self.text
        if text.startswith("date", i):
            call = _DATE_CALL.match(text, i)
            if call:
                self._hold(self._date(call.group(2) if call.group(1) else call.group(3)))
                return call.end()
        today = TODAY.match(text, i) if text[i] in "tT" else None
        if today:
            self._hold(self.today)
            return today.end()
        match = _NAME.match(text, i)
        name = match.group(0) if match else text[i]
        if name in FUNCTIONS:
            self.out.append(name)
            return i + len(name)
        if text[:i].rstrip().endswith("."):
            raise refused(f"attribute access '.{name}' is not allowed ({ALLOWED})")
        if name.lower().rstrip("s") in UNITS:
            raise refused(f"{name!r} must follow a whole number, as in 30 days")
        if name == "of":
            raise refused("'of' follows a percentage, as in 12% of 250")
        if name == "date":
            raise refused('write a date as 2025-03-01 or date("2025-03-01")')
        raise refused(f"{name!r} is not allowed ({ALLOWED})")

    @staticmethod
    def _date(text: str) -> date:
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text, re.ASCII):  # fromisoformat alone takes 20250301 too
                return date.fromisoformat(text)
        except ValueError:
            pass
        raise refused(f"{text!r} is not a date (write dates as YYYY-MM-DD, and put spaces around '-' to subtract)")
