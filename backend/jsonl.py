"""JSON Lines parsing shared by gold files, BEIR datasets and `ask --batch`: one object per line, errors name the line."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from backend.models import InputError


def json_objects(text: str, where: Callable[[int], str], bad_json: str = "not valid JSON") -> Iterator[tuple[int, dict]]:
    """(line number, object) per non-blank line; `where(number)` names the line in an InputError."""
    # split on \n only: splitlines() would also break at U+2028 inside a JSON string; a leading BOM is not JSON.
    for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where(number)}: {bad_json} ({exc.msg})") from None
        if not isinstance(row, dict):
            raise InputError(f"{where(number)}: expected a JSON object, got {type(row).__name__}")
        yield number, row
