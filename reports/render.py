"""Render ``reports.data.ReportData`` as one self-contained HTML file.

Inline CSS, inline SVG charts, no scripts, no network: the file opens offline and prints. Every
piece of untrusted text goes through Jinja2's autoescape; each chart's data is embedded as a
``<script type="application/json" id="data-...">`` block (never executed) equal to
``ReportData.chart_data()``.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from sqlmodel import Session

from crawlers.config import Settings
from reports import charts
from reports.data import EMOTION_ORDER, ReportData, report_data

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v, d=0: "—" if v is None else f"{v:.{d}%}"
    env.filters["signed"] = lambda v, d=2: "—" if v is None else f"{v:+.{d}f}"
    env.filters["pp"] = lambda v: "—" if v is None else f"{v * 100:+.1f} pp"
    env.filters["num"] = lambda v: "—" if v is None else f"{v:,}"
    env.filters["when"] = _when
    return env


def _when(iso: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if not iso:
        return "—"
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime(fmt) + " UTC"


def period_label(since_iso: str, until_iso: str) -> str:
    """``2026-10-01 – 2026-10-31 (UTC)`` for whole days (the end inclusive), else times."""
    since = datetime.fromisoformat(since_iso.replace("Z", "+00:00"))
    until = datetime.fromisoformat(until_iso.replace("Z", "+00:00"))
    if since.time() == until.time() == time(0):
        last = until - timedelta(days=1)
        if last == since:
            return f"{since:%Y-%m-%d} (UTC)"
        return f"{since:%Y-%m-%d} – {last:%Y-%m-%d} (UTC)"
    return f"{since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} (UTC)"


def json_block(value: Any) -> Markup:
    """JSON safe inside a <script> element: no '<', '>' or '&' survives unescaped."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _charts(data: ReportData) -> dict[str, Markup]:
    out: dict[str, Markup] = {}
    if data.empty:
        return out
    out["volume"] = Markup(charts.volume_chart(data.volume, data.bucket))
    out["nsr"] = Markup(charts.nsr_chart(data.volume, data.bucket))
    if data.emotions:
        rows = [
            (e["emotion"], e["share"], e["previous_share"],
             charts.EMOTION_COLORS.get(e["emotion"], "#6b7280"))
            for e in sorted(data.emotions, key=lambda e: EMOTION_ORDER.get(e["emotion"], 99))
        ]  # fmt: skip
        out["emotions"] = Markup(
            charts.hbar_chart(
                rows,
                "emotions",
                "Emotion mix",
                "Share of the period's labelled posts with each emotion; the dashed mark is "
                "the previous period's share.",
            )
        )
    entities = data.share_of_voice["entities"]
    sov_rows = [
        (e["name"], e["share"], e["previous_share"], "#1f4e8c" if e["brand"] else "#9aa5b1")
        for e in entities
    ]
    out["sov"] = Markup(
        charts.hbar_chart(
            sov_rows,
            "sov",
            "Share of voice",
            "Share of all posts mentioning the brand or a competitor that mention each; the "
            "dashed mark is the previous period's share.",
        )
    )
    return out


def render(data: ReportData) -> str:
    template = _env().get_template("report.html")
    blocks = {key: json_block(value) for key, value in data.chart_data().items()}
    return template.render(
        d=data,
        csp=CSP,
        period=period_label(data.since, data.until),
        previous=period_label(data.previous_since, data.since),
        charts=_charts(data),
        blocks=blocks,
        bar=lambda r, label="": Markup(
            charts.sentiment_bar(r["positive"], r.get("neutral", 0), r["negative"], label)
        ),
        font=charts.FONT,
        colors=charts.COLORS,
    )


def render_report(
    session: Session,
    settings: Settings,
    campaign: str,
    since: datetime,
    until: datetime,
    *,
    now: datetime | None = None,
) -> str:
    """The HTML sentiment report on ``campaign`` for [since, until)."""
    return render(report_data(session, settings, campaign, since, until, now=now))
