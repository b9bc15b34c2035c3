"""Geometry for the usage chart: a stacked bar per day, one colour per operation.

Computed here so the template only draws rectangles; the same numbers are shown in a table
next to the chart for screen readers and for anyone who prefers figures. Coordinates leave
here as text: SVG wants a decimal point whatever the reader's language. The bars leave as
SVG too (``bars_svg``): a 90-day chart of five operations has 450 of them, and a template loop
costs about ten times what joining the same elements here does.
"""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 40, 24, 10
PALETTE = ["#4f46e5", "#0e9384", "#dc6803", "#c11574", "#2e90fa", "#7a5af8", "#667085", "#15b79e"]


def _coordinate(value: float) -> str:
    return f"{value:.1f}"


def _bars_svg(bars: list[dict]) -> SafeString:
    """One ``<rect>`` per bar with its label as the accessible title; only the label is text
    from outside this module (an operation key), so only it is escaped."""
    return mark_safe(  # noqa: S308 - numbers and palette colours; the label escaped
        "\n".join(
            f'<rect x="{bar["x"]}" y="{bar["y"]}" width="{bar["width"]}" height="{bar["height"]}" '
            f'fill="{bar["colour"]}"><title>{escape(bar["label"])}</title></rect>'
            for bar in bars
        )
    )


def usage_chart(usage: dict) -> dict:
    days, series = usage["days"], usage["series"]
    peak = max(usage["max"], 1)
    plot_height = HEIGHT - BOTTOM - TOP
    step = (WIDTH - LEFT) / max(len(days), 1)
    bar_width = max(step * 0.7, 1)
    colours = {op: PALETTE[i % len(PALETTE)] for i, op in enumerate(usage["operations"])}
    bars = []
    for index, day in enumerate(days):
        y = HEIGHT - BOTTOM
        for operation in usage["operations"]:
            value = series[operation][index]
            if value <= 0:
                continue
            height = value / peak * plot_height
            y -= height
            bars.append(
                {
                    "x": _coordinate(LEFT + index * step),
                    "y": _coordinate(y),
                    "width": _coordinate(bar_width),
                    "height": _coordinate(height),
                    "colour": colours[operation],
                    "label": f"{day:%b %d}: {operation} {value} credits",
                }
            )
    label_every = max(len(days) // 6, 1)
    x_labels = [
        {"x": _coordinate(LEFT + i * step + bar_width / 2), "text": f"{day:%b %d}"}
        for i, day in enumerate(days)
        if i % label_every == 0
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        "bars_svg": _bars_svg(bars),
        "peak": usage["max"],
        "left": LEFT,
        "top": TOP,
        "baseline": HEIGHT - BOTTOM,
        "x_labels": x_labels,
        "legend": [{"operation": op, "colour": c} for op, c in colours.items()],
    }
