"""Pipeline steps on the in-memory store: validate, dedup, store (idempotent, atomic), mentions."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from sqlmodel import Session, select

from crawlers.models import Account, Interaction, PendingMention, Post, PostIn
from crawlers.pipelines import DedupPipeline, StorePipeline, ValidatePipeline
from crawlers.store import table_counts


def acc(uid: str, **fields: Any) -> dict[str, Any]:
    return {"item_type": "account", "platform": "weibo", "platform_id": uid, **fields}


def post(pid: str, author: str = "1", **fields: Any) -> dict[str, Any]:
    return {
        "item_type": "post",
        "platform": "weibo",
        "platform_id": pid,
        "author_id": author,
        **fields,
    }


def run(engine, items: list[dict[str, Any]]) -> StorePipeline:
    """Validate, dedup and store ``items`` as one crawl would."""
    validate, dedup, store = ValidatePipeline(), DedupPipeline(), StorePipeline(engine=engine)
    for it in items:
        with contextlib.suppress(DropItem):
            store.process_item(dedup.process_item(validate.process_item(it)))
    store.close_spider()
    return store


@pytest.mark.parametrize(
    "bad",
    [
        {"item_type": "post", "platform": "weibo", "platform_id": "1"},  # no author_id
        {
            "item_type": "account",
            "platform": "weibo",
            "platform_id": "1",
            "followers_count": "很多",
        },
        {"item_type": "nonsense", "platform": "weibo"},
        {"platform": "weibo", "platform_id": "1"},  # no item_type
    ],
)
def test_validate_drops_bad_items(bad: dict[str, Any]) -> None:
    with pytest.raises(DropItem):
        ValidatePipeline().process_item(bad)


def test_validate_builds_in_models() -> None:
    obj = ValidatePipeline().process_item(post("9", text="好"))
    assert isinstance(obj, PostIn) and obj.model_fields_set == {
        "platform",
        "platform_id",
        "author_id",
        "text",
    }


def test_dedup() -> None:
    v, d = ValidatePipeline(), DedupPipeline()
    d.process_item(v.process_item(acc("1", name="甲")))
    with pytest.raises(DropItem):
        d.process_item(v.process_item(acc("1", name="乙")))  # same key, same fields: seen
    # the INFO page's item (tags) for an account already seen inside a post must pass
    d.process_item(v.process_item(acc("1", profile_tags=["咖啡"])))
    d.process_item(v.process_item(acc("2", name="甲")))


def test_store_is_idempotent(engine) -> None:
    items = [
        acc("1", name="甲", followers_count=10),
        post("100", "1", text="你好", topics=["咖啡"]),
        {
            "item_type": "interaction",
            "platform": "weibo",
            "kind": "follow",
            "src_id": "2",
            "dst_id": "1",
            "post_id": "",
        },
        {
            "item_type": "group",
            "platform": "weibo",
            "platform_id": "100808" + "0" * 32,
            "name": "咖啡",
        },
    ]
    run(engine, items)
    with Session(engine) as s:
        first = table_counts(s)
    run(engine, items)
    with Session(engine) as s:
        assert table_counts(s) == first
        assert first["account"] == first["post"] == first["interaction"] == first["grp"] == 1


def test_account_keeps_counts_and_tags(engine) -> None:
    run(engine, [acc("1", name="甲", followers_count=10), acc("1", profile_tags=["咖啡", "手冲"])])
    # a later crawl sees the user inside a post: no count, no tags in that response
    run(engine, [acc("1", name="甲2", followers_count=None)])
    with Session(engine) as s:
        a = s.exec(select(Account)).one()
    assert (a.name, a.followers_count, a.profile_tags) == ("甲2", 10, ["咖啡", "手冲"])
    run(engine, [acc("1", profile_tags=[])])  # the INFO page was fetched and lists no tags now
    with Session(engine) as s:
        assert s.exec(select(Account)).one().profile_tags == []


def test_long_text_update_keeps_counts(engine) -> None:
    run(engine, [post("100", "1", text="短…", comments_count=5, truncated=True)])
    run(engine, [post("100", "1", text="很长的全文", truncated=False)])
    with Session(engine) as s:
        p = s.exec(select(Post)).one()
    assert (p.text, p.comments_count, p.truncated) == ("很长的全文", 5, False)


def test_bad_batch_stores_nothing(engine, caplog) -> None:
    store = StorePipeline(engine=engine)
    store.process_item(ValidatePipeline().process_item(acc("1", name="甲")))
    store.process_item(ValidatePipeline().process_item(post("100", "1")))
    # a row the database refuses (author_id NOT NULL) in the same batch
    store.process_item(PostIn.model_construct(platform="weibo", platform_id="101", author_id=None))
    assert store.flush() == 0
    with Session(engine) as s:
        counts = table_counts(s)
    assert counts["account"] == counts["post"] == 0
    assert "rolled back" in caplog.text


def test_mentions_resolve_through_accounts(engine) -> None:
    run(engine, [acc("2", name="拿铁少女")])  # known from an earlier crawl
    store = StorePipeline(engine=engine)
    v = ValidatePipeline()
    for it in [
        acc("3", name="早起喝美式"),  # seen in this crawl
        post("100", "1", mentions=["拿铁少女", "早起喝美式", "无名氏"]),
    ]:
        store.process_item(v.process_item(it))
    store.flush()
    # the edges commit in the same transaction as the post; the unknown name waits in the store
    with Session(engine) as s:
        assert [m.name for m in s.exec(select(PendingMention))] == ["无名氏"]
    # whoever stores that account later (another worker, a later crawl) resolves it
    run(engine, [acc("4", name="无名氏")])
    with Session(engine) as s:
        assert s.exec(select(PendingMention)).all() == []
        edges = {(e.kind, e.src_id, e.dst_id, e.post_id) for e in s.exec(select(Interaction))}
    assert edges == {
        ("mention", "1", "2", "100"),
        ("mention", "1", "3", "100"),
        ("mention", "1", "4", "100"),
    }
