"""Inline SVG charts, drawn from ``reports.data`` values only (no numbers of their own).

Each chart is an ``<svg role="img">`` with a ``<title>`` and ``<desc>`` and a ``<title>`` on
every mark (a tooltip and what a screen reader reads); text stays text, in the page's CJK font
stack. Every piece of text is XML-escaped here.
"""

from __future__ import annotations

import math
from datetime import datetime
from html import escape
from typing import Any

COLORS = {
    "positive": "#2f9e66",
    "neutral": "#a3adb8",
    "negative": "#d9463e",
    "unlabelled": "#dde2e7",
}
EMOTION_COLORS = {
    "happy": "#f2b134",
    "angry": "#d9463e",
    "sad": "#4a78c2",
    "fear": "#7b5ea7",
    "surprise": "#22a5a1",
    "neutral": "#a3adb8",
}
SERIES = ("positive", "neutral", "negative", "unlabelled")
FONT = (
    "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',"
    "'WenQuanYi Micro Hei',sans-serif,'Noto Color Emoji'"
)


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _svg(width: int, height: int, title: str, desc: str, body: list[str], ident: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{ident}-t {ident}-d" class="chart" '
        f'font-family="{_e(FONT)}" font-size="12">'
        f'<title id="{ident}-t">{_e(title)}</title><desc id="{ident}-d">{_e(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def nice_axis(value: float, ticks: int = 5) -> tuple[float, float]:
    """A round axis maximum at or above ``value`` and its tick step (1, 2 or 5 x 10^k)."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / ticks
    exp = 10 ** math.floor(math.log10(raw))
    step = next(m * exp for m in (1, 2, 5, 10) if raw <= m * exp)
    if value >= 1 and step < 1:
        step = 1.0
    return math.ceil(value / step) * step, step


def _bucket_label(iso: str, bucket: str) -> str:
    when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return when.strftime("%m-%d %H:00") if bucket == "hour" else when.strftime("%m-%d")


def volume_chart(volume: list[dict[str, Any]], bucket: str) -> str:
    """Stacked bars: posts per bucket by sentiment."""
    width, height, left, right, top, bottom = 960, 300, 48, 12, 28, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(volume))
    peak, tick = nice_axis(max((v["total"] for v in volume), default=0))
    step = plot_w / n
    bar_w = max(1.0, step * 0.8)
    body = _y_axis(left, top, plot_w, plot_h, peak, tick)
    for i, slot in enumerate(volume):
        x = left + i * step + (step - bar_w) / 2
        y = top + plot_h
        label = _bucket_label(slot["bucket"], bucket)
        tip = f"{label}: {slot['total']} posts — " + ", ".join(
            f"{s} {slot[s]}" for s in SERIES if slot[s]
        )
        body.append(f"<g><title>{_e(tip)}</title>")
        for s in SERIES:
            h = slot[s] / peak * plot_h
            if h <= 0:
                continue
            y -= h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{COLORS[s]}"/>'
            )
        body.append("</g>")
    every = max(1, math.ceil(n / 12))
    for i, slot in enumerate(volume):
        if i % every:
            continue
        x = left + i * step + step / 2
        body.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="#4b5563">'
            f"{_e(_bucket_label(slot['bucket'], bucket))}</text>"
        )
    body.append(_legend(left, height - 8, [(s, COLORS[s]) for s in SERIES]))
    total = sum(v["total"] for v in volume)
    return _svg(
        width,
        height,
        f"Posts per {bucket} by sentiment",
        f"Stacked bars of {total} posts in {len(volume)} {bucket}s: positive, neutral, "
        "negative and unlabelled. The data table below lists every value.",
        body,
        "volume",
    )


def nsr_chart(volume: list[dict[str, Any]], bucket: str) -> str:
    """Net sentiment ratio per bucket, -1 to 1, with a zero line; gaps without polar posts."""
    width, height, left, right, top, bottom = 960, 220, 48, 12, 16, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(volume))
    step = plot_w / n

    def y_of(v: float) -> float:
        return top + (1 - (v + 1) / 2) * plot_h

    body = []
    for tick in (-1, -0.5, 0, 0.5, 1):
        y = y_of(tick)
        stroke = "#6b7280" if tick == 0 else "#e5e7eb"
        label = "0" if tick == 0 else f"{tick:+g}"
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{stroke}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#4b5563">{label}</text>'
        )
    segments: list[list[tuple[float, float]]] = [[]]
    points = []
    for i, slot in enumerate(volume):
        x = left + i * step + step / 2
        if slot["nsr"] is None:
            if segments[-1]:
                segments.append([])
            continue
        y = y_of(slot["nsr"])
        segments[-1].append((x, y))
        points.append((x, y, slot))
    for seg in segments:
        if len(seg) > 1:
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
            body.append(f'<polyline points="{d}" fill="none" stroke="#1f4e8c" stroke-width="2"/>')
    for x, y, slot in points:
        color = COLORS["positive"] if slot["nsr"] >= 0 else COLORS["negative"]
        tip = (
            f"{_bucket_label(slot['bucket'], bucket)}: NSR {slot['nsr']:+.2f} "
            f"({slot['positive']} positive, {slot['negative']} negative)"
        )
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"><title>{_e(tip)}</title>'
            "</circle>"
        )
    every = max(1, math.ceil(n / 12))
    for i, slot in enumerate(volume):
        if i % every == 0:
            x = left + i * step + step / 2
            body.append(
                f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="#4b5563">'
                f"{_e(_bucket_label(slot['bucket'], bucket))}</text>"
            )
    return _svg(
        width,
        height,
        f"Net sentiment ratio per {bucket}",
        "Line of (positive - negative) / (positive + negative) per bucket from -1 to +1; "
        "buckets without positive or negative posts are gaps.",
        body,
        "nsr",
    )


def hbar_chart(
    rows: list[tuple[str, float | None, float | None, str]],
    ident: str,
    title: str,
    desc: str,
    fmt: str = "{:.0%}",
    width: int = 480,
) -> str:
    """Horizontal bars: (label, current value, previous value or None, colour), values 0..1."""
    row_h, left, right = 30, 100, 60
    height = 16 + row_h * max(1, len(rows)) + 22
    plot_w = width - left - right
    peak = max([v or 0 for _, v, p, _ in rows] + [p or 0 for _, _, p, _ in rows] + [0.0001])
    body = []
    for i, (label, value, prev, color) in enumerate(rows):
        y = 16 + i * row_h
        w = (value or 0) / peak * plot_w
        shown = "—" if value is None else fmt.format(value)
        tip = f"{label}: {shown}" + ("" if prev is None else f" (previous {fmt.format(prev)})")
        body.append(
            f"<g><title>{_e(tip)}</title>"
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" fill="#111827">{_e(label)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="16" rx="2" fill="{color}"/>'
        )
        if prev is not None:
            px = left + prev / peak * plot_w
            body.append(
                f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{y}" y2="{y + 22}" stroke="#111827" '
                'stroke-width="2" stroke-dasharray="3 2"/>'
            )
        end = max(w, 0 if prev is None else prev / peak * plot_w)
        body.append(
            f'<text x="{left + end + 6:.1f}" y="{y + 15}" fill="#374151">{_e(shown)}</text></g>'
        )
    if any(p is not None for _, _, p, _ in rows):
        y = height - 8
        body.append(
            f'<line x1="{left}" x2="{left + 18}" y1="{y - 4}" y2="{y - 4}" stroke="#111827" '
            'stroke-width="2" stroke-dasharray="3 2"/>'
            f'<text x="{left + 24}" y="{y}" fill="#4b5563">previous period</text>'
        )
    return _svg(width, height, title, desc, body, ident)


def sentiment_bar(positive: int, neutral: int, negative: int, label: str) -> str:
    """A small 100% bar of one row's sentiment (tables of keywords, topics, voices)."""
    total = positive + neutral + negative
    width, height = 120, 12
    body = []
    x = 0.0
    for name, n in (("positive", positive), ("neutral", neutral), ("negative", negative)):
        if not total or not n:
            continue
        w = n / total * width
        body.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{COLORS[name]}"/>'
        )
        x += w
    if not total:
        body.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f3f4f6"/>')
    tip = f"{label}: {positive} positive, {neutral} neutral, {negative} negative"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(tip)}" class="mini"><title>{_e(tip)}'
        "</title>" + "".join(body) + "</svg>"
    )


def _y_axis(left: int, top: int, plot_w: int, plot_h: int, peak: float, tick: float) -> list[str]:
    out = []
    for k in range(round(peak / tick) + 1):
        v = tick * k
        y = top + plot_h - plot_h * v / peak
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{"#9ca3af" if k == 0 else "#e5e7eb"}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#4b5563">{v:g}</text>'
        )
    return out


def _legend(x: int, y: int, items: list[tuple[str, str]]) -> str:
    out = []
    for name, color in items:
        out.append(
            f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{color}"/>'
            f'<text x="{x + 16}" y="{y}" fill="#374151">{_e(name)}</text>'
        )
        x += 24 + 8 * len(name)
    return "".join(out)
