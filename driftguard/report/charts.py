"""Charts as inline SVG, drawn on the server: no JavaScript, no fonts or files fetched.

Every chart carries a ``<title>`` and a ``<desc>`` (read by screen readers and shown as a
tooltip), uses ``role="img"``, and never relies on colour alone: reference and current series
differ in fill pattern as well as colour, and verdicts are written out as text. All text is
escaped, so a feature or group named ``<script>`` is drawn as those characters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

REFERENCE_COLOUR = "#8a94a6"
CURRENT_COLOUR = "#2563eb"
VERDICT_COLOURS = {
    "ok": "#15803d",
    "warning": "#b45309",
    "critical": "#b91c1c",
    "insufficient_data": "#6b7280",
}


def _uid(prefix: str, *content: object) -> str:
    """An id derived from what it names, so re-rendering a report gives identical bytes."""
    return prefix + hashlib.sha256(repr(content).encode()).hexdigest()[:10]


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _svg(width: int, height: int, title: str, desc: str, body: str) -> Markup:
    title_id, desc_id = _uid("t", title, desc), _uid("d", title, desc)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{title_id} {desc_id}" class="chart">'
        f'<title id="{title_id}">{escape(title)}</title>'
        f'<desc id="{desc_id}">{escape(desc)}</desc>{body}</svg>'
    )


def distribution_chart(
    labels: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    *,
    title: str,
    width: int = 560,
    height: int = 220,
) -> Markup:
    """Grouped bars of reference vs current shares per bin or category (shares in [0, 1])."""
    if not (len(labels) == len(reference) == len(current)) or not labels:
        raise ValueError("labels, reference and current must be non-empty and the same length")
    left, bottom, top = 44, 46, 26
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max(max(reference), max(current), 1e-9)
    group_w = plot_w / len(labels)
    bar_w = max(group_w * 0.38, 1.0)
    hatch = "dg-hatch"  # one identical pattern definition may be shared by every chart
    parts = [
        f'<defs><pattern id="{hatch}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{CURRENT_COLOUR}"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2"/></pattern></defs>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#9ca3af"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" class="axis">{_fmt(peak * 100)}%'
        "</text>",
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" class="axis">0%</text>',
    ]
    for i, (label, ref, cur) in enumerate(zip(labels, reference, current, strict=True)):
        x = left + i * group_w + group_w * 0.1
        for offset, value, fill, name in (
            (0.0, ref, REFERENCE_COLOUR, "reference"),
            (bar_w, cur, f"url(#{hatch})", "current"),
        ):
            h = plot_h * value / peak
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{fill}"><title>{escape(label)}: {name} '
                f"{value:.1%}</title></rect>"
            )
        short = label if len(label) <= 12 else label[:11] + "…"
        parts.append(
            f'<text x="{x + bar_w:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
            f'class="axis" transform="rotate(30 {x + bar_w:.1f} {top + plot_h + 14})">'
            f"{escape(short)}</text>"
        )
    parts.append(
        _legend(left, 14, [("reference", REFERENCE_COLOUR), ("current", f"url(#{hatch})")])
    )
    desc = "; ".join(
        f"{label}: reference {ref:.1%}, current {cur:.1%}"
        for label, ref, cur in zip(labels, reference, current, strict=True)
    )
    return _svg(width, height, title, desc, "".join(parts))


def _legend(x: int, y: int, items: list[tuple[str, str]]) -> str:
    out = []
    for name, fill in items:
        out.append(
            f'<rect x="{x}" y="{y - 9}" width="12" height="10" fill="{fill}" '
            f'stroke="#374151" stroke-width="0.5"/><text x="{x + 16}" y="{y}" class="axis">'
            f"{escape(name)}</text>"
        )
        x += 24 + 7 * len(name)
    return "".join(out)


@dataclass(frozen=True)
class RateBar:
    """One group's rate with its confidence interval, for :func:`interval_chart`."""

    label: str
    rate: float | None
    low: float | None = None
    high: float | None = None
    verdict: str = "ok"


def interval_chart(
    bars: Sequence[RateBar],
    *,
    title: str,
    reference_value: float | None = None,
    reference_label: str = "",
    width: int = 560,
) -> Markup:
    """Horizontal bars with 95% interval whiskers, one row per group; rates in [0, 1]."""
    row_h, left, right = 26, 150, 70
    height = row_h * len(bars) + 40
    plot_w = width - left - right
    parts = [
        f'<line x1="{left}" y1="20" x2="{left}" y2="{height - 18}" stroke="#9ca3af"/>',
        f'<text x="{left}" y="{height - 4}" class="axis">0%</text>',
        f'<text x="{left + plot_w}" y="{height - 4}" text-anchor="end" class="axis">100%</text>',
    ]
    for i, bar in enumerate(bars):
        y = 24 + i * row_h
        short = bar.label if len(bar.label) <= 20 else bar.label[:19] + "…"
        parts.append(
            f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" class="axis">'
            f"{escape(short)}</text>"
        )
        if bar.rate is None:
            parts.append(f'<text x="{left + 6}" y="{y + 12}" class="axis">insufficient data</text>')
            continue
        colour = VERDICT_COLOURS.get(bar.verdict, CURRENT_COLOUR)
        parts.append(
            f'<rect x="{left}" y="{y + 2}" width="{plot_w * bar.rate:.1f}" height="14" '
            f'fill="{colour}" opacity="0.85"><title>{escape(bar.label)}: {bar.rate:.1%}'
            f"</title></rect>"
        )
        if bar.low is not None and bar.high is not None:
            x1, x2 = left + plot_w * bar.low, left + plot_w * bar.high
            parts.append(
                f'<line x1="{x1:.1f}" y1="{y + 9}" x2="{x2:.1f}" y2="{y + 9}" stroke="#111827" '
                f'stroke-width="1.5"/><line x1="{x1:.1f}" y1="{y + 4}" x2="{x1:.1f}" '
                f'y2="{y + 14}" stroke="#111827"/><line x1="{x2:.1f}" y1="{y + 4}" '
                f'x2="{x2:.1f}" y2="{y + 14}" stroke="#111827"/>'
            )
        parts.append(
            f'<text x="{left + plot_w + 6}" y="{y + 12}" class="axis">{bar.rate:.1%} '
            f"{escape(bar.verdict.replace('_', ' '))}</text>"
        )
    if reference_value is not None:
        x = left + plot_w * reference_value
        parts.append(
            f'<line x1="{x:.1f}" y1="16" x2="{x:.1f}" y2="{height - 18}" stroke="#111827" '
            f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="14" class="axis">'
            f"{escape(reference_label)}</text>"
        )
    desc = "; ".join(
        f"{b.label}: {'insufficient data' if b.rate is None else f'{b.rate:.1%}'}"
        + (
            f" (95% CI {b.low:.1%} to {b.high:.1%})"
            if b.low is not None and b.high is not None
            else ""
        )
        for b in bars
    )
    return _svg(width, height, title, desc, "".join(parts))


def trend_chart(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    bands: Sequence[tuple[float, str]] = (),
    y_max: float = 100.0,
    width: int = 560,
    height: int = 180,
) -> Markup:
    """A line over runs (oldest first); ``bands`` draw labelled threshold lines (e.g. 50, 70)."""
    left, bottom, top = 36, 30, 14
    plot_w, plot_h = width - left - 12, height - bottom - top
    n = max(len(points), 1)
    step = plot_w / max(n - 1, 1)

    def y(value: float) -> float:
        return top + plot_h * (1 - min(max(value, 0), y_max) / y_max)

    parts = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#9ca3af"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" class="axis">{_fmt(y_max)}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" class="axis">0</text>',
    ]
    for level, name in bands:
        parts.append(
            f'<line x1="{left}" y1="{y(level):.1f}" x2="{left + plot_w}" y2="{y(level):.1f}" '
            f'stroke="#d1d5db" stroke-dasharray="3 3"/><text x="{left + plot_w}" '
            f'y="{y(level) - 3:.1f}" text-anchor="end" class="axis">{escape(name)} '
            f"({_fmt(level)})</text>"
        )
    coords = [(left + i * step, y(v)) for i, (_, v) in enumerate(points) if v is not None]
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in coords)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{CURRENT_COLOUR}" stroke-width="2"/>'
        )
    for i, (label, value) in enumerate(points):
        if value is None:
            continue
        parts.append(
            f'<circle cx="{left + i * step:.1f}" cy="{y(value):.1f}" r="3.5" '
            f'fill="{CURRENT_COLOUR}"><title>{escape(label)}: {_fmt(value)}</title></circle>'
        )
    if points:
        parts.append(
            f'<text x="{left}" y="{height - 8}" class="axis">{escape(points[0][0])}</text>'
        )
        parts.append(
            f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end" '
            f'class="axis">{escape(points[-1][0])}</text>'
        )
    desc = (
        "; ".join(f"{label}: {'not computed' if v is None else _fmt(v)}" for label, v in points)
        or "no runs yet"
    )
    return _svg(width, height, title, desc, "".join(parts))


def breakdown_chart(
    components: Sequence[tuple[str, float | None, float]],
    *,
    title: str,
    width: int = 560,
) -> Markup:
    """One bar per risk component (0-100) with its weight; missing components say so."""
    row_h, left, right = 24, 110, 120
    height = row_h * len(components) + 12
    plot_w = width - left - right
    parts = []
    for i, (name, value, weight) in enumerate(components):
        y = 6 + i * row_h
        parts.append(
            f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" class="axis">'
            f"{escape(name)}</text>"
        )
        if value is None:
            parts.append(
                f'<text x="{left + 4}" y="{y + 12}" class="axis">missing (not counted)</text>'
            )
            continue
        colour = (
            VERDICT_COLOURS["critical"]
            if value >= 70
            else VERDICT_COLOURS["warning"]
            if value >= 50
            else VERDICT_COLOURS["ok"]
        )
        parts.append(
            f'<rect x="{left}" y="{y + 2}" width="{plot_w * min(value, 100) / 100:.1f}" '
            f'height="14" fill="{colour}"><title>{escape(name)}: {_fmt(value)}</title></rect>'
            f'<text x="{left + plot_w + 6}" y="{y + 12}" class="axis">{_fmt(value)} '
            f"(weight {_fmt(weight)})</text>"
        )
    desc = "; ".join(
        f"{name}: {'missing' if v is None else _fmt(v)} with weight {_fmt(w)}"
        for name, v, w in components
    )
    return _svg(width, height, title, desc, "".join(parts))


GRADE_COLOURS = {
    "A": "#15803d",
    "B": "#4d7c0f",
    "C": "#a16207",
    "D": "#c2410c",
    "F": "#b91c1c",
    "–": "#6b7280",
}


def grade_chart(counts: Sequence[tuple[str, int]], *, title: str, width: int = 560) -> Markup:
    """Vertical bars of how many models hold each grade; each bar is labelled with its count."""
    height, left, bottom, top = 170, 16, 34, 22
    plot_w, plot_h = width - 2 * left, height - bottom - top
    peak = max((n for _, n in counts), default=0) or 1
    slot = plot_w / max(len(counts), 1)
    bar_w = slot * 0.56
    parts = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#9ca3af"/>'
    ]
    for i, (grade, n) in enumerate(counts):
        x = left + i * slot + (slot - bar_w) / 2
        h = plot_h * n / peak
        colour = GRADE_COLOURS.get(grade, "#6b7280")
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>grade {escape(grade)}: {n} model(s)</title></rect>'
            f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - h - 5:.1f}" text-anchor="middle" '
            f'class="axis">{n}</text>'
            f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
            f'class="axis grade-label">{escape(grade)}</text>'
        )
    desc = "; ".join(f"grade {grade}: {n} model(s)" for grade, n in counts)
    return _svg(width, height, title, desc, "".join(parts))


def sparkline(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    y_max: float = 100.0,
    width: int = 120,
    height: int = 28,
) -> Markup:
    """A small line of recent risk scores (oldest first) for a table cell; no axes."""
    pad = 3
    values = [(i, v) for i, (_, v) in enumerate(points) if v is not None]
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def y(value: float) -> float:
        return pad + (height - 2 * pad) * (1 - min(max(value, 0), y_max) / y_max)

    parts = []
    if len(values) > 1:
        path = " ".join(f"{pad + i * step:.1f},{y(v):.1f}" for i, v in values)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{CURRENT_COLOUR}" stroke-width="1.5"/>'
        )
    if values:
        i, v = values[-1]
        parts.append(f'<circle cx="{pad + i * step:.1f}" cy="{y(v):.1f}" r="2.5" fill="#111827"/>')
    desc = (
        "; ".join(f"{label}: {'not scored' if v is None else _fmt(v)}" for label, v in points)
        or "no runs yet"
    )
    svg = _svg(width, height, title, desc, "".join(parts))
    return Markup(str(svg).replace('width="100%"', f'width="{width}" height="{height}"', 1))
