"""Bar charts as inline SVG, drawn on the server: no chart library, nothing fetched at run time, readable by
screen readers (a title, a description with the totals, and one `<title>` per bar for pointer hover).

The SVG scales to its container (`viewBox`, width 100%), so it fits a laptop and a tablet alike.
"""

from __future__ import annotations

from datetime import date
from html import escape

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 12, 28


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2 or 5 times a power of ten at or above `value`, so the axis reads in round numbers."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def _short(n: int) -> str:
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size:
            text = f"{n / size:.1f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return str(n)


def bar_chart(chart_id: str, title: str, days: list[date], values: list[int]) -> str:
    top = _nice_ceiling(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.7, 1.0)
    total = sum(values)
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{total} in total from {days[0].isoformat() if days else ""} '
        f"to {days[-1].isoformat() if days else ''}; the highest day has {max(values, default=0)}.</desc>",
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - fraction)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{_short(round(top * fraction))}</text>")  # fmt: skip
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        h = plot_h * value / top
        x = LEFT + i * slot + (slot - bar_w) / 2
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
            f"<title>{day.isoformat()}: {value}</title></rect>"
        )
    label_every = max(1, len(days) // 6)
    for i in range(0, len(days), label_every):
        x = LEFT + i * slot + slot / 2
        parts.append(
            f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{days[i].strftime("%d %b")}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
