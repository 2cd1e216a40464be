"""Charts as server-rendered SVG: no chart library, no script, readable without colour.

Each chart is an `<svg role="img">` with a title and a description that states its numbers,
and every text it contains is escaped here (the output is trusted markup in templates).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

WIDTH = 640
BAR_HEIGHT = 18
LABEL_LINE = 16  # one line of a bar's label, above the bar
PALETTE = ("#1f5fbf", "#0b6b3a", "#a34a00", "#6a3fb5")


def _open(chart_id: str, title: str, desc: str, width: int, height: int) -> str:
    return (
        f'<svg class="chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>'
    )


def _width(text: str) -> float:
    """An upper bound of the width of `text` at 12 px in a sans-serif font (DejaVu Sans's
    widest glyphs in each class), so that text cut to it always fits."""
    total = 0.0
    for c in text:
        if c in "WM@%mw":
            total += 12.5
        elif c.isupper() or c.isdigit() or not c.isascii():
            total += 10.0
        elif c in "iljtfr .,:;'!|":
            total += 5.0
        else:
            total += 8.0
    return total


def wrap(text: str, room: float) -> list[str]:
    """`text` in lines that each fit in `room` pixels, broken between words (inside a word
    only when the word alone is wider than the room): a label is wrapped, never cut."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        while _width(word) > room:  # a word wider than the room: break it where it fills
            cut = len(word)
            while cut > 1 and _width(word[:cut]) > room:
                cut -= 1
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{line} {word}" if line else word
        if line and _width(candidate) > room:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line or not lines:
        lines.append(line)
    return lines


def bar_chart(chart_id: str, title: str, items: Sequence[tuple[str, float]]) -> str:
    """Horizontal bars, one per (label, value), largest first as given. Each label sits above
    its bar, across the chart's whole width, wrapped onto more lines when long: an article's
    title is readable whole and never runs past the chart's edge."""
    desc = "; ".join(f"{label}: {value:g}" for label, value in items) or "no data"
    wrapped = [wrap(label, WIDTH - 10) for label, _ in items]
    rows = [LABEL_LINE * len(lines) + BAR_HEIGHT + 10 for lines in wrapped]
    height = sum(rows) + 6 if items else LABEL_LINE + BAR_HEIGHT + 16
    parts = [_open(chart_id, title, desc, WIDTH, height)]
    if not items:
        parts.append(f'<text x="0" y="20" class="empty">{escape("No data in this period")}</text>')
    top = max((v for _, v in items), default=0) or 1
    bar_space = WIDTH - 60  # room for the value after the longest bar
    y = 4
    for (label, value), lines, row in zip(items, wrapped, rows, strict=True):
        width = max(bar_space * value / top, 1 if value else 0)
        spans = "".join(
            f'<tspan x="0" y="{y + 12 + i * LABEL_LINE}">{escape(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        bar_y = y + LABEL_LINE * len(lines)
        parts.append(
            f'<text class="bar-label">{spans}</text>'
            f'<rect x="0" y="{bar_y}" width="{width:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {value:g}</title></rect>'
            f'<text x="{width + 6:.1f}" y="{bar_y + BAR_HEIGHT - 4}">{value:g}</text>'
        )
        y += row
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    chart_id: str, title: str, days: Sequence[date], series: Sequence[tuple[str, Sequence[int]]]
) -> str:
    """Daily counts as lines (one per series) with a legend; dashes tell series apart too."""
    height, left, right, top_pad, bottom = 260, 56, 10, 30, 30  # left: 7-digit counts
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    totals = ", ".join(f"{name} {sum(values)}" for name, values in series)
    desc = f"{len(days)} days from {days[0]} to {days[-1]}; totals: {totals}" if days else ""
    parts = [_open(chart_id, title, desc or "no data", WIDTH, height)]
    peak = max((max(values, default=0) for _, values in series), default=0) or 1
    step = plot_w / max(len(days) - 1, 1)
    for fraction in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{peak * fraction:g}</text>'
        )
    if days:
        parts.append(
            f'<text x="{left}" y="{height - 8}">{escape(days[0].isoformat())}</text>'
            f'<text x="{WIDTH - right}" y="{height - 8}" text-anchor="end">'
            f"{escape(days[-1].isoformat())}</text>"
        )
    dashes = ("", "6 4", "2 3", "10 3 2 3")
    x = left  # the legend runs along the top; each entry as wide as its text
    for n, (name, values) in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join(
            f"{left + i * step:.1f},{top_pad + plot_h * (1 - v / peak):.1f}"
            for i, v in enumerate(values)
        )
        dash = f' stroke-dasharray="{dashes[n % len(dashes)]}"' if dashes[n % len(dashes)] else ""
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dash}>'
            f"<title>{escape(name)}</title></polyline>"
        )
        parts.append(
            f'<line x1="{x}" y1="12" x2="{x + 24}" y2="12" stroke="{colour}" '
            f'stroke-width="3"{dash}/>'
            f'<text x="{x + 30}" y="16">{escape(name)}</text>'
        )
        x += 30 + 7 * len(name) + 20
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: Sequence[int], label: str) -> str:
    """A small trend line for a table cell; the label says what it shows."""
    width, height = 100, 24
    peak = max(values, default=0) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (height - 4) * v / peak:.1f}" for i, v in enumerate(values)
    )
    return (
        f'<svg class="spark" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f'<polyline points="{points}" fill="none" stroke="{PALETTE[0]}" stroke-width="1.5"/></svg>'
    )
