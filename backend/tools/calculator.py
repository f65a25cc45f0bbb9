"""The `calculate` tool: exact arithmetic (Decimal) and date arithmetic by walking an allowlist of AST nodes, never eval."""
from __future__ import annotations

import ast
import calendar
from datetime import date, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field

from backend.tools.calculator_text import (
    ALLOWED,
    DECIMALS,
    FUNCTIONS,
    LIMIT,
    MAX_CHARS,
    MAX_DIGITS,
    TODAY,
    Scan,
    Span,
    Value,
    failed,
    kind_of,
    places_of,
    refused,
)
from backend.tools.spec import ALL_ROLES, Tool, ToolCaller, ToolOutput

MAX_DEPTH = 100  # levels of the syntax tree (a chain of signs): far inside Python's recursion limit
MAX_EXPONENT = 1000
_CONTEXT = Context(prec=MAX_DIGITS + DECIMALS, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])


_BINARY: dict[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
                            ast.Mod: "%", ast.Pow: "**"}


class _Walk:
    """Evaluates the parsed expression node by node; any node type not named here is refused."""

    def __init__(self, values: dict[str, Value], places: int):
        self.values, self.places = values, places

    def eval(self, node: ast.AST, depth: int = 0) -> Value:
        if depth > MAX_DEPTH:
            raise refused(f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Name) and node.id in self.values:
            return self.values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _binary(type(node.op), self.eval(node.left, depth + 1), self.eval(node.right, depth + 1))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            value = self.eval(node.operand, depth + 1)
            if isinstance(value, date):
                raise refused("a sign does not apply to a date")
            return value if isinstance(node.op, ast.UAdd) else -value
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
            if node.keywords:
                raise refused(f"keyword arguments are not allowed ({ALLOWED})")
            return self._call(node.func.id, [self.eval(arg, depth + 1) for arg in node.args])
        raise refused(_refusal(node))

    def _call(self, name: str, args: list[Value]) -> Value:
        if not args:
            raise refused(f"{name}() needs a value")
        if name in ("min", "max"):
            dates = [arg for arg in args if isinstance(arg, date)]
            if len(dates) == len(args):
                return min(dates) if name == "min" else max(dates)
            numbers = [_numeric(arg, name) for arg in args]
            return min(numbers) if name == "min" else max(numbers)
        if name == "sum":
            numbers = [_numeric(arg, name) for arg in args]
            days = [n for n in numbers if isinstance(n, int)]
            if len(days) == len(numbers):
                return sum(days)
            return _checked(sum((Decimal(n) for n in numbers), Decimal(0)))
        if name == "abs":
            if len(args) != 1:
                raise refused("abs() takes one value")
            number = _numeric(args[0], name)
            return -number if number < 0 else number
        if len(args) > 2:
            raise refused("round() takes a number and, optionally, decimal places: round(2.345, 2)")
        value = _numeric(args[0], name)
        places = 0
        if len(args) == 2:
            given = _numeric(args[1], "round's places")
            if given != int(given) or not -MAX_DIGITS <= int(given) <= DECIMALS:
                raise refused(f"round's places must be a whole number from -{MAX_DIGITS} to {DECIMALS}")
            places = int(given)
        if isinstance(value, int) and places >= 0:
            return value
        self.places = max(self.places, places)  # round(x, 2) shows two places, even 2.50
        return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _refusal(node: ast.AST) -> str:
    if isinstance(node, (ast.Tuple, ast.List)):
        return "a comma outside round/min/max/abs/sum is not allowed (write thousands as 1,250, decimals as 1.25)"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
        return "'^' is not allowed: write powers as 2 ** 3"
    return f"{_describe(node)} is not allowed ({ALLOWED})"


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return f"{node.id!r} without parentheses" if node.id in FUNCTIONS else repr(node.id)
    if isinstance(node, ast.Call):
        return "calling a value"
    if isinstance(node, ast.Attribute):
        return f"attribute access '.{node.attr}'"
    if isinstance(node, ast.Starred):
        return "'*' unpacking"
    if isinstance(node, ast.BinOp):
        return f"the operator {type(node.op).__name__}"
    if isinstance(node, ast.Constant):
        return repr(node.value)
    return f"{type(node).__name__!r}"


def _numeric(value: Value, where: str) -> Decimal | int:
    if isinstance(value, (date, Span)):
        raise refused(f"{where} takes numbers, not {kind_of(value)}")
    return value


def _checked(value: Decimal) -> Decimal:
    if abs(value) >= LIMIT:
        raise failed(f"a result beyond 10^{MAX_DIGITS} is out of range")
    return value


def _binary(op: type, left: Value, right: Value) -> Value:
    if isinstance(left, (date, Span)) or isinstance(right, (date, Span)):
        return _dates(op, left, right)
    if isinstance(left, int) and isinstance(right, int) and op in (ast.Add, ast.Sub):
        return left + right if op is ast.Add else left - right  # days and days: still days
    a, b = Decimal(left), Decimal(right)
    if op is ast.Add:
        return _checked(a + b)
    if op is ast.Sub:
        return _checked(a - b)
    if op is ast.Mult:
        return _checked(a * b)
    if op is ast.Pow:
        return _checked(_power(a, b))
    if b == 0:
        raise failed("division by zero")
    if op is ast.Div:
        return _checked(a / b)
    # Decimal's // and % truncate toward zero; Python (and people) floor: -7 // 2 is -4, -7 % 3 is 2.
    quotient, remainder = divmod(a, b)
    if remainder and (remainder < 0) != (b < 0):
        quotient, remainder = quotient - 1, remainder + b
    return _checked(quotient if op is ast.FloorDiv else remainder)


def _power(base: Decimal, exponent: Decimal) -> Decimal:
    if abs(exponent) > MAX_EXPONENT:
        raise failed(f"{base} ** {exponent} is too large (exponents up to {MAX_EXPONENT}, results below "
                      f"10^{MAX_DIGITS})")
    if base == 0:
        if exponent < 0:
            raise failed("division by zero")
        return Decimal(1) if exponent == 0 else Decimal(0)
    if base < 0 and exponent != exponent.to_integral_value():
        raise failed("a negative number to a fractional power is not a real number")
    if exponent * abs(base).log10() >= MAX_DIGITS:  # the result's digits, known before computing it
        raise failed(f"{base} ** {exponent} is beyond 10^{MAX_DIGITS}")
    return base**exponent


def _dates(op: type, left: Value, right: Value) -> Value:
    symbol = _BINARY[op]
    try:
        if isinstance(left, date) and isinstance(right, Span) and op in (ast.Add, ast.Sub):
            return _shift(left, right if op is ast.Add else -right)
        if isinstance(left, Span) and isinstance(right, date) and op is ast.Add:
            return _shift(right, left)
        if isinstance(left, date) and isinstance(right, date) and op is ast.Sub:
            return (left - right).days
    except (OverflowError, ValueError):
        raise failed("the date falls outside the years 1 to 9999") from None
    if isinstance(left, date) and isinstance(right, (Decimal, int)) and op in (ast.Add, ast.Sub):
        raise refused(f"give the unit: {symbol} {right} days (or weeks, months, years)")
    raise refused(f"'{symbol}' does not apply to {kind_of(left)} and {kind_of(right)}")


def _shift(day: date, span: Span) -> date:
    months = day.month - 1 + span.months
    year, month = day.year + months // 12, months % 12 + 1
    if not 1 <= year <= 9999:
        raise OverflowError(year)
    moved = date(year, month, min(day.day, calendar.monthrange(year, month)[1]))  # 31 Jan + 1 month: 28 Feb
    return moved + timedelta(days=span.days)


def _tidy(value: Decimal, written: int) -> Decimal:
    """At most DECIMALS places; trailing zeros dropped, down to the places the expression's own numbers show."""
    if places_of(value) > DECIMALS:
        value = value.quantize(Decimal(1).scaleb(-DECIMALS), rounding=ROUND_HALF_UP)
    keep = min(places_of(value), max(places_of(value.normalize()), written))
    return value.quantize(Decimal(1).scaleb(-keep))


def evaluate(expression: str, today: date | None = None) -> Decimal | date | int:
    """The value of an arithmetic or date expression: a Decimal, a date, or an int (days between two dates)."""
    if not isinstance(expression, str):
        raise refused("give the expression as text")
    text = expression.strip()
    if not text:
        raise refused("empty: give arithmetic such as 3 * 25.00")
    if len(text) > MAX_CHARS:
        raise refused(f"{len(text)} characters, more than the {MAX_CHARS} allowed")
    scan = Scan(text, today or date.today())
    source = scan.run().strip()  # a leading space is an "unexpected indent" to the parser
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise refused(f"cannot read it as arithmetic ({getattr(exc, 'msg', None) or 'invalid syntax'})") from None
    walk = _Walk(scan.values, scan.places)
    try:
        with localcontext(_CONTEXT):
            value = walk.eval(tree.body)
            if isinstance(value, Span):
                raise refused("the result is a duration: add it to a date, as in 2025-03-01 + 30 days")
            return _tidy(value, walk.places) if isinstance(value, Decimal) else value
    except DecimalException:
        raise failed("the arithmetic is undefined") from None


def format_value(value: Decimal | date | int) -> str:
    """A result as text: plain digits (no exponent, no '-0'), an ISO date, or a count of days."""
    if isinstance(value, Decimal):
        return format(abs(value) if value == 0 else value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _kind_name(value: Decimal | date | int) -> str:
    if isinstance(value, date):
        return "date"
    return "days" if isinstance(value, int) else "number"


class CalculateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expression: str = Field(..., min_length=1, max_length=MAX_CHARS, description=(
        "Arithmetic such as '3 * 25.00', '12% of 250', 'round(1250 / 12, 2)', or date arithmetic such as "
        "'2025-03-01 + 30 days' or 'today - 2025-01-01' (days between)."))


def calculate_tool(clock: Callable[[], date] = date.today) -> Tool:
    """The tool, with `today` from `clock` (tests pin it)."""

    def run(platform: Any, caller: ToolCaller, args: CalculateArgs) -> ToolOutput:
        expression = " ".join(args.expression.split())
        today = clock()
        value = evaluate(expression, today=today)
        shown = format_value(value)
        kind = _kind_name(value)
        data: dict[str, Any] = {"expression": expression, "value": shown, "kind": kind}
        text = f"{expression} = {shown}{' days' if kind == 'days' else ''}"
        if TODAY.search(expression):
            data["today"] = today.isoformat()
            text += f" (today is {today.isoformat()})"
        return ToolOutput(text=text, data=data)

    return Tool(
        name="calculate",
        description=(
            "Compute arithmetic exactly (decimal, never floating point) or date arithmetic. Numbers may carry "
            "£ $ € and thousands commas; N% is N/100 ('12% of 250', '250 * 12%'); + - * / // % ** and round(x, "
            "places) (half up), min, max, abs, sum(a, b, ...). Dates: 2025-03-01 or date(\"2025-03-01\"), today, "
            "+/- N days|weeks|months|years (month ends clamp), and date - date gives days. No variables."),
        arguments=CalculateArgs,
        run=run,
        roles=ALL_ROLES,
        scope="read",
        timeout_s=2.0,
    )


CALCULATE = calculate_tool()
