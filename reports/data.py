"""The report's one query layer: every number the sentiment report shows comes from here.

``report_data(session, settings, campaign, since, until)`` returns a ``ReportData`` of plain
values (lists and dicts of str, int, float, None) that the HTML renders and embeds as JSON, so
a test can check the charts against the database.

Everything is aggregated in SQL (GROUP BY on the store, SQLite and PostgreSQL alike); no query
loads the period's posts into Python. The campaign's conversation in a period is computed once
into a temporary table (``tf_report_scope``: post id, current or previous period), and every
section joins it.

The conversation: the posts created in the period that ``reports.scope.campaign_clause``
selects (the one definition the exports and alerts use too: posts naming the brand, a
``brand_terms`` or a ``keywords`` entry, carrying one of the campaign's ``topics`` /
``hashtags`` or in one of its ``supertopics``, plus the comments and reposts of such posts). Labels are the latest model version's (``latest_label_version``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session

from crawlers.config import Campaign, Settings
from crawlers.errors import TingfengError
from crawlers.models import Post, PostLabel
from crawlers.store import latest_label_version
from reports.scope import (
    CampaignError,
    ContainsCI,
    brand_terms,
    campaign_clause,
    campaign_or_error,
    conversation_terms,
    post_url,
    profile_url,
)

#: the report's name for the campaign lookup (``tingfeng report`` checks it first)
find_campaign = campaign_or_error
__all__ = ["CampaignError", "find_campaign", "post_url", "profile_url"]

SENTIMENTS = ("positive", "neutral", "negative")
#: display order of the emotion head's classes
EMOTION_ORDER = {
    e: i for i, e in enumerate(("happy", "surprise", "neutral", "sad", "fear", "angry"))
}
#: hourly buckets up to this period length, daily beyond
HOURLY_MAX = timedelta(days=3)
#: two-proportion tests flag a change only with at least this many posts on each side
MIN_TEST_N = 20
ALPHA = 0.05
TOP_KEYWORDS = 20
TOP_VOICES = 10
TOP_POSTS = 5
SCOPE_TABLE = "tf_report_scope"
AUTHORS_TABLE = "tf_report_authors"


class ReportError(TingfengError):
    """A bad period option of a report, export or outcomes command (a date that is not one, a
    period that ends before it starts; an unknown campaign is ``reports.scope.CampaignError``):
    names the option and what to give instead. Exit code 2, like settings and usage errors."""

    exit_code = 2

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


@dataclass
class ReportData:
    """Everything the report shows, as plain JSON-ready values."""

    campaign: str
    brand: str
    since: str  # ISO 8601 UTC, inclusive
    until: str  # ISO 8601 UTC, exclusive
    previous_since: str  # the previous period: [previous_since, since)
    bucket: str  # "hour" | "day"
    label_version: str | None
    generated_at: str
    conversation: dict[str, list[str]]  # what defines the campaign's conversation
    totals: dict[str, Any]  # posts, labelled, per-sentiment counts, nsr, for both periods
    volume: list[dict[str, Any]]  # per bucket: counts per sentiment, total, nsr
    emotions: list[dict[str, Any]]
    keywords: list[dict[str, Any]]
    topics: list[dict[str, Any]]
    hashtags: list[dict[str, Any]]
    share_of_voice: dict[str, Any]
    voices: dict[str, Any]
    communities: list[dict[str, Any]]
    notable: dict[str, list[dict[str, Any]]]
    changes: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return int(self.totals["current"]["posts"]) == 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def chart_data(self) -> dict[str, Any]:
        """The JSON blocks the HTML embeds, by id (``data-<id>``)."""
        return {
            "summary": {
                "campaign": self.campaign,
                "brand": self.brand,
                "since": self.since,
                "until": self.until,
                "previous_since": self.previous_since,
                "bucket": self.bucket,
                "label_version": self.label_version,
                "totals": self.totals,
            },
            "volume": self.volume,
            "emotions": self.emotions,
            "keywords": self.keywords,
            "topics": self.topics,
            "hashtags": self.hashtags,
            "share-of-voice": self.share_of_voice,
            "voices": self.voices,
            "communities": self.communities,
            "notable": self.notable,
            "changes": self.changes,
        }


# --- periods ----------------------------------------------------------------------------------


def parse_when(value: str, option: str, *, end: bool = False) -> datetime:
    """``YYYY-MM-DD`` or an ISO 8601 date-time (UTC unless it has an offset) as aware UTC.

    A bare date given as the end of a period (``end``) means the end of that day, so
    ``--since 2026-10-01 --until 2026-10-07`` covers seven whole days.
    """
    raw = value.strip()
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ReportError(
            f"{option} {value!r}: not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    if end and len(raw) == 10:
        parsed += timedelta(days=1)
    return parsed


def check_period(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    since, until = _aware(since), _aware(until)
    if until <= since:
        raise ReportError(
            f"--until {_iso(until)} is not after --since {_iso(since)}: "
            "give a period that ends after it starts"
        )
    return since, until


def bucket_for(since: datetime, until: datetime) -> str:
    return "hour" if until - since <= HOURLY_MAX else "day"


def bucket_starts(since: datetime, until: datetime, bucket: str) -> list[datetime]:
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    start = since.replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        start = start.replace(hour=0)
    out = []
    while start < until:
        out.append(start)
        start += step
    return out


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return _aware(value).isoformat().replace("+00:00", "Z")


# --- statistics -------------------------------------------------------------------------------


def nsr(positive: int, negative: int) -> float | None:
    """Net sentiment ratio (pos - neg) / (pos + neg); None without polar posts."""
    polar = positive + negative
    return None if polar == 0 else (positive - negative) / polar


def two_proportion_test(x1: int, n1: int, x2: int, n2: int, alpha: float = ALPHA) -> dict[str, Any]:
    """Two-sided two-proportion z-test of x1/n1 (current) against x2/n2 (previous).

    ``significant`` only with at least ``MIN_TEST_N`` on each side, five expected successes and
    failures on each side under the pooled share, and p < alpha.
    """
    out: dict[str, Any] = {"z": None, "p": None, "significant": False}
    if n1 == 0 or n2 == 0:
        return out
    pooled = (x1 + x2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return out
    z = (x1 / n1 - x2 / n2) / math.sqrt(var)
    p = math.erfc(abs(z) / math.sqrt(2))
    enough = min(n1, n2) >= MIN_TEST_N and all(
        n * s >= 5 for n in (n1, n2) for s in (pooled, 1 - pooled)
    )
    out.update(z=round(z, 4), p=round(p, 6), significant=bool(enough and p < alpha))
    return out


def count_change_test(current: int, previous: int, alpha: float = ALPHA) -> dict[str, Any]:
    """Volumes of two equal-length periods: under "same rate" the current count is
    Binomial(current + previous, 1/2); normal approximation, at least MIN_TEST_N posts."""
    n = current + previous
    if n == 0:
        return {"z": None, "p": None, "significant": False}
    z = (current - previous) / math.sqrt(n)
    p = math.erfc(abs(z) / math.sqrt(2))
    return {"z": round(z, 4), "p": round(p, 6), "significant": bool(n >= MIN_TEST_N and p < alpha)}


# --- SQL helpers ------------------------------------------------------------------------------


def _scope_table() -> Table:
    return Table(
        SCOPE_TABLE,
        MetaData(),
        Column("post_id", Integer, primary_key=True),
        Column("cur", Integer, nullable=False),  # 1: the period, 0: the previous one
        Column("b", String),  # the bucket (hour or day, UTC) it falls in
        Column("platform", String),
        Column("author_id", String),
        Column("sentiment", String),  # NULL: no label of the version
        Column("emotion", String),
        Column("topic", String),
        Column("keywords", Text),  # JSON lists as text
        Column("topics", Text),
        Column("reposts", Integer),
        Column("comments", Integer),
        Column("likes", Integer),
        prefixes=["TEMPORARY"],
    )


def build_scope(
    session: Session,
    campaign: Campaign,
    version: str | None,
    prev_since: datetime,
    since: datetime,
    until: datetime,
    bucket: str,
) -> Table:
    """Fill the temporary scope table: the conversation of both periods, one row per post with
    its label, so that every section reads one table (one scan of the posts in all)."""
    dialect = _dialect(session)
    table = _scope_table()
    conn = session.connection()
    table.drop(conn, checkfirst=True)
    table.create(conn)
    # aliases typed Any: their columns are SQL expressions, not the models' Python types
    child: Any = aliased(Post)
    label: Any = aliased(PostLabel)
    if dialect == "postgresql":
        fmt = "YYYY-MM-DD HH24:00" if bucket == "hour" else "YYYY-MM-DD"
        b = func.to_char(child.created_at, fmt)
    else:
        b = func.strftime("%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d", child.created_at)
    stmt = (
        select(
            child.id,
            case((child.created_at >= _aware(since), 1), else_=0),
            b,
            child.platform,
            child.author_id,
            label.sentiment,
            label.emotion,
            label.topic,
            cast(label.keywords, Text),
            cast(child.topics, Text),
            func.coalesce(child.reposts_count, 0),
            func.coalesce(child.comments_count, 0),
            func.coalesce(child.likes_count, 0),
        )
        .select_from(child)
        .outerjoin(label, and_(label.post_id == child.id, label.model_version == (version or "")))
        .where(
            child.created_at >= _aware(prev_since),
            child.created_at < _aware(until),
            campaign_clause(campaign, child),
        )
    )
    columns = ["post_id", "cur", "b", "platform", "author_id", "sentiment", "emotion", "topic",
               "keywords", "topics", "reposts", "comments", "likes"]  # fmt: skip
    conn.execute(table.insert().from_select(columns, stmt))
    return table


def _drop_temporary(session: Session) -> None:
    for name in (SCOPE_TABLE, AUTHORS_TABLE):
        session.execute(text(f"DROP TABLE IF EXISTS {name}"))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _json_elements(dialect: str, column: str) -> str:
    """A FROM item with one row per element (column ``value``) of a JSON list column."""
    if dialect == "postgresql":
        return f"CROSS JOIN LATERAL json_array_elements_text(CAST({column} AS json)) AS j(value)"
    return f"CROSS JOIN json_each({column}) AS j"


def _json_int(dialect: str, column: str, key: str) -> str:
    if dialect == "postgresql":
        return f"CAST(CAST({column} AS json) ->> '{key}' AS INTEGER)"
    return f"CAST(json_extract({column}, '$.{key}') AS INTEGER)"


_SCOPED = f" FROM {SCOPE_TABLE} s "
_POS = "CASE WHEN s.sentiment = 'positive' THEN 1 ELSE 0 END"
_NEG = "CASE WHEN s.sentiment = 'negative' THEN 1 ELSE 0 END"
_NEU = "CASE WHEN s.sentiment = 'neutral' THEN 1 ELSE 0 END"


# --- sections ---------------------------------------------------------------------------------


def _period_totals(session: Session, version: str | None) -> dict[str, Any]:
    rows = session.execute(
        text(f"SELECT s.cur, COALESCE(s.sentiment, ''), COUNT(*) {_SCOPED} GROUP BY s.cur, 2"),
        {"version": version or ""},
    ).all()
    out: dict[str, Any] = {}
    for cur, name in ((1, "current"), (0, "previous")):
        counts = {s: 0 for s in SENTIMENTS}
        unlabelled = 0
        for c, sentiment, n in rows:
            if c != cur:
                continue
            if sentiment in counts:
                counts[sentiment] += int(n)
            else:
                unlabelled += int(n)
        labelled = sum(counts.values())
        out[name] = {
            "posts": labelled + unlabelled,
            "labelled": labelled,
            "unlabelled": unlabelled,
            **counts,
            "nsr": nsr(counts["positive"], counts["negative"]),
            "negative_share": counts["negative"] / labelled if labelled else None,
        }
    return out


def _volume(
    session: Session, version: str | None, since: datetime, until: datetime, bucket: str
) -> list[dict[str, Any]]:
    rows = session.execute(
        text(
            f"SELECT s.b, COALESCE(s.sentiment, ''), COUNT(*) {_SCOPED} "
            "WHERE s.cur = 1 GROUP BY 1, 2"
        ),
        {"version": version or ""},
    ).all()
    fmt = "%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d"
    series: dict[str, dict[str, Any]] = {}
    for start in bucket_starts(since, until, bucket):
        series[start.strftime(fmt)] = {
            "bucket": _iso(start),
            **{s: 0 for s in SENTIMENTS},
            "unlabelled": 0,
        }
    for b, sentiment, n in rows:
        slot = series.get(str(b))
        if slot is None:  # pragma: no cover - a bucket outside the period cannot match
            continue
        slot[sentiment if sentiment in SENTIMENTS else "unlabelled"] += int(n)
    out = []
    for slot in series.values():
        slot["total"] = sum(slot[s] for s in SENTIMENTS) + slot["unlabelled"]
        slot["nsr"] = nsr(slot["positive"], slot["negative"])
        out.append(slot)
    return out


def _emotions(session: Session, version: str | None) -> list[dict[str, Any]]:
    rows = session.execute(
        text(
            f"SELECT s.emotion, SUM(s.cur), SUM(1 - s.cur) {_SCOPED} "
            "WHERE s.emotion IS NOT NULL AND s.emotion <> '' GROUP BY s.emotion"
        ),
        {"version": version or ""},
    ).all()
    cur_total = sum(int(r[1] or 0) for r in rows)
    prev_total = sum(int(r[2] or 0) for r in rows)
    out = []
    for emotion, cur, prev in rows:
        cur, prev = int(cur or 0), int(prev or 0)
        out.append(
            {
                "emotion": emotion,
                "count": cur,
                "share": cur / cur_total if cur_total else None,
                "previous_count": prev,
                "previous_share": prev / prev_total if prev_total else None,
            }
        )
    out.sort(key=lambda r: (-r["count"], r["emotion"]))
    return [r for r in out if r["count"] or r["previous_count"]]


def _term_rows(session: Session, version: str | None, value_sql: str, joins: str, where: str,
               limit: int) -> list[dict[str, Any]]:  # fmt: skip
    rows = session.execute(
        text(
            f"SELECT {value_sql} AS v, SUM(s.cur) AS c, SUM(s.cur * {_POS}), "
            f"SUM(s.cur * {_NEU}), SUM(s.cur * {_NEG}), SUM(1 - s.cur) "
            f"{_SCOPED} {joins} WHERE {where} GROUP BY {value_sql} "
            f"HAVING SUM(s.cur) > 0 ORDER BY c DESC, v LIMIT :limit"
        ),
        {"version": version or "", "limit": limit},
    ).all()
    out = []
    for v, c, pos, neu, neg, prev in rows:
        pos, neg = int(pos or 0), int(neg or 0)
        out.append(
            {
                "term": str(v),
                "count": int(c or 0),
                "positive": pos,
                "neutral": int(neu or 0),
                "negative": neg,
                "nsr": nsr(pos, neg),
                "previous_count": int(prev or 0),
            }
        )
    return out


def _keywords(session: Session, version: str | None, limit: int) -> list[dict[str, Any]]:
    joins = _json_elements(_dialect(session), "s.keywords")
    return _term_rows(session, version, "j.value", joins, "s.sentiment IS NOT NULL", limit)


def _hashtags(session: Session, version: str | None, limit: int) -> list[dict[str, Any]]:
    joins = _json_elements(_dialect(session), "s.topics")
    return _term_rows(session, version, "j.value", joins, "1 = 1", limit)


def _topics(session: Session, version: str | None, limit: int) -> list[dict[str, Any]]:
    return _term_rows(
        session, version, "s.topic", "", "s.topic IS NOT NULL AND s.topic <> ''", limit
    )


def _share_of_voice(
    session: Session,
    campaign: Campaign,
    version: str | None,
    prev_since: datetime,
    since: datetime,
    until: datetime,
) -> dict[str, Any]:
    """Posts mentioning each entity (any of its terms) among every post of the period."""

    entities: list[dict[str, Any]] = [
        {"name": campaign.brand, "terms": brand_terms(campaign), "brand": True}
    ]
    for comp in campaign.competitors:
        entities.append({"name": comp.name, "terms": comp.match_terms(), "brand": False})
    p: Any = aliased(Post)
    lab: Any = aliased(PostLabel)
    # one flag per entity, each LIKE evaluated once per post; GROUP BY the flags gives a few
    # rows (period x sentiment x which entities) that are summed here
    hits = [or_(false(), *(ContainsCI(p.text_plain, t) for t in ent["terms"])) for ent in entities]
    # the label is looked up only for posts naming someone (a correlated subquery, not a join)
    sentiment = (
        select(lab.sentiment)
        .where(lab.post_id == p.id, lab.model_version == (version or ""))
        .scalar_subquery()
    )
    keys = [
        case((p.created_at >= _aware(since), 1), else_=0),
        case((or_(*hits), sentiment), else_=""),
        *(case((hit, 1), else_=0) for hit in hits),
    ]
    stmt = (
        select(*keys, func.count())
        .select_from(p)
        .where(p.created_at >= _aware(prev_since), p.created_at < _aware(until))
        .group_by(*keys)
    )
    for ent in entities:
        ent.update(mentions=0, positive=0, negative=0, previous_mentions=0)
    for cur, polarity, *flags, n in session.execute(stmt).all():
        for ent, hit in zip(entities, flags, strict=True):
            if not hit:
                continue
            if not cur:
                ent["previous_mentions"] += int(n)
                continue
            ent["mentions"] += int(n)
            if polarity in ("positive", "negative"):
                ent[polarity] += int(n)
    total_cur = sum(ent["mentions"] for ent in entities)
    total_prev = sum(ent["previous_mentions"] for ent in entities)
    for ent in entities:
        ent["nsr"] = nsr(ent["positive"], ent["negative"])
    for ent in entities:
        ent["share"] = ent["mentions"] / total_cur if total_cur else None
        ent["previous_share"] = ent["previous_mentions"] / total_prev if total_prev else None
    note = (
        ""
        if campaign.competitors
        else "No competitors configured for this campaign: only the brand is shown. Add "
        "competitors = [{name = ..., terms = [...]}] to its [campaigns.NAME] table."
    )
    return {"entities": entities, "total_mentions": total_cur, "note": note}


def _latest_runs(session: Session) -> dict[str, int]:
    rows = session.execute(text("SELECT platform, MAX(id) FROM scorerun GROUP BY platform")).all()
    return {str(p): int(i) for p, i in rows}


_AUTHORS = f"""
SELECT s.platform AS platform, s.author_id AS author_id, SUM(s.cur) AS cur,
       SUM(1 - s.cur) AS prev, SUM(s.cur * {_POS}) AS pos, SUM(s.cur * {_NEG}) AS neg
{_SCOPED}
GROUP BY s.platform, s.author_id
"""


def build_authors(session: Session, runs: dict[str, int]) -> None:
    """Per author of the conversation: posts in each period, polar posts, and (when ranked)
    the latest run's overall score row, rank and community. A temporary table."""
    run_ids = ", ".join(str(int(i)) for i in sorted(runs.values())) or "-1"
    comm = _json_int(_dialect(session), "i.parts", "community")
    session.execute(text(f"DROP TABLE IF EXISTS {AUTHORS_TABLE}"))
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {AUTHORS_TABLE} AS "
            f"SELECT a.platform, a.author_id, a.cur, a.prev, a.pos, a.neg, i.id AS score_id, "
            f"i.run_id AS run_id, i.rank AS rank, {comm} AS community FROM ({_AUTHORS}) a "
            f"LEFT JOIN influencescore i ON i.platform = a.platform "
            f"AND i.account_id = a.author_id AND i.interest = '' AND i.run_id IN ({run_ids})"
        )
    )


def _voices(session: Session, settings: Settings, ranked: bool, limit: int) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    base = (
        f"SELECT a.platform, a.author_id, a.cur, a.prev, a.pos, a.neg, a.rank, i.score, "
        f"i.explanation, acc.name, acc.handle, acc.followers_count FROM {AUTHORS_TABLE} a "
        f"LEFT JOIN influencescore i ON i.id = a.score_id "
        f"LEFT JOIN account acc ON acc.platform = a.platform AND acc.platform_id = a.author_id "
    )
    if ranked:
        where, order = "a.rank IS NOT NULL", "a.rank, a.platform, a.author_id"
        note = ""
    else:
        where, order = "1 = 1", "a.cur DESC, a.platform, a.author_id"
        note = (
            "Nobody is ranked by influence yet (run `tingfeng rank`): voices are ordered by "
            "their posts in the period."
        )
    top = session.execute(
        text(f"{base} WHERE a.cur > 0 AND {where} ORDER BY {order} LIMIT :limit"), params
    ).all()
    new = session.execute(
        text(f"{base} WHERE a.cur > 0 AND a.prev = 0 AND {where} ORDER BY {order} LIMIT :limit"),
        params,
    ).all()

    def row(r: Any) -> dict[str, Any]:
        platform, account, cur, prev, pos, neg, rank, score, why, name, handle, fans = r
        return {
            "platform": platform,
            "account_id": account,
            "name": name or account,
            "url": profile_url(settings, platform, account, handle or ""),
            "rank": None if rank is None else int(rank),
            "score": None if score is None else float(score),
            "explanation": why or "",
            "followers": None if fans is None else int(fans),
            "posts": int(cur or 0),
            "previous_posts": int(prev or 0),
            "positive": int(pos or 0),
            "negative": int(neg or 0),
        }

    return {"top": [row(r) for r in top], "new": [row(r) for r in new], "note": note}


def _communities(session: Session, runs: dict[str, int]) -> list[dict[str, Any]]:
    if not runs:
        return []
    run_ids = ", ".join(str(int(i)) for i in sorted(runs.values()))
    rows = session.execute(
        text(
            f"SELECT run_id, community, COUNT(*), SUM(cur), SUM(pos), SUM(neg) "
            f"FROM {AUTHORS_TABLE} WHERE cur > 0 AND community IS NOT NULL "
            f"GROUP BY run_id, community ORDER BY 4 DESC, 3 DESC, 2"
        )
    ).all()
    info = {
        (int(r[0]), int(r[1])): (r[2], int(r[3]), r[4])
        for r in session.execute(
            text(
                f"SELECT run_id, community, platform, size, explanation FROM community "
                f"WHERE run_id IN ({run_ids})"
            )
        ).all()
    }
    out = []
    for run_id, c, authors, posts, pos, neg in rows:
        if c is None:
            continue
        platform, size, why = info.get((int(run_id), int(c)), ("", None, ""))
        out.append(
            {
                "platform": platform,
                "community": int(c),
                "size": size,
                "explanation": why or "",
                "authors": int(authors),
                "posts": int(posts or 0),
                "positive": int(pos or 0),
                "negative": int(neg or 0),
                "nsr": nsr(int(pos or 0), int(neg or 0)),
            }
        )
    return out[:TOP_VOICES]


def _notable(
    session: Session, settings: Settings, version: str | None, limit: int
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for sentiment in ("negative", "positive"):
        rows = session.execute(
            text(
                "SELECT p.platform, p.platform_id, p.author_id, p.text_plain, p.created_at, "
                "s.reposts, s.comments, s.likes, l.sentiment_score, acc.name, acc.handle "
                f"{_SCOPED} JOIN post p ON p.id = s.post_id "
                "LEFT JOIN postlabel l ON l.post_id = p.id AND l.model_version = :version "
                "LEFT JOIN account acc ON acc.platform = p.platform "
                "AND acc.platform_id = p.author_id "
                "WHERE s.cur = 1 AND s.sentiment = :sentiment "
                "ORDER BY s.reposts DESC, s.comments DESC, s.likes DESC, s.post_id LIMIT :limit"
            ),
            {"version": version or "", "sentiment": sentiment, "limit": limit},
        ).all()
        out[sentiment] = [
            {
                "platform": platform,
                "post_id": pid,
                "url": post_url(settings, platform, pid),
                "author_id": author,
                "author": name or author,
                "author_url": profile_url(settings, platform, author, handle or ""),
                "text": text_plain or "",
                "created_at": _iso(_as_datetime(created)) if created is not None else None,
                "reposts": int(reposts or 0),
                "comments": int(comments or 0),
                "likes": int(likes or 0),
                "sentiment": sentiment,
                "sentiment_score": None if score is None else round(float(score), 4),
            }
            for (
                platform,
                pid,
                author,
                text_plain,
                created,
                reposts,
                comments,
                likes,
                score,
                name,
                handle,
            ) in rows  # fmt: skip
        ]
    return out


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _changes(
    totals: dict[str, Any],
    emotions: list[dict[str, Any]],
    keywords: list[dict[str, Any]],
    voices: dict[str, Any],
) -> dict[str, Any]:
    cur, prev = totals["current"], totals["previous"]
    volume = {
        "current": cur["posts"],
        "previous": prev["posts"],
        "change": (cur["posts"] - prev["posts"]) / prev["posts"] if prev["posts"] else None,
        **count_change_test(cur["posts"], prev["posts"]),
    }
    cur_polar = cur["positive"] + cur["negative"]
    prev_polar = prev["positive"] + prev["negative"]
    nsr_change = {
        "current": cur["nsr"],
        "previous": prev["nsr"],
        "delta": None if cur["nsr"] is None or prev["nsr"] is None else cur["nsr"] - prev["nsr"],
        # NSR = 2 * positive share of polar posts - 1: test that share
        **two_proportion_test(cur["positive"], cur_polar, prev["positive"], prev_polar),
    }
    negative = {
        "current": cur["negative_share"],
        "previous": prev["negative_share"],
        "delta": None
        if cur["negative_share"] is None or prev["negative_share"] is None
        else cur["negative_share"] - prev["negative_share"],
        **two_proportion_test(cur["negative"], cur["labelled"], prev["negative"], prev["labelled"]),
    }
    n_cur = sum(e["count"] for e in emotions)
    n_prev = sum(e["previous_count"] for e in emotions)
    k = max(1, len(emotions))
    emotion_changes = []
    for e in emotions:
        test = two_proportion_test(e["count"], n_cur, e["previous_count"], n_prev, ALPHA / k)
        emotion_changes.append(
            {
                "emotion": e["emotion"],
                "current": e["share"],
                "previous": e["previous_share"],
                "delta": None
                if e["share"] is None or e["previous_share"] is None
                else e["share"] - e["previous_share"],
                **test,
            }
        )
    new_keywords = [
        {"term": k["term"], "count": k["count"], "nsr": k["nsr"]}
        for k in keywords
        if k["previous_count"] == 0 and k["count"] >= 2
    ]
    return {
        "volume": volume,
        "nsr": nsr_change,
        "negative_share": negative,
        "emotions": emotion_changes,
        "new_keywords": new_keywords,
        "new_voices": voices["new"],
    }


# --- the whole report -------------------------------------------------------------------------


def report_data(
    session: Session,
    settings: Settings,
    campaign: str,
    since: datetime,
    until: datetime,
    *,
    now: datetime | None = None,
) -> ReportData:
    """Every number of the report on ``campaign`` for [since, until), with the previous
    period of equal length [since - (until - since), since) for comparison.

    Only reads: its temporary tables are gone when it returns, and the session's transaction
    is left as it was (rolled back only when a query fails)."""
    camp = campaign_or_error(settings, campaign)
    since, until = check_period(since, until)
    prev_since = since - (until - since)
    bucket = bucket_for(since, until)
    version = latest_label_version(session)
    try:
        build_scope(session, camp, version, prev_since, since, until, bucket)
        totals = _period_totals(session, version)
        volume = _volume(session, version, since, until, bucket)
        emotions = _emotions(session, version)
        keywords = _keywords(session, version, 200)
        topics = _topics(session, version, TOP_KEYWORDS)
        hashtags = _hashtags(session, version, TOP_KEYWORDS)
        sov = _share_of_voice(session, camp, version, prev_since, since, until)
        runs = _latest_runs(session)
        build_authors(session, runs)
        voices = _voices(session, settings, bool(runs), TOP_VOICES)
        communities = _communities(session, runs)
        notable = _notable(session, settings, version, TOP_POSTS)
    except Exception:
        # PostgreSQL: an error aborts the transaction, and rolling back also undoes the
        # temporary tables; SQLite created them outside it, so they are dropped as well
        session.rollback()
        _drop_temporary(session)
        raise
    _drop_temporary(session)
    changes = _changes(totals, emotions, keywords, voices)
    notes = []
    if version is None:
        notes.append("No post has a label yet (run `tingfeng label`): sentiment is unknown.")
    elif totals["current"]["unlabelled"]:
        notes.append(
            f"{totals['current']['unlabelled']} posts of the period have no label of "
            f"{version} yet (run `tingfeng label`); they count in volume only."
        )
    return ReportData(
        campaign=campaign,
        brand=camp.brand,
        since=_iso(since),
        until=_iso(until),
        previous_since=_iso(prev_since),
        bucket=bucket,
        label_version=version,
        generated_at=_iso(now or datetime.now(UTC)),
        conversation=conversation_terms(camp),
        totals=totals,
        volume=volume,
        emotions=emotions,
        keywords=keywords[:TOP_KEYWORDS],
        topics=topics,
        hashtags=hashtags,
        share_of_voice=sov,
        voices={"top": voices["top"], "note": voices["note"]},
        communities=communities,
        notable=notable,
        changes=changes,
        notes=notes,
    )
