"""Citation markers as the reader sees them: passage numbers renumbered 1..n in the order the answer first uses them."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Iterable

from backend.generation.base import Passage

# "[4]", or "[4?]" once the verifier has flagged it; the blanks before it go with a marker that is dropped.
MARKER = re.compile(r"(?P<space>[ \t]*)\[(?P<number>\d{1,3})(?P<flag>\??)\]")


def removed_markers_notice(numbers: Iterable[int]) -> str:
    """What the reader is told when markers citing no retrieved passage were taken out of an answer."""
    return f"Removed citation marker(s) {sorted(set(numbers))}: no such passage was retrieved."


class MarkerNumbering:
    """Maps passage numbers to display numbers by first use, across every piece of text it is applied to.

    Applied piece by piece to a streamed answer and in one go to the same text, it gives the same numbers:
    the first passage the answer cites reads [1], the next new one [2], whatever their ranks in the context.
    A marker that cites no passage is dropped (and noted in `unknown`), so it neither shows nor takes a number.
    """

    def __init__(self, passage_numbers: Iterable[int]):
        self.known = {int(n) for n in passage_numbers}
        self.display: dict[int, int] = {}  # passage number -> the number the reader sees
        self.unknown: list[int] = []

    @classmethod
    def for_passages(cls, passages: Iterable[Passage]) -> MarkerNumbering:
        return cls(p.number for p in passages)

    def number(self, passage_number: int) -> int | None:
        """The display number of a passage (given on its first use), or None for a number no passage has."""
        if passage_number not in self.known:
            if passage_number not in self.unknown:
                self.unknown.append(passage_number)
            return None
        return self.display.setdefault(passage_number, len(self.display) + 1)

    def apply(self, text: str) -> str:
        def renumber(match: re.Match) -> str:
            shown = self.number(int(match["number"]))
            return "" if shown is None else f"{match['space']}[{shown}{match['flag']}]"

        return MARKER.sub(renumber, text)

    def passages(self, passages: Iterable[Passage]) -> list[Passage]:
        """The cited passages under their display numbers, in that order: what the verifier checks the text against."""
        cited = [replace(p, number=self.display[p.number]) for p in passages if p.number in self.display]
        return sorted(cited, key=lambda p: p.number)

    def notices(self) -> list[str]:
        return [removed_markers_notice(self.unknown)] if self.unknown else []
