"""reports.data against a hand-counted store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel

from crawlers.errors import ConfigError
from crawlers.store import make_engine, migrate
from reports.data import (
    ReportError,
    bucket_for,
    nsr,
    parse_when,
    report_data,
    two_proportion_test,
)
from reports.scope import CampaignError
from tests.reports.store import SINCE, UNTIL, fill, report_settings


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite://"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="module")
def store(url: str) -> Iterator[Session]:
    """One filled store per backend for the module: reports only read (and roll back)."""
    engine = make_engine(url)
    if url.startswith("postgresql"):
        SQLModel.metadata.drop_all(engine)
    migrate(engine)
    with Session(engine) as session:
        fill(session)
        yield session
    engine.dispose()


def test_counts_match_the_hand_counted_store(store: Session, url: str) -> None:
    d = report_data(store, report_settings(url), "c", SINCE, UNTIL)
    cur, prev = d.totals["current"], d.totals["previous"]
    # p1 p2 p3 p4 (a comment on p2) p6; not p5 (competitor only), p7 (unrelated), p8 (at until)
    assert (cur["posts"], cur["positive"], cur["neutral"], cur["negative"]) == (5, 2, 1, 2)
    assert cur["nsr"] == 0.0 and cur["negative_share"] == pytest.approx(2 / 5)
    assert (prev["posts"], prev["positive"], prev["negative"]) == (2, 1, 1)
    assert d.bucket == "day" and len(d.volume) == 7
    by_day = {v["bucket"][:10]: v for v in d.volume}
    assert (by_day["2026-10-08"]["positive"], by_day["2026-10-08"]["nsr"]) == (1, 1.0)
    assert (by_day["2026-10-09"]["negative"], by_day["2026-10-09"]["neutral"]) == (1, 1)
    assert by_day["2026-10-09"]["nsr"] == -1.0 and by_day["2026-10-12"]["nsr"] is None
    assert sum(v["total"] for v in d.volume) == 5
    emotions = {e["emotion"]: (e["count"], e["previous_count"]) for e in d.emotions}
    assert emotions == {"happy": (2, 1), "angry": (2, 0), "neutral": (1, 0), "sad": (0, 1)}


def test_share_of_voice(store: Session, url: str) -> None:
    sov = report_data(store, report_settings(url), "c", SINCE, UNTIL).share_of_voice
    brand, rival = sov["entities"]
    # brand: p1 p2 p6 (冷萃 or 拾光咖啡); rival: p5 p6 (瑞幸, LUCKIN case-insensitively)
    assert (brand["mentions"], brand["positive"], brand["negative"]) == (3, 2, 1)
    assert (rival["name"], rival["mentions"], rival["positive"]) == ("瑞幸", 2, 2)
    assert brand["share"] == pytest.approx(3 / 5) and rival["share"] == pytest.approx(2 / 5)
    assert (brand["previous_mentions"], rival["previous_mentions"]) == (2, 1)
    assert brand["nsr"] == pytest.approx(1 / 3) and sov["note"] == ""


def test_keywords_voices_communities_posts(store: Session, url: str) -> None:
    d = report_data(store, report_settings(url), "c", SINCE, UNTIL)
    top = d.keywords[0]
    assert (top["term"], top["count"], top["positive"], top["previous_count"]) == ("冷萃", 2, 2, 0)
    assert {k["term"]: k["count"] for k in d.keywords}["同感"] == 1
    assert [h["term"] for h in d.hashtags] == ["手冲咖啡"]
    assert d.topics[0]["term"] == "finance" and d.topics[0]["count"] == 5
    voices = d.voices["top"]
    assert [(v["account_id"], v["rank"], v["posts"]) for v in voices] == [
        ("a1", 1, 2), ("a2", 2, 1), ("a3", 3, 1)
    ]  # fmt: skip
    assert voices[0]["name"] == "咖啡师大程" and voices[0]["explanation"] == "why a1"
    assert voices[0]["url"] == "https://m.weibo.cn/u/a1"
    # new: posted now, not in the previous period (a3; a4 is unranked)
    assert [v["account_id"] for v in d.changes["new_voices"]] == ["a3"]
    assert [k["term"] for k in d.changes["new_keywords"]] == ["冷萃"]
    comms = {c["community"]: (c["authors"], c["posts"], c["positive"], c["negative"])
             for c in d.communities}  # fmt: skip
    assert comms == {0: (2, 3, 1, 2), 1: (1, 1, 0, 0)}
    assert d.communities[0]["explanation"] == "community 0 explained"
    assert [p["post_id"] for p in d.notable["negative"]] == ["p2", "p4"]
    assert [p["post_id"] for p in d.notable["positive"]] == ["p1", "p6"]
    assert d.notable["negative"][0]["url"] == "https://m.weibo.cn/detail/p2"


def test_previous_period_change(store: Session, url: str) -> None:
    ch = report_data(store, report_settings(url), "c", SINCE, UNTIL).changes
    assert (ch["volume"]["current"], ch["volume"]["previous"]) == (5, 2)
    assert ch["volume"]["change"] == pytest.approx(1.5)
    assert ch["nsr"]["delta"] == 0.0
    assert ch["negative_share"]["delta"] == pytest.approx(2 / 5 - 1 / 2)
    # far too few posts to call anything significant
    assert not any(ch[k]["significant"] for k in ("volume", "nsr", "negative_share"))
    assert not any(e["significant"] for e in ch["emotions"])


def test_no_competitors_shows_the_brand_with_a_note(store: Session, url: str) -> None:
    sov = report_data(store, report_settings(url), "solo", SINCE, UNTIL).share_of_voice
    assert [e["name"] for e in sov["entities"]] == ["拾光咖啡"]
    assert sov["entities"][0]["share"] == 1.0 and "No competitors" in sov["note"]


def test_empty_period_and_hourly_buckets(store: Session, url: str) -> None:
    s = report_settings(url)
    d = report_data(
        store, s, "c", datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC)
    )
    assert d.empty and d.totals["current"]["nsr"] is None
    assert d.bucket == "hour" and len(d.volume) == 24 and all(v["total"] == 0 for v in d.volume)
    assert (
        d.keywords == [] and d.voices["top"] == [] and d.notable == {"negative": [], "positive": []}
    )


def test_unranked_store_orders_voices_by_posts() -> None:
    engine = make_engine("sqlite://")
    migrate(engine)
    with Session(engine) as session:
        fill(session, ranked=False)
        d = report_data(session, report_settings(), "c", SINCE, UNTIL)
    engine.dispose()
    assert d.voices["top"][0]["account_id"] == "a1" and d.voices["top"][0]["rank"] is None
    assert "tingfeng rank" in d.voices["note"] and d.communities == []


def test_statistics() -> None:
    assert nsr(3, 1) == 0.5 and nsr(0, 0) is None
    t = two_proportion_test(60, 100, 40, 100)
    assert t["z"] == pytest.approx(2.8284, abs=1e-4)
    assert t["p"] == pytest.approx(math.erfc(2.8284271 / math.sqrt(2)), abs=1e-5)
    assert t["significant"]
    assert not two_proportion_test(6, 10, 1, 10)["significant"]  # too few posts
    assert not two_proportion_test(52, 100, 48, 100)["significant"]
    assert two_proportion_test(0, 0, 1, 5) == {"z": None, "p": None, "significant": False}


def test_bad_options_name_the_option(store: Session, url: str) -> None:
    s = report_settings(url)
    with pytest.raises(CampaignError, match="--campaign nope: no such campaign; known: c, solo"):
        report_data(store, s, "nope", SINCE, UNTIL)
    with pytest.raises(ReportError, match="--until .* is not after --since"):
        report_data(store, s, "c", UNTIL, SINCE)
    with pytest.raises(ReportError, match="--since '2026-13-01': not a date"):
        parse_when("2026-13-01", "--since")
    assert parse_when("2026-10-07", "--until", end=True) == datetime(2026, 10, 8, tzinfo=UTC)
    assert parse_when("2026-10-07T08:00+08:00", "--since") == datetime(2026, 10, 7, tzinfo=UTC)
    assert bucket_for(SINCE, UNTIL) == "day"


def test_competitors_setting(tmp_path: Path) -> None:
    from crawlers.config import load_settings

    path = tmp_path / "s.toml"
    path.write_text(
        '[campaigns.c]\nbrand = "b"\ncompetitors = ["瑞幸", {name = "星巴克", terms = ["sbux"]}]\n',
        encoding="utf-8",
    )
    comps = load_settings(path).campaigns["c"].competitors
    assert [(c.name, c.match_terms()) for c in comps] == [("瑞幸", ["瑞幸"]), ("星巴克", ["sbux"])]
    path.write_text('[campaigns.c]\nbrand = "b"\ncompetitors = [{nmae = "x"}]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="nmae: unknown key. Did you mean 'name'"):
        load_settings(path)


def test_leaves_no_temporary_table_and_a_usable_session(store: Session, url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    report_data(store, report_settings(url), "c", SINCE, UNTIL)
    for table in ("tf_report_scope", "tf_report_authors"):
        with pytest.raises(DBAPIError):
            store.execute(text(f"SELECT count(*) FROM {table}"))
        store.rollback()
    # and a second report on the same session gives the same numbers
    again = report_data(store, report_settings(url), "c", SINCE, UNTIL)
    assert again.totals["current"]["posts"] == 5
