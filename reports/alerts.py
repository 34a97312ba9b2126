"""Negative-spike alerts per campaign: detection, one alert per episode, webhook and e-mail.

Detection (``evaluate``), per campaign and per full UTC hour ``H``:

* counts of the campaign's posts created in ``H`` labelled negative and positive (latest label
  version; the campaign's posts as in ``reports.scope``), and NSR = (pos - neg) / (pos + neg);
* the baseline knows the time of day: the same clock hour on each of the previous
  ``[alerts] baseline_days`` days (28 by default: four of each weekday), so a busy evening is
  compared with other evenings and a quiet night with other nights;
* **negative count**: robust z = (neg - median) / scale, scale = max(1.4826 * MAD,
  sqrt(max(median, 1))). Median and MAD (median absolute deviation) shrug off past spikes in
  the baseline, which a mean and standard deviation would absorb; the Poisson floor
  sqrt(median) keeps sparse hours (MAD = 0 when most nights have no negative post) from
  turning one post into an infinite z. The hour alerts when z >= ``z`` (3.5) **and**
  neg >= ``min_count`` (10): statistically odd but tiny blips (3 posts at 4 am) stay quiet;
* **NSR drop**: with pos + neg >= ``min_count``, the hour alerts when its NSR is below the
  baseline NSR (pooled over the same baseline hours) by more than ``nsr_drop`` (0.5) and by
  more than ``z`` standard errors of an NSR of that volume (2 sqrt(p (1 - p) / n), p the
  baseline share of negatives), so ten posts cannot swing it alone;
* **cold start**: until the campaign has ``min_history_days`` (7) days of history (since its
  first crawl run, or its first post when there is none) nothing alerts; the summary says
  which campaigns are still learning. A week holds every clock hour seven times: the least
  for a median and MAD that mean something.

Each check evaluates the last ``check_hours`` full hours, because crawls and labels arrive
late (an hour's count grows as its posts are crawled and labelled).

De-duplication: an alert is one *episode*: ``Alert`` rows of kind ``negative_spike``, source
``campaign:NAME``, ``dedup_key`` = ``negative_spike:NAME:<first hour>``. An alerting hour within
``reopen_after_hours`` of the episode's hours extends it (its hours, peak and posts are
updated; nothing is sent again); a spike after that many quiet hours opens a new episode.
Re-running a check over the same hours changes nothing.

Delivery: each configured channel (``webhook_url``, ``smtp_host``) keeps its state in the
alert's ``detail["delivery"]`` (pending / sent / failed, attempts, last error), committed after
each attempt: a failed delivery is retried by the next check, a sent one never repeats.
Episodes that started more than ``DELIVERY_WINDOW`` ago are not delivered late.
"""

from __future__ import annotations

import hashlib
import hmac
import html as htmllib
import json
import logging
import math
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlmodel import Session, col

from crawlers.config import AlertsSettings, Campaign, Settings
from crawlers.models import Account, Alert, CrawlRun, InfluenceScore, Post, PostLabel, ScoreRun
from crawlers.models import utcnow as _utcnow
from crawlers.store import latest_label_version
from reports.mail import DeliveryError, build_message, send_message, smtp_configured
from reports.scope import campaign_clause, campaign_or_error, columns, post_url

logger = logging.getLogger(__name__)
P, L, A = columns(Post), columns(PostLabel), columns(Account)
R, S, C = columns(ScoreRun), columns(InfluenceScore), columns(CrawlRun)

KIND = "negative_spike"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
#: an episode not delivered this long after its first hour is no longer sent
DELIVERY_WINDOW = timedelta(hours=24)
MAD_TO_SD = 1.4826


def floor_hour(when: datetime) -> datetime:
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.replace(minute=0, second=0, microsecond=0)


def _iso(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%dT%H:00:00Z")


def _parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


# --- detection (pure) -----------------------------------------------------------------------


@dataclass
class Verdict:
    """What ``evaluate`` found for one hour."""

    hour: datetime
    negative: int
    positive: int
    alert: bool = False
    reasons: list[str] = field(default_factory=list)
    cold_start: bool = False
    history_days: int = 0
    median: float = 0.0
    scale: float = 0.0
    z: float = 0.0
    nsr: float | None = None
    baseline_nsr: float | None = None

    def as_detail(self) -> dict[str, Any]:
        out = asdict(self)
        out["hour"] = _iso(self.hour)
        return out


def nsr(positive: int, negative: int) -> float | None:
    """Net sentiment rate (pos - neg) / (pos + neg); None without either."""
    total = positive + negative
    return (positive - negative) / total if total else None


def robust_z(value: float, baseline: Sequence[float]) -> tuple[float, float, float]:
    """(z, median, scale): z of ``value`` against the median and MAD of ``baseline``, the
    scale floored at the Poisson sd sqrt(max(median, 1))."""
    med = statistics.median(baseline)
    mad = statistics.median([abs(b - med) for b in baseline])
    scale = max(MAD_TO_SD * mad, math.sqrt(max(med, 1.0)))
    return (value - med) / scale, med, scale


def evaluate(
    counts: dict[datetime, tuple[int, int]],
    hour: datetime,
    history_start: datetime | None,
    cfg: AlertsSettings,
) -> Verdict:
    """Judge ``hour`` from ``counts`` {hour: (positive, negative)} (hours absent count 0).

    The baseline is the same clock hour on each earlier day since ``history_start``, at most
    ``cfg.baseline_days`` of them; fewer than ``cfg.min_history_days`` is a cold start."""
    pos, neg = counts.get(hour, (0, 0))
    verdict = Verdict(hour=hour, negative=neg, positive=pos, nsr=nsr(pos, neg))
    days = [
        hour - k * DAY
        for k in range(1, cfg.baseline_days + 1)
        if history_start is not None and hour - k * DAY >= floor_hour(history_start)
    ]
    verdict.history_days = len(days)
    if len(days) < cfg.min_history_days:
        verdict.cold_start = True
        return verdict
    base = [counts.get(d, (0, 0)) for d in days]
    z, med, scale = robust_z(neg, [n for _, n in base])
    verdict.z, verdict.median, verdict.scale = round(z, 3), med, round(scale, 3)
    if z >= cfg.z and neg >= cfg.min_count:
        verdict.reasons.append(
            f"{neg} negative posts, usually {med:g} at this hour (robust z {z:.1f})"
        )
    base_pos, base_neg = sum(p for p, _ in base), sum(n for _, n in base)
    verdict.baseline_nsr = nsr(base_pos, base_neg)
    if (
        cfg.nsr_drop > 0
        and verdict.nsr is not None
        and verdict.baseline_nsr is not None
        and pos + neg >= cfg.min_count
    ):
        share = base_neg / (base_pos + base_neg)
        share = min(max(share, 0.05), 0.95)  # a baseline of all one kind still has noise
        se = 2 * math.sqrt(share * (1 - share) / (pos + neg))
        drop = verdict.baseline_nsr - verdict.nsr
        if drop > cfg.nsr_drop and drop > cfg.z * se:
            verdict.reasons.append(
                f"NSR {verdict.nsr:+.2f}, usually {verdict.baseline_nsr:+.2f} at this hour"
            )
    verdict.alert = bool(verdict.reasons)
    return verdict


# --- data -----------------------------------------------------------------------------------


def _hour_key(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", P.created_at)
    return func.strftime("%Y-%m-%d %H:00:00", P.created_at)


def _as_hour(value: Any) -> datetime:
    if isinstance(value, datetime):
        return floor_hour(value)
    return floor_hour(datetime.fromisoformat(str(value)))


def hourly_counts(
    session: Session, campaign: Campaign, version: str, start: datetime, end: datetime
) -> dict[datetime, tuple[int, int]]:
    """{hour: (positive, negative)} of the campaign's posts created in ``[start, end)``."""
    key = _hour_key(session).label("hour")
    stmt = (
        select(key, L.sentiment, func.count())
        .select_from(Post)
        .join(PostLabel, L.post_id == P.id)
        .where(
            L.model_version == version,
            L.sentiment.in_(("positive", "negative")),
            campaign_clause(campaign),
            P.created_at >= start,
            P.created_at < end,
        )
        .group_by(key, L.sentiment)
    )
    out: dict[datetime, list[int]] = {}
    for hour, sentiment, n in session.execute(stmt):
        slot = out.setdefault(_as_hour(hour), [0, 0])
        slot[0 if sentiment == "positive" else 1] += int(n)
    return {h: (p, n) for h, (p, n) in out.items()}


def history_start(session: Session, name: str, campaign: Campaign) -> datetime | None:
    """When monitoring of the campaign began: its first crawl run, else its first post."""
    first_run = session.execute(
        select(func.min(C.started_at)).where(C.campaign.contains(name))
    ).scalar_one_or_none()
    if first_run is not None:
        return _as_hour(first_run)
    first_post = session.execute(
        select(func.min(P.created_at)).where(campaign_clause(campaign))
    ).scalar_one_or_none()
    return _as_hour(first_post) if first_post is not None else None


def top_negative_posts(
    session: Session,
    settings: Settings,
    campaign: Campaign,
    version: str,
    hour: datetime,
    limit: int,
) -> list[dict[str, Any]]:
    """The hour's negative posts that caused the alert: most reposted first, then by the
    author's influence (latest ranking), then most commented."""
    runs = (
        select(R.platform.label("platform"), func.max(R.id).label("run_id"))
        .group_by(R.platform)
        .subquery()
    )
    reposts = func.coalesce(P.reposts_count, 0)
    influence = func.coalesce(S.score, 0.0)
    stmt = (
        select(
            P.platform,
            P.platform_id,
            P.author_id,
            A.name,
            P.text_plain,
            P.created_at,
            P.reposts_count,
            P.comments_count,
            P.likes_count,
            L.sentiment_score,
            S.score,
            S.rank,
        )  # fmt: skip
        .select_from(Post)
        .join(PostLabel, L.post_id == P.id)
        .outerjoin(
            Account,
            and_(A.platform == P.platform, A.platform_id == P.author_id),
        )
        .outerjoin(runs, runs.c.platform == P.platform)
        .outerjoin(
            InfluenceScore,
            and_(
                S.run_id == runs.c.run_id,
                S.platform == P.platform,
                S.account_id == P.author_id,
                S.interest == "",
            ),
        )
        .where(
            L.model_version == version,
            L.sentiment == "negative",
            campaign_clause(campaign),
            P.created_at >= hour,
            P.created_at < hour + HOUR,
        )
        .order_by(reposts.desc(), influence.desc(), func.coalesce(P.comments_count, 0).desc(), P.id)
        .limit(limit)
    )
    out = []
    for r in session.execute(stmt):
        out.append(
            {"platform": r[0], "post_id": r[1], "author_id": r[2], "author": r[3] or r[2],
             "text": (r[4] or "")[:280], "created_at": _as_hour(r[5]).isoformat() if r[5] else "",
             "reposts": r[6] or 0, "comments": r[7] or 0, "likes": r[8] or 0,
             "confidence": round(float(r[9] or 0), 3),
             "influence_rank": r[11], "url": post_url(settings, r[0], r[1])}
        )  # fmt: skip
    return out


# --- episodes -------------------------------------------------------------------------------


def _scalars(session: Session, stmt: Any) -> Any:
    return session.execute(stmt).scalars()


def _episode_for(session: Session, name: str, hour: datetime, reopen: timedelta) -> Alert | None:
    """The episode ``hour`` belongs to: one whose hours lie within ``reopen`` of it."""
    stmt = (
        select(Alert)
        .where(col(Alert.kind) == KIND, col(Alert.source) == f"campaign:{name}")
        .order_by(col(Alert.id).desc())
        .limit(5)
    )
    for alert in _scalars(session, stmt):
        first, last = _parse(alert.detail["start_hour"]), _parse(alert.detail["last_hour"])
        if first - reopen <= hour <= last + reopen:
            return alert  # type: ignore[no-any-return]
    return None


def _message(brand: str, detail: dict[str, Any]) -> str:
    peak = detail["hours"][detail["peak_hour"]]
    return (
        f"{brand}: negative spike from {detail['start_hour']} ({len(detail['hours'])} h); "
        f"peak {peak['negative']} negative posts at {detail['peak_hour']} — "
        + "; ".join(peak["reasons"])
    )


def record(
    session: Session,
    settings: Settings,
    name: str,
    verdict: Verdict,
    posts: list[dict[str, Any]],
    now: datetime,
) -> tuple[Alert, bool]:
    """Open a new episode for an alerting hour, or extend the one it belongs to.
    Returns (alert, created). The caller commits."""
    camp = settings.campaigns[name]
    reopen = timedelta(hours=settings.alerts.reopen_after_hours)
    hour_iso = _iso(verdict.hour)
    alert = _episode_for(session, name, verdict.hour, reopen)
    if alert is None:
        detail: dict[str, Any] = {
            "campaign": name,
            "brand": camp.brand,
            "start_hour": hour_iso,
            "last_hour": hour_iso,
            "peak_hour": hour_iso,
            "hours": {hour_iso: verdict.as_detail()},
            "posts": posts,
            "delivery": {},
        }
        alert = Alert(
            at=now,
            kind=KIND,
            source=f"campaign:{name}",
            message=_message(camp.brand, detail),
            detail=detail,
            dedup_key=f"{KIND}:{name}:{hour_iso}",
        )
        session.add(alert)
        return alert, True
    detail = json.loads(json.dumps(alert.detail))  # a fresh dict: JSON columns track assignment
    detail["hours"][hour_iso] = verdict.as_detail()
    detail["start_hour"] = min(detail["start_hour"], hour_iso)
    detail["last_hour"] = max(detail["last_hour"], hour_iso)
    peak = detail["hours"][detail["peak_hour"]]
    if verdict.negative > peak["negative"]:
        detail["peak_hour"] = hour_iso
    seen = {(p["platform"], p["post_id"]) for p in posts}
    merged = posts + [p for p in detail["posts"] if (p["platform"], p["post_id"]) not in seen]
    merged.sort(key=lambda p: (-p["reposts"], -p["comments"]))
    detail["posts"] = merged[: settings.alerts.top_posts]
    if detail != alert.detail:
        alert.detail = detail
        alert.message = _message(camp.brand, detail)
        session.add(alert)
    return alert, False


# --- delivery -------------------------------------------------------------------------------


def channels(settings: Settings) -> list[str]:
    """The delivery channels configured in ``[alerts]``."""
    out = []
    if settings.alerts.webhook_url:
        out.append("webhook")
    if smtp_configured(settings):
        out.append("email")
    return out


def payload(alert: Alert) -> dict[str, Any]:
    """The webhook's JSON body: the episode, its peak hour and the posts that caused it."""
    d = alert.detail
    return {
        "event": KIND,
        "alert_id": alert.id,
        "dedup_key": alert.dedup_key,
        "campaign": d["campaign"],
        "brand": d["brand"],
        "message": alert.message,
        "start_hour": d["start_hour"],
        "last_hour": d["last_hour"],
        "peak": d["hours"][d["peak_hour"]],
        "hours": [d["hours"][h] for h in sorted(d["hours"])],
        "posts": d["posts"],
    }


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body>``, the X-Tingfeng-Signature header."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_webhook(
    settings: Settings,
    body: dict[str, Any],
    delivery_id: str,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST ``body`` as UTF-8 JSON to ``[alerts] webhook_url``; retries 5xx, 429, timeouts and
    connection errors ``webhook_retries`` times with doubling back-off. Returns the attempts;
    raises ``DeliveryError`` when it never got a 2xx."""
    cfg = settings.alerts
    data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "tingfeng-alerts/0.1",
        "X-Tingfeng-Event": KIND,
        "X-Tingfeng-Delivery": delivery_id,
    }
    secret = settings.secrets.alert_webhook_secret
    if secret is not None:
        headers["X-Tingfeng-Signature"] = sign(secret.get_secret_value(), data)
    last = ""
    for attempt in range(cfg.webhook_retries + 1):
        if attempt:
            sleep(cfg.webhook_backoff_seconds * 2 ** (attempt - 1))
        request = urllib.request.Request(cfg.webhook_url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=cfg.webhook_timeout_seconds) as resp:
                resp.read()
                return attempt + 1
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                break  # the receiver refuses it: retrying now will not help
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    raise DeliveryError(f"webhook {_where(cfg.webhook_url)} failed: {last}")


def _where(url: str) -> str:
    """Scheme and host of ``url``: a webhook's path or query often is its secret (Slack-style),
    so errors, logs and stored states never show more."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/…"


def _local(hour_iso: str, tz: str) -> str:
    return _parse(hour_iso).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:00")


def email_parts(settings: Settings, alert: Alert) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of an alert e-mail, in Chinese with the figures."""
    d = alert.detail
    tz = settings.schedule.timezone
    peak = d["hours"][d["peak_hour"]]
    when = _local(d["peak_hour"], tz)
    subject = f"【负面舆情预警】{d['brand']}：{when} 负面帖 {peak['negative']} 条"
    nsr_now = "—" if peak["nsr"] is None else f"{peak['nsr']:+.2f}"
    nsr_base = "—" if peak["baseline_nsr"] is None else f"{peak['baseline_nsr']:+.2f}"
    facts = [
        f"品牌 / campaign：{d['brand']}（{d['campaign']}）",
        f"开始时间：{_local(d['start_hour'], tz)}（{tz}；UTC {d['start_hour']}）",
        f"高峰：{when}，负面帖 {peak['negative']} 条，该时段通常 {peak['median']:g} 条"
        f"（稳健 z = {peak['z']:.1f}）",
        f"净情感值 NSR：{nsr_now}（通常 {nsr_base}）",
        "原因：" + "；".join(peak["reasons"]),
    ]
    lines = [*facts, "", "引发预警的负面帖："]
    for i, p in enumerate(d["posts"], start=1):
        lines.append(
            f"{i}. @{p['author']}（转发 {p['reposts']}，评论 {p['comments']}）：{p['text']}"
        )
        lines.append(f"   {p['url']}")
    text = "\n".join(lines) + "\n"
    esc = htmllib.escape
    items = "".join(
        f"<li><b>@{esc(p['author'])}</b>（转发 {p['reposts']}，评论 {p['comments']}）："
        f'{esc(p["text"])}<br><a href="{esc(p["url"], quote=True)}">{esc(p["url"])}</a></li>'
        for p in d["posts"]
    )
    html = (
        '<!doctype html><html><head><meta charset="utf-8"></head><body>'
        f"<h2>{esc(subject)}</h2><ul>"
        + "".join(f"<li>{esc(f)}</li>" for f in facts)
        + f"</ul><h3>引发预警的负面帖</h3><ol>{items}</ol></body></html>"
    )
    return subject, text, html


def deliver(
    session: Session,
    settings: Settings,
    alert: Alert,
    now: datetime,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """Send ``alert`` on each configured channel not yet sent; record and commit each outcome.
    Returns {channel: "sent" | "failed"} for the channels tried."""
    tried: dict[str, str] = {}
    for channel in channels(settings):
        state = dict(alert.detail.get("delivery", {}).get(channel, {}))
        if state.get("status") == "sent":
            continue
        state["runs"] = int(state.get("runs", 0)) + 1  # checks that tried this channel
        try:
            if channel == "webhook":
                state["requests"] = post_webhook(settings, payload(alert), alert.dedup_key, sleep)
            else:
                send_message(settings, build_message(settings, *email_parts(settings, alert)))
            state.update(status="sent", at=now.isoformat(), error="")
        except DeliveryError as exc:
            state.update(status="failed", at=now.isoformat(), error=str(exc))
            logger.warning("alert #%s not delivered by %s: %s", alert.id, channel, exc)
        detail = json.loads(json.dumps(alert.detail))
        detail.setdefault("delivery", {})[channel] = state
        alert.detail = detail
        session.add(alert)
        session.commit()  # a sent alert is recorded before anything else can fail
        tried[channel] = state["status"]
    return tried


# --- the job ----------------------------------------------------------------------------------


def run_alerts(
    session: Session,
    settings: Settings,
    now: datetime | None = None,
    campaigns: Sequence[str] | None = None,
    deliver_alerts: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Detect negative spikes in the last ``check_hours`` full hours of each campaign, record
    them as episodes, deliver new and undelivered ones. The scheduler's "alerts" job; safe to
    re-run. Returns a summary: hours checked, alerting hours, new and extended alerts,
    campaigns in cold start, deliveries sent and failed."""
    now = _utcnow() if now is None else now
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    cfg = settings.alerts
    names = list(campaigns) if campaigns else list(settings.campaigns)
    for name in names:
        campaign_or_error(settings, name)
    summary: dict[str, Any] = {
        "campaigns": len(names), "hours_checked": 0, "alerting_hours": 0, "new_alerts": 0,
        "extended_alerts": 0, "cold_start": [], "sent": 0, "failed": 0, "new": [],
    }  # fmt: skip
    version = latest_label_version(session)
    current = floor_hour(now)
    hours = [current - k * HOUR for k in range(cfg.check_hours, 0, -1)]
    if version is not None:
        for name in names:
            camp = settings.campaigns[name]
            start = hours[0] - cfg.baseline_days * DAY
            counts = hourly_counts(session, camp, version, start, current)
            began = history_start(session, name, camp)
            for hour in hours:
                verdict = evaluate(counts, hour, began, cfg)
                summary["hours_checked"] += 1
                if verdict.cold_start:
                    if name not in summary["cold_start"]:
                        summary["cold_start"].append(name)
                    continue
                if not verdict.alert:
                    continue
                summary["alerting_hours"] += 1
                posts = top_negative_posts(session, settings, camp, version, hour, cfg.top_posts)
                alert, created = record(session, settings, name, verdict, posts, now)
                session.commit()
                if created:
                    summary["new_alerts"] += 1
                    summary["new"].append(alert.message)
                    logger.warning("alert #%s: %s", alert.id, alert.message)
                else:
                    summary["extended_alerts"] += 1
    if deliver_alerts and channels(settings):
        for alert in pending(session, names, now):
            for status in deliver(session, settings, alert, now, sleep).values():
                summary["sent" if status == "sent" else "failed"] += 1
    return summary


def pending(session: Session, names: Sequence[str], now: datetime) -> list[Alert]:
    """Episodes of ``names`` started within ``DELIVERY_WINDOW`` (each channel decides whether
    it still has to send)."""
    sources = [f"campaign:{n}" for n in names]
    stmt = (
        select(Alert)
        .where(
            col(Alert.kind) == KIND,
            col(Alert.source).in_(sources),
            col(Alert.at) >= now - 2 * DELIVERY_WINDOW,
        )
        .order_by(col(Alert.id))
    )
    return [
        a
        for a in _scalars(session, stmt)
        if now - _parse(a.detail["start_hour"]) <= DELIVERY_WINDOW
    ]
