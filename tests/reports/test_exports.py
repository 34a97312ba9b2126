"""``tingfeng export``: every format read back with its own reader and compared with the store;
formula injection guarded in CSV/XLSX; XLSX's row limit refused up front; chunked writing."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from sqlmodel import Session

from bot.cli import cli
from crawlers.config import Settings, load_settings
from crawlers.models import Account, InfluenceScore, Post, PostLabel, ScoreRun
from crawlers.store import open_store
from reports import exports
from reports.exports import ExportError, posts_export, users_export, write_export

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
SETTINGS = """
[store]
url = "sqlite:///{db}"

[campaigns.shiguang]
brand = "拾光咖啡"
interests = ["coffee", "food"]
topics = ["咖啡探店"]
supertopics = ["咖啡"]
keywords = ["拿铁"]
brand_terms = ["冷萃"]
"""

# (post id, author, text, topics, group, hours after T0, labels {version: sentiment})
POSTS: list[tuple[str, str, str, list[str], str | None, int, dict[str, str]]] = [
    ("p1", "u1", "拾光咖啡的冷萃太好喝了", [], None, 0, {"v1": "negative", "v2": "positive"}),
    ("p2", "u2", "=HYPERLINK(\"http://evil.example\",\"点我\") 拾光咖啡", [], None, 1, {"v2": "negative"}),
    ("p3", "u2", "-1+2 今天的拿铁一般", [], None, 2, {"v2": "neutral"}),
    ("p4", "u3", "@所有人 探店打卡", ["咖啡探店"], None, 3, {"v2": "positive"}),
    ("p5", "u3", "\t超话里的日常", [], "SUPER", 4, {}),
    ("p6", "u4", "和咖啡无关的火锅", [], None, 5, {"v2": "positive"}),  # not the campaign's
    ("p7", "u1", "拾光咖啡 新店开业", [], None, 48, {"v2": "positive"}),
    ("p8", "u4", "同感，排队太久", [], None, 50, {"v2": "negative"}),  # a comment on p1
]  # fmt: skip


def _settings(tmp_path: Path) -> Settings:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS.format(db=(tmp_path / "t.db").as_posix()), encoding="utf-8")
    return load_settings(path)


def _fill(session: Session, settings: Settings) -> None:
    from crawlers.config import supertopic_containerid

    group = supertopic_containerid("咖啡")
    names = {"u1": "咖啡师大程", "u2": "=cmd|' /C calc'!A0", "u3": "探店小王", "u4": "路人"}
    for uid, name in names.items():
        session.add(
            Account(platform="weibo", platform_id=uid, name=name, followers_count=100 * len(uid),
                    verified=uid == "u1")
        )  # fmt: skip
    for i, (pid, author, text, topics, grp, hours, labels) in enumerate(POSTS):
        post = Post(
            platform="weibo", platform_id=pid, author_id=author, text=text, text_plain=text,
            topics=topics, group_id=group if grp else None, created_at=T0 + timedelta(hours=hours),
            reposts_count=i * 3, comments_count=i, likes_count=None,
            kind="comment" if pid == "p8" else "post", parent_id="p1" if pid == "p8" else None,
        )  # fmt: skip
        session.add(post)
        session.flush()
        for version, sentiment in labels.items():
            session.add(
                PostLabel(post_id=post.id, model_version=version, sentiment=sentiment,
                          sentiment_score=0.9, polarity=0.5 if sentiment == "positive" else -0.5,
                          emotion="angry" if sentiment == "negative" else "happy",
                          interests=["coffee"], intents=["complaint"] if sentiment == "negative" else [],
                          keywords=["拾光", "冷萃"], topic="财经", spam_score=0.1,
                          labeled_at=T0 + timedelta(days=1 if version == "v1" else 2))
            )  # fmt: skip
    run = ScoreRun(platform="weibo", fingerprint="x")
    session.add(run)
    session.flush()
    for rank, uid in enumerate(["u3", "u1", "u2"], start=1):
        parts = {"reach": 10.0 / rank, "pagerank": 0.1 / rank, "community": rank - 1, "quality": 1.0,
                 "received": {"repost": rank}}  # fmt: skip
        session.add(
            InfluenceScore(run_id=run.id, platform="weibo", account_id=uid, score=1.0 / rank,
                           rank=rank, parts=parts, explanation=f"第{rank}名：转发多")
        )  # fmt: skip
    session.add(
        InfluenceScore(run_id=run.id, platform="weibo", account_id="u1", interest="coffee",
                       score=0.7, rank=1, parts={}, explanation="咖啡圈第一")
    )  # fmt: skip
    session.commit()


@pytest.fixture
def store(tmp_path: Path) -> tuple[Settings, Session]:
    settings = _settings(tmp_path)
    engine = open_store(settings)
    with Session(engine) as session:
        _fill(session, settings)
        yield settings, session
    engine.dispose()


def _expected_posts(since_hours: int | None = None) -> list[dict[str, Any]]:
    """What the store says, computed here without the export code: the campaign's posts
    (brand, brand terms, keyword, topic, super-topic) with their v2 labels."""
    rows = []
    for i, (pid, author, text, _topics, _g, hours, labels) in enumerate(POSTS):
        if pid == "p6" or (since_hours is not None and hours < since_hours):
            continue
        rows.append(
            {"post_id": pid, "author_id": author, "text": text, "sentiment": labels.get("v2"),
             "created": T0 + timedelta(hours=hours), "reposts": i * 3, "comments": i}
        )  # fmt: skip
    return rows


def _guarded(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def test_posts_csv_has_bom_labels_and_guards_formulas(store: Any, tmp_path: Path) -> None:
    settings, session = store
    out = tmp_path / "posts.csv"
    n = write_export(posts_export(session, settings, "shiguang", chunk=2), "csv", out)
    expected = _expected_posts()
    assert n == len(expected) == 7
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel's cue for UTF-8
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["post_id"] for r in rows] == [e["post_id"] for e in expected]
    for row, exp in zip(rows, expected, strict=True):
        assert row["text"] == _guarded(exp["text"])
        assert row["sentiment"] == (exp["sentiment"] or "")
        assert row["created_at_utc"] == exp["created"].strftime("%Y-%m-%d %H:%M:%S")
        assert row["reposts"] == str(exp["reposts"]) and row["likes"] == ""
        assert row["url"] == f"http://127.0.0.1:8765/detail/{exp['post_id']}"
        assert row["label_version"] == ("v2" if exp["sentiment"] else "")
    first = rows[0]  # the latest model version wins over v1's "negative"
    assert first["sentiment"] == "positive" and first["keywords"] == "拾光; 冷萃"
    assert first["author_name"] == "咖啡师大程" and first["emotion"] == "happy"
    assert rows[1]["text"].startswith("'=HYPERLINK(") and rows[1]["author_name"].startswith("'=cmd")
    assert rows[2]["text"].startswith("'-1+2") and rows[3]["text"].startswith("'@所有人")
    assert rows[4]["text"] == "'\t超话里的日常"  # super-topic post, tab guarded
    assert float(rows[1]["polarity"]) == -0.5  # numbers are not guarded: "-0.5" stays a number


def test_posts_xlsx_reads_back_without_formulas(store: Any, tmp_path: Path) -> None:
    settings, session = store
    out = tmp_path / "posts.xlsx"
    since = T0 + timedelta(hours=1)
    n = write_export(posts_export(session, settings, "shiguang", since=since), "xlsx", out)
    expected = _expected_posts(since_hours=1)
    assert n == len(expected) == 6
    ws = openpyxl.load_workbook(out).active
    header = [c.value for c in ws[1]]
    assert header == [c.name for c in exports.POST_COLUMNS]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in ws.iter_rows(min_row=2)]
    assert [r["post_id"] for r in rows] == [e["post_id"] for e in expected]
    for row, exp in zip(rows, expected, strict=True):
        assert row["text"] == _guarded(exp["text"])
        assert row["created_at_utc"] == exp["created"].replace(tzinfo=None)
        assert row["reposts"] == exp["reposts"]
    cells = [c for r in ws.iter_rows(min_row=2) for c in r]
    assert all(c.data_type != "f" for c in cells)  # no cell is a formula


def test_posts_parquet_keeps_types_in_row_groups(store: Any, tmp_path: Path) -> None:
    settings, session = store
    out = tmp_path / "posts.parquet"
    n = write_export(posts_export(session, settings, "shiguang", chunk=2), "parquet", out)
    assert n == 7
    assert pq.ParquetFile(out).num_row_groups == 4  # one row group per chunk of 2
    table = pq.read_table(out).to_pylist()
    expected = _expected_posts()
    assert [r["post_id"] for r in table] == [e["post_id"] for e in expected]
    for row, exp in zip(table, expected, strict=True):
        assert row["text"] == exp["text"]  # data, not a spreadsheet: kept as written
        assert row["created_at_utc"] == exp["created"]
        assert row["sentiment"] == exp["sentiment"]
    assert table[0]["keywords"] == ["拾光", "冷萃"] and table[0]["interests"] == ["coffee"]
    assert table[0]["likes"] is None and table[1]["sentiment_score"] == 0.9


def test_users_export_has_influence_parts_and_interests(store: Any, tmp_path: Path) -> None:
    settings, session = store
    out = tmp_path / "users.parquet"
    n = write_export(users_export(session, settings, "shiguang"), "parquet", out)
    rows = pq.read_table(out).to_pylist()
    # by rank; u4 (unranked) last, for its comment on p1, not for its hot-pot post
    assert n == 4 and [r["account_id"] for r in rows] == ["u3", "u1", "u2", "u4"]
    u3, u1, u2, u4 = rows
    assert u4["posts"] == 1 and u4["negative_posts"] == 1 and u4["influence_rank"] is None
    assert (u3["influence_rank"], u3["influence_score"], u3["explanation"]) == (
        1,
        1.0,
        "第1名：转发多",
    )
    assert u1["posts"] == 2 and u1["negative_posts"] == 0 and u2["negative_posts"] == 1
    assert u1["verified"] is True and u1["followers"] == 200
    assert u1["reach"] == 5.0 and u1["community"] == 1 and u1["audience"] is None
    assert json.loads(u1["parts_json"])["received"] == {"repost": 2}
    assert (u1["coffee_rank"], u1["coffee_score"], u1["coffee_explanation"]) == (
        1,
        0.7,
        "咖啡圈第一",
    )
    assert u3["coffee_rank"] is None and "food_rank" in u3
    assert u1["last_post_utc"] == T0 + timedelta(hours=48)
    csv_out = tmp_path / "users.csv"
    write_export(users_export(session, settings, "shiguang"), "csv", csv_out)
    with csv_out.open(encoding="utf-8-sig", newline="") as fh:
        by_id = {r["account_id"]: r for r in csv.DictReader(fh)}
    assert by_id["u2"]["name"] == "'=cmd|' /C calc'!A0" and by_id["u2"]["verified"] == "false"


def test_xlsx_row_limit_is_refused_before_writing(
    store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, session = store
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 4)  # a header and 3 rows fit; 7 do not
    out = tmp_path / "big.xlsx"
    with pytest.raises(ExportError, match=r"7 rows do not fit.*--format csv or --format parquet"):
        write_export(posts_export(session, settings, "shiguang"), "xlsx", out)
    assert not out.exists()
    # csv has no such limit
    assert write_export(posts_export(session, settings, "shiguang"), "csv", tmp_path / "a.csv") == 7


def test_cli_export_and_its_errors(store: Any, tmp_path: Path) -> None:
    settings, _ = store
    out = tmp_path / "cli.xlsx"
    args = ["--settings", str(settings.path), "export", "posts", "--campaign", "shiguang"]
    result = CliRunner().invoke(cli, [*args, "--until", "2026-11-01T10:00", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 2 posts" in result.output
    assert openpyxl.load_workbook(out).active.max_row == 3
    result = CliRunner().invoke(
        cli, ["--settings", str(settings.path), "export", "users", "--campaign", "nope",
              "--out", str(tmp_path / "u.csv")]
    )  # fmt: skip
    assert result.exit_code == 2 and "--campaign nope: no such campaign" in result.output
    result = CliRunner().invoke(
        cli, [*args, "--since", "yesterday", "--out", str(tmp_path / "x.csv")]
    )
    assert result.exit_code == 2 and "--since 'yesterday'" in result.output
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "x.txt")])
    assert result.exit_code == 2 and "--format" in result.output
