"""One definition of a campaign's posts: the report's scope table and the exports' / alerts'
SQL clause select the same posts, on SQLite and on PostgreSQL, through every matching path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlmodel import Session, SQLModel

from crawlers.config import Settings, default_settings, supertopic_containerid
from crawlers.models import Post
from crawlers.store import make_engine, migrate
from reports.data import SCOPE_TABLE, build_scope, report_data
from reports.exports import posts_export
from reports.scope import CampaignError, campaign_clause, campaign_or_error, columns

SINCE = datetime(2026, 10, 1, tzinfo=UTC)
UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
GROUP_ID = "100808" + "ab" * 16
CAMPAIGN = {
    "brand": "拾光咖啡",
    "brand_terms": ["Shiguang", "Ωmega"],
    "keywords": ["燕麦拿铁"],
    "topics": ["手冲咖啡"],
    "hashtags": ["#ColdBrew"],
    "supertopics": [" 咖啡超话 ", GROUP_ID],
}
# platform_id -> (text, topics as stored JSON text or None, group_id, parent_id, root_id)
POSTS: dict[str, tuple[str, str | None, str | None, str | None, str | None]] = {
    "m-case": ("今天试了 SHIGUANG 的新品", None, None, None, None),  # ASCII case differs
    "m-greek": ("ΩMEGA 豆子到了", None, None, None, None),  # non-ASCII letter as written
    "m-keyword": ("燕麦拿铁还行", None, None, None, None),
    "m-topic-esc": ("今天", json.dumps(["手冲咖啡"]), None, None, None),  # \\uXXXX escapes
    "m-topic-utf8": ("今天", json.dumps(["手冲咖啡"], ensure_ascii=False), None, None, None),
    "m-hashtag": ("nice", json.dumps(["coldbrew"]), None, None, None),  # Mastodon: lower case
    "m-super-name": ("打卡", None, supertopic_containerid("咖啡超话"), None, None),
    "m-super-id": ("打卡", None, GROUP_ID, None, None),
    "c-comment": ("同感", None, None, "m-case", "m-case"),
    "n-middle": ("转发", None, None, "n-plain", "n-plain"),
    "r-root": ("转发", None, None, "n-middle", "m-greek"),  # only root_id names the match
    "n-plain": ("天气很好", json.dumps(["天气"]), "100808" + "cd" * 16, None, None),
    "n-topic-part": ("x", json.dumps(["手冲咖啡器具"]), None, None, None),  # not the topic
}
EXPECTED = {pid for pid in POSTS if pid[0] in "mcr"}


def scope_settings(url: str) -> Settings:
    return default_settings(store={"url": url}, campaigns={"c": CAMPAIGN, "e": {"brand": " "}})


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite://"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="module")
def store(url: str) -> Iterator[Session]:
    engine = make_engine(url)
    if url.startswith("postgresql"):
        SQLModel.metadata.drop_all(engine)
    migrate(engine)
    json_type = "JSON" if url.startswith("postgresql") else "TEXT"
    with Session(engine) as session:
        for i, (pid, (body, _, group, parent, root)) in enumerate(POSTS.items()):
            session.add(
                Post(platform="weibo", platform_id=pid, kind="post", author_id=f"a{i}",
                     text=body, text_plain=body, created_at=datetime(2026, 10, 2 + i, tzinfo=UTC),
                     group_id=group, parent_id=parent, root_id=root)
            )  # fmt: skip
        # the same ids on another platform: a comment there is not one of a Weibo match
        session.add(
            Post(platform="mastodon", platform_id="m-case", kind="comment", author_id="z",
                 text="同感", text_plain="同感", created_at=SINCE, parent_id="m-case")
        )  # fmt: skip
        session.flush()
        for pid, (_, stored, *_rest) in POSTS.items():
            if stored is not None:  # written as is: the ORM would always escape
                session.execute(
                    text(
                        f"UPDATE post SET topics = CAST(:t AS {json_type}) WHERE platform_id = :p"
                    ),
                    {"t": stored, "p": pid},
                )
        session.commit()
        yield session
    engine.dispose()


def _ids(session: Session, post_ids: list[int]) -> set[str]:
    p = columns(Post)
    rows = session.execute(select(p.platform, p.platform_id).where(p.id.in_(post_ids))).all()
    assert all(platform == "weibo" for platform, _ in rows)
    return {pid for _, pid in rows}


def test_the_topics_are_stored_both_ways(store: Session) -> None:
    stored = dict(store.execute(text("SELECT platform_id, CAST(topics AS TEXT) FROM post")).all())
    assert "\\u624b" in stored["m-topic-esc"] and "手冲咖啡" in stored["m-topic-utf8"]


def test_report_export_and_alert_scopes_select_the_same_posts(store: Session, url: str) -> None:
    settings = scope_settings(url)
    camp = campaign_or_error(settings, "c")
    # the report: its temporary scope table
    build_scope(store, camp, None, SINCE, SINCE, UNTIL, "day")
    report_ids = [int(r[0]) for r in store.execute(text(f"SELECT post_id FROM {SCOPE_TABLE}"))]
    store.execute(text(f"DROP TABLE {SCOPE_TABLE}"))
    store.rollback()
    # the alerts: the clause on Post in their own queries
    p = columns(Post)
    clause_ids = list(store.execute(select(p.id).where(campaign_clause(camp))).scalars())
    # the export: the streamed rows
    export = posts_export(store, settings, "c", SINCE, UNTIL, chunk=4)
    exported = {(r[0], r[1]) for part in export.chunks() for r in part}
    assert _ids(store, report_ids) == EXPECTED
    assert sorted(report_ids) == sorted(clause_ids)
    assert exported == {("weibo", pid) for pid in EXPECTED}
    assert report_data(store, settings, "c", SINCE, UNTIL).totals["current"]["posts"] == len(
        EXPECTED
    )


def test_a_campaign_without_terms_selects_nothing_and_unknown_ones_fail_alike(
    store: Session, url: str
) -> None:
    settings = scope_settings(url)
    assert report_data(store, settings, "e", SINCE, UNTIL).totals["current"]["posts"] == 0
    assert list(posts_export(store, settings, "e").chunks()) == []
    for call in (
        lambda: report_data(store, settings, "nope", SINCE, UNTIL),
        lambda: posts_export(store, settings, "nope"),
    ):
        with pytest.raises(CampaignError, match="--campaign nope: no such campaign; known: c, e"):
            call()
    assert CampaignError("x", []).exit_code == 2
