"""What the CLI and the demo report about the store: counts, sentiment mix, top users, drafts.

Pure queries returning plain data; ``bot.cli`` does the printing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from crawlers.models import (
    Account,
    AccountLabel,
    Draft,
    InfluenceScore,
    Interaction,
    Post,
    PostLabel,
    ScoreRun,
)
from crawlers.store import latest_label_version


@dataclass
class Summary:
    counts: dict[str, int]
    sentiment: dict[str, int]
    label_version: str | None
    emotion: dict[str, int] = field(default_factory=dict)
    spam_accounts: int = 0
    top_users: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)


def store_counts(session: Session) -> dict[str, int]:
    """Users, posts, comments, reposts and follows (and mentions) in the store."""
    out = {"users": int(session.exec(select(func.count()).select_from(Account)).one())}
    kinds = dict(session.exec(select(Post.kind, func.count()).group_by(Post.kind)).all())
    for kind, name in (("post", "posts"), ("comment", "comments"), ("repost", "reposts")):
        out[name] = int(kinds.get(kind, 0))
    edges = dict(
        session.exec(select(Interaction.kind, func.count()).group_by(Interaction.kind)).all()
    )
    out["follows"] = int(edges.get("follow", 0))
    out["mentions"] = int(edges.get("mention", 0))
    return out


def sentiment_mix(session: Session, version: str | None) -> dict[str, int]:
    if version is None:
        return {}
    rows = session.exec(
        select(PostLabel.sentiment, func.count())
        .where(PostLabel.model_version == version)
        .group_by(PostLabel.sentiment)
    ).all()
    return {s: int(n) for s, n in sorted(rows)}


def label_mix(session: Session, version: str | None, column: Any) -> dict[str, int]:
    """How many posts of ``version`` have each value of ``column`` (empty values left out)."""
    if version is None:
        return {}
    rows = session.exec(
        select(column, func.count()).where(PostLabel.model_version == version).group_by(column)
    ).all()
    return {s: int(n) for s, n in sorted(rows) if s}


def spam_accounts(session: Session, version: str | None) -> int:
    if version is None:
        return 0
    return int(
        session.exec(
            select(func.count())
            .select_from(AccountLabel)
            .where(AccountLabel.model_version == version, col(AccountLabel.is_spam))
        ).one()
    )


def top_users(session: Session, limit: int = 10) -> list[dict[str, Any]]:
    """Top users of the latest overall ranking, each with the stored explanation."""
    run = session.exec(select(ScoreRun).order_by(col(ScoreRun.id).desc()).limit(1)).first()
    if run is None:
        return []
    rows = session.exec(
        select(InfluenceScore, Account.name)
        .join(
            Account,
            (col(Account.platform) == InfluenceScore.platform)
            & (col(Account.platform_id) == InfluenceScore.account_id),
            isouter=True,
        )
        .where(InfluenceScore.run_id == run.id, InfluenceScore.interest == "")
        .order_by(col(InfluenceScore.rank))
        .limit(limit)
    ).all()
    return [
        {
            "rank": s.rank,
            "account_id": s.account_id,
            "name": name or s.account_id,
            "score": s.score,
            "why": s.explanation,
        }
        for s, name in rows
    ]


def pending_drafts(session: Session, limit: int | None = None) -> list[Draft]:
    stmt = select(Draft).where(Draft.status == "pending").order_by(col(Draft.id))
    if limit:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt).all())


def account_names(session: Session, drafts: list[Draft]) -> dict[tuple[str, str], str]:
    """Screen names of the drafts' target accounts (those the store knows)."""
    wanted = {(d.platform, d.target_account) for d in drafts}
    names: dict[tuple[str, str], str] = {}
    for platform in {p for p, _ in wanted}:
        ids = sorted(a for p, a in wanted if p == platform)
        for start in range(0, len(ids), 500):
            rows = session.exec(
                select(Account.platform_id, Account.name).where(
                    Account.platform == platform,
                    col(Account.platform_id).in_(ids[start : start + 500]),
                )
            ).all()
            names.update({(platform, pid): name for pid, name in rows if name})
    return names


def draft_line(d: Draft, names: dict[tuple[str, str], str]) -> dict[str, Any]:
    name = names.get((d.platform, d.target_account), "")
    return {
        "id": d.id,
        "campaign": d.campaign,
        "kind": d.kind,
        "status": d.status,
        "target": d.target_account,
        "name": name,
        "post": d.target_post,
        "text": d.text,
        "rule": d.rule,
        "hash": d.content_hash,
    }


def summarize(session: Session, top: int = 10) -> Summary:
    version = latest_label_version(session)
    return Summary(
        counts=store_counts(session),
        sentiment=sentiment_mix(session, version),
        label_version=version,
        emotion=label_mix(session, version, PostLabel.emotion),
        spam_accounts=spam_accounts(session, version),
        top_users=top_users(session, top),
        pending=_pending_lines(session),
    )


def _pending_lines(session: Session) -> list[dict[str, Any]]:
    drafts = pending_drafts(session)
    names = account_names(session, drafts)
    return [draft_line(d, names) for d in drafts]
