"""The closing lines every benchmark prints: a table of its figures, then the same as one JSON object."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def print_figures(figures: Mapping[str, Any], heading: str = "figure") -> None:
    """Print ``figures`` as a two-column table under ``heading``, then as JSON on the last line.

    Args:
        figures: Figure names (units in the names) to values; numbers with thousands separators.
        heading: The first column's title.
    """
    width = max(len(heading), *(len(k) for k in figures)) + 2
    print(f"{heading:<{width}}{'value':>14}")
    for name, value in figures.items():
        print(f"{name:<{width}}{_text(value):>14}")
    print(json.dumps(dict(figures)))


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or value.is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"
