"""Politeness state shared by every crawler process through the store: paused sources, alerts,
request budgets, and the Retry-After arithmetic.

Pure logic plus small store functions; no Scrapy here (``crawlers.middlewares`` wires these
into a crawl). Every function that needs the time takes ``now`` (or a ``Clock``), so tests run on
a clock they control. Functions that write commit at once: the rows are shared state that other
crawler processes must see immediately (a pause, a budget count), not part of a caller's unit of
work.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from crawlers.models import Alert, BanEvent, RequestBudget, utcnow
from crawlers.store import _insert_for

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
#: alert kind of each pause kind (BanEvent.kind); anything else is a ban
ALERT_KINDS = {"http_429": "rate_limited", "http_503": "rate_limited", "budget": "budget"}


class Clock(Protocol):
    """Returns the current time as an aware UTC datetime (``crawlers.models.utcnow``)."""

    def __call__(self) -> datetime: ...


DEFAULT_CLOCK: Clock = utcnow


def as_utc(when: datetime) -> datetime:
    """``when`` as aware UTC; a naive value (SQLite hands them back) is taken as UTC."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def safe_url(url: str) -> str:
    """``url`` without its user:password part, for logs and rows."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def fingerprint(secret: str) -> str:
    """A short, stable, non-reversible name for a secret (a cookie, a proxy URL)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]


# --- paused sources --------------------------------------------------------------------------


def pause_source(
    session: Session,
    source: str,
    platform: str,
    kind: str,
    status: int,
    url: str,
    minutes: float,
    now: datetime,
    crawl_run_id: int | None = None,
) -> BanEvent:
    """Pause ``source`` for ``minutes`` from ``now``: a ``BanEvent`` row plus an alert (one
    unacknowledged alert per source and kind, however many signals arrive). Commits."""
    until = as_utc(now) + timedelta(minutes=minutes)
    event = BanEvent(
        source=source,
        platform=platform,
        kind=kind,
        status=status,
        url=safe_url(url),
        at=as_utc(now),
        paused_until=until,
        crawl_run_id=crawl_run_id,
    )
    session.add(event)
    alert_kind = ALERT_KINDS.get(kind, "ban")
    raise_alert(
        session,
        kind=alert_kind,
        source=source,
        message=f"{source} paused until {until:%Y-%m-%d %H:%M} UTC after {kind} at {event.url}",
        detail={"ban_kind": kind, "status": status, "paused_until": until.isoformat()},
        dedup_key=f"{alert_kind}:{source}",
        now=now,
    )
    session.commit()
    session.refresh(event)
    logger.error(
        "source %s paused until %s UTC: %s (status %s) at %s",
        source,
        f"{until:%Y-%m-%d %H:%M:%S}",
        kind,
        status,
        event.url,
    )
    return event


def paused_until(session: Session, source: str, now: datetime) -> datetime | None:
    """When ``source``'s latest pause ends, or None when it is not paused at ``now``."""
    stmt = select(func.max(BanEvent.paused_until)).where(BanEvent.source == source)
    latest = session.exec(stmt).one()
    if latest is None:
        return None
    until = as_utc(latest)
    return until if until > as_utc(now) else None


def latest_pause(session: Session, source: str, now: datetime) -> BanEvent | None:
    """The pause of ``source`` that lasts longest, if it still holds at ``now``."""
    return session.exec(
        select(BanEvent)
        .where(BanEvent.source == source, BanEvent.paused_until > as_utc(now))
        .order_by(col(BanEvent.paused_until).desc())
    ).first()


def resume_source(session: Session, source: str, now: datetime) -> int:
    """End every pause of ``source`` at ``now`` (an operator resumes early). Returns how many
    pauses were cut short. Commits."""
    stmt = (
        update(BanEvent)
        .where(col(BanEvent.source) == source, col(BanEvent.paused_until) > as_utc(now))
        .values(paused_until=as_utc(now))
    )
    cut = session.execute(stmt).rowcount  # type: ignore[attr-defined]
    session.commit()
    if cut:
        logger.warning("source %s resumed by hand (%d pause(s) ended early)", source, cut)
    return int(cut)


# --- alerts ----------------------------------------------------------------------------------


def raise_alert(
    session: Session,
    kind: str,
    source: str,
    message: str,
    detail: dict[str, Any],
    dedup_key: str,
    now: datetime,
) -> Alert:
    """Add an alert, or refresh the unacknowledged one with the same ``dedup_key`` (its
    ``detail["count"]`` counts the repeats). The caller commits."""
    existing = session.exec(
        select(Alert)
        .where(Alert.dedup_key == dedup_key, col(Alert.acknowledged_at).is_(None))
        .order_by(col(Alert.id).desc())
    ).first()
    if existing is None:
        alert = Alert(
            at=as_utc(now),
            kind=kind,
            source=source,
            message=message,
            detail={**detail, "count": 1},
            dedup_key=dedup_key,
        )
        session.add(alert)
        return alert
    count = int(existing.detail.get("count", 1)) + 1
    existing.detail = {**detail, "count": count, "first_at": as_utc(existing.at).isoformat()}
    existing.message, existing.at = message, as_utc(now)
    session.add(existing)
    return existing


def list_alerts(
    session: Session, include_acknowledged: bool = False, limit: int = 50
) -> Sequence[Alert]:
    """The newest alerts first; unacknowledged only unless ``include_acknowledged``."""
    stmt = select(Alert).order_by(col(Alert.at).desc(), col(Alert.id).desc()).limit(limit)
    if not include_acknowledged:
        stmt = stmt.where(col(Alert.acknowledged_at).is_(None))
    return session.exec(stmt).all()


def acknowledge_alert(session: Session, alert_id: int, now: datetime) -> Alert | None:
    """Mark an alert seen (a later signal then raises a new one). None when there is no such
    alert; acknowledging twice keeps the first time. Commits."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        return None
    if alert.acknowledged_at is None:
        alert.acknowledged_at = as_utc(now)
        session.add(alert)
        session.commit()
        session.refresh(alert)
    return alert


# --- request budgets -------------------------------------------------------------------------


def hour_window(now: datetime) -> datetime:
    """The start of ``now``'s hour (UTC): the budget window it counts in."""
    return as_utc(now).replace(minute=0, second=0, microsecond=0)


def take_budget(session: Session, key: str, limit: int, now: datetime) -> bool:
    """Count one request against ``key`` in this hour's window; False (nothing counted) once
    ``limit`` requests were counted. ``limit <= 0`` means no cap (nothing is written).

    One ``INSERT .. ON CONFLICT DO UPDATE SET count = count + 1 WHERE count < limit``: atomic
    on SQLite and PostgreSQL, so processes sharing a store never overshoot the limit. Commits.
    """
    if limit <= 0:
        return True
    table = RequestBudget.__table__  # type: ignore[attr-defined]
    stmt = _insert_for(session, table).values(key=key, window=hour_window(now), count=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key", "window"],
        set_={"count": table.c.count + 1},
        where=table.c.count < limit,
    )
    # a row comes back only when one was inserted or counted (rowcount is -1 on psycopg here)
    taken = session.execute(stmt.returning(table.c.count)).first() is not None
    session.commit()
    return taken


def budget_used(session: Session, key: str, now: datetime) -> int:
    """Requests counted against ``key`` in ``now``'s window."""
    row = session.exec(
        select(RequestBudget).where(
            RequestBudget.key == key, RequestBudget.window == hour_window(now)
        )
    ).first()
    return row.count if row else 0


# --- Retry-After -----------------------------------------------------------------------------


def parse_retry_after(value: str | bytes | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None
    when it is absent or unreadable. A date in the past gives 0."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (as_utc(when) - as_utc(now)).total_seconds())


class Backoff:
    """Per source, the earliest time the next request may go (``not_before``)."""

    def __init__(self) -> None:
        self._not_before: dict[str, datetime] = {}

    def hold(self, source: str, until: datetime) -> datetime:
        """No request to ``source`` before ``until`` (a later hold already set wins)."""
        current = self._not_before.get(source)
        if current is None or until > current:
            self._not_before[source] = until
        return self._not_before[source]

    def wait_seconds(self, source: str, now: datetime) -> float:
        """Seconds a request to ``source`` must still wait at ``now`` (0 when it may go)."""
        until = self._not_before.get(source)
        return max(0.0, (until - now).total_seconds()) if until else 0.0

    def not_before(self, source: str) -> datetime | None:
        return self._not_before.get(source)
