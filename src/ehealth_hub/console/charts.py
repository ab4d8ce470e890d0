"""Small server-rendered charts: an SVG polyline of a series (no script, CSP-safe)."""

from __future__ import annotations

from collections.abc import Sequence

WIDTH = 180
HEIGHT = 36


def sparkline(values: Sequence[float | None], width: int = WIDTH, height: int = HEIGHT) -> str:
    """The ``points`` of a polyline drawing ``values`` left to right ('' for fewer than 2).

    Missing values (None) are drawn as 0; the highest value touches the top, 0 the bottom.
    """
    series = [v or 0.0 for v in values]
    if len(series) < 2:
        return ""
    top = max(series) or 1.0
    step = width / (len(series) - 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(series)
    )
