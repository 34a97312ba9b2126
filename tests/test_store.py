"""The store on both backends: upserts are idempotent, keep known values, and hold Chinese text.

Every test runs on SQLite (a WAL file) and on a real PostgreSQL server started by the tests.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from crawlers.config import default_settings
from crawlers.errors import StoreError
from crawlers.models import Account, Interaction, Post, PostLabel, content_hash
from crawlers.store import database_url, make_engine, migrate, open_store, table_counts, upsert

KEY = ("platform", "platform_id")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        eng = make_engine(request.getfixturevalue("pg_url"))
        SQLModel.metadata.drop_all(eng)
    migrate(eng)
    yield eng
    eng.dispose()


def _account(pid: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "platform": "weibo",
        "platform_id": pid,
        "name": f"用户{pid}",
        "profile_tags": ["咖啡"],
    }
    row.update(kw)
    return row


def test_upsert_twice_adds_no_rows(db: Engine) -> None:
    rows = [_account(str(i), followers_count=i) for i in range(450)]  # > one chunk
    with Session(db) as s:
        upsert(s, Account, rows, KEY)
        s.commit()
        upsert(s, Account, rows, KEY)
        s.commit()
        assert table_counts(s)["account"] == 450


def test_upsert_updates_values_but_keeps_known_ones_when_absent(db: Engine) -> None:
    with Session(db) as s:
        upsert(s, Account, [_account("1", followers_count=10, name="旧名")], KEY)
        s.commit()
        # a later response omits the count (None) but renames the user
        upsert(s, Account, [_account("1", followers_count=None, name="新名")], KEY)
        s.commit()
        acc = s.exec(select(Account)).one()
        assert (acc.name, acc.followers_count) == ("新名", 10)


def test_chinese_text_json_and_aware_datetimes_round_trip(db: Engine) -> None:
    when = datetime(2026, 11, 1, 3, 4, 5, tzinfo=UTC)
    post = {
        "platform": "weibo",
        "platform_id": "p1",
        "author_id": "1",
        "text": "這個咖啡很好喝[哈哈] #咖啡探店#",
        "topics": ["咖啡探店"],
        "created_at": when,
    }
    with Session(db) as s:
        upsert(s, Post, [post], KEY)
        s.commit()
        got = s.exec(select(Post)).one()
        assert got.text == post["text"] and got.topics == ["咖啡探店"]
        assert got.created_at is not None and got.created_at.astimezone(UTC) == when


def test_interaction_key_includes_kind_and_post(db: Engine) -> None:
    key = ("platform", "kind", "src_id", "dst_id", "post_id")
    edges = [
        {"platform": "weibo", "kind": "follow", "src_id": "1", "dst_id": "2", "post_id": ""},
        {"platform": "weibo", "kind": "comment", "src_id": "1", "dst_id": "2", "post_id": "c1"},
        {"platform": "weibo", "kind": "comment", "src_id": "1", "dst_id": "2", "post_id": "c2"},
    ]
    with Session(db) as s:
        for _ in range(2):
            upsert(s, Interaction, edges, key)
            s.commit()
        assert table_counts(s)["interaction"] == 3


def test_label_unique_per_model_version(db: Engine) -> None:
    with Session(db) as s:
        upsert(s, Post, [{"platform": "weibo", "platform_id": "p1", "author_id": "1"}], KEY)
        s.commit()
        pid = s.exec(select(Post.id)).one()
        rows = [{"post_id": pid, "model_version": v, "sentiment": "positive"} for v in ("a", "b")]
        upsert(s, PostLabel, rows, ("post_id", "model_version"))
        upsert(s, PostLabel, rows, ("post_id", "model_version"))
        s.commit()
        assert table_counts(s)["postlabel"] == 2


def test_natural_key_is_enforced_by_the_database(db: Engine) -> None:
    with Session(db) as s:
        s.add(Account.model_validate(_account("9")))
        s.commit()
        s.add(Account.model_validate(_account("9")))
        with pytest.raises(IntegrityError):
            s.commit()


def test_content_hash_binds_text_and_target() -> None:
    a = content_hash("reply", "weibo", "1", "p1", "你好")
    assert a == content_hash("reply", "weibo", "1", "p1", "你好")
    assert a != content_hash("reply", "weibo", "1", "p1", "你好！")
    assert a != content_hash("reply", "weibo", "2", "p1", "你好")


def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_relative_sqlite_path_resolves_from_settings_folder(tmp_path: Path) -> None:
    s = default_settings(base_dir=tmp_path)  # default url sqlite:///var/tingfeng.db
    assert database_url(s) == f"sqlite:///{tmp_path / 'var' / 'tingfeng.db'}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write read-only files")
def test_read_only_database_file_is_a_clear_error(tmp_path: Path) -> None:
    s = default_settings(base_dir=tmp_path, store={"url": "sqlite:///ro.db"})
    open_store(s).dispose()
    (tmp_path / "ro.db").chmod(stat.S_IRUSR)
    with pytest.raises(StoreError, match="not writable"):
        open_store(s)


def test_unwritable_database_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    s = default_settings(base_dir=tmp_path, store={"url": "sqlite:///file/sub/t.db"})
    with pytest.raises(StoreError, match=r"cannot create the folder .*\[store\] url"):
        open_store(s)


def test_database_path_that_is_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "db.sqlite").mkdir()
    s = default_settings(base_dir=tmp_path, store={"url": "sqlite:///db.sqlite"})
    with pytest.raises(StoreError, match=r"cannot use the database .*db\.sqlite"):
        open_store(s)


def test_migrate_adds_columns_a_later_release_added(db: Engine) -> None:
    """A store created by an older release (no ``account.handle``) gains the column, and the
    rows it holds keep their data and get the column's default."""
    with db.begin() as conn:
        conn.execute(text("ALTER TABLE account DROP COLUMN handle"))
        conn.execute(
            text(
                "INSERT INTO account (platform, platform_id, name, description, profile_tags, "
                "verified, verified_reason, gender, location, first_seen, updated_at) VALUES "
                "('weibo', '1', '旧用户', '', '[]', false, '', '', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    migrate(db)
    migrate(db)  # twice: nothing left to add
    with Session(db) as s:
        acc = s.exec(select(Account)).one()
        assert (acc.name, acc.handle) == ("旧用户", "")
