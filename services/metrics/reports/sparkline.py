"""Small SVG line charts (sparklines) for reports: a line an operator reads at a glance,
with the last value marked. Plain SVG text: no chart library, nothing to load."""

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 140, 32, 3


def sparkline(values: Sequence[float], *, title: str, colour: str = "#2f7d4f") -> str:
    """An SVG of `values` left to right, scaled to their own min and max."""
    if not values:
        values = [0]
    low, high = min(values), max(values)
    span = (high - low) or 1
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)
    points = [
        (PAD + i * step, HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD))
        for i, v in enumerate(values)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    last_x, last_y = points[-1]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img"><title>{escape(title)}</title>'
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>'
        f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2" fill="{colour}"/></svg>'
    )
