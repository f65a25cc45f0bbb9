"""Trace waterfall figure: a healthy span never looks like a failed one."""
import pandas as pd

from components.trace_waterfall import ERROR_COLOUR, KIND_COLOURS, waterfall_figure


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _reddish(colour: str) -> bool:
    red, green, blue = _rgb(colour)
    return red > 150 and red > 1.6 * max(green, blue)


def test_only_failed_spans_are_red():
    assert _reddish(ERROR_COLOUR)
    assert not [kind for kind, colour in KIND_COLOURS.items() if _reddish(colour)]
    spans = pd.DataFrame({
        "name": ["rag.ask", "generate", "generate"], "kind": ["CHAIN", "LLM", "LLM"], "depth": [0, 1, 1],
        "status": ["ok", "ok", "error"], "duration_ms": [10.0, 6.0, 2.0], "offset_ms": [0.0, 1.0, 8.0],
        "attributes": [{}, {}, {}],
    })
    colours = list(waterfall_figure(spans).data[0].marker.color)
    assert colours[2] == ERROR_COLOUR and colours[1] != ERROR_COLOUR and not _reddish(colours[1])
