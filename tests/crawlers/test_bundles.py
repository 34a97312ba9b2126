"""One bundle item per response: order kept, requests pass at once, rows before a failure kept."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy.http import Request, TextResponse

from crawlers.bundles import ItemBundleMiddleware, is_bundle
from crawlers.pipelines import DedupPipeline, StorePipeline, ValidatePipeline

RESPONSE = TextResponse("http://127.0.0.1/x", body=b"{}", encoding="utf-8")


def account(uid: str, **kw: Any) -> dict[str, Any]:
    return {"item_type": "account", "platform": "weibo", "platform_id": uid, **kw}


def test_items_become_one_bundle_in_order_and_requests_pass() -> None:
    out = list(
        ItemBundleMiddleware().process_spider_output(
            RESPONSE, [account("1"), Request("http://127.0.0.1/a"), account("2")]
        )
    )
    assert isinstance(out[0], Request)
    assert is_bundle(out[1]) and [r["platform_id"] for r in out[1]["items"]] == ["1", "2"]


def test_rows_yielded_before_a_failure_are_kept() -> None:
    def callback() -> Any:
        yield account("1")
        raise ValueError("broken page")

    out: list[Any] = []
    with pytest.raises(ValueError):
        for x in ItemBundleMiddleware().process_spider_output(RESPONSE, callback()):
            out.append(x)
    assert [r["platform_id"] for r in out[0]["items"]] == ["1"]


def test_a_bad_row_leaves_the_rest_of_its_bundle(engine) -> None:
    validate, dedup, store = ValidatePipeline(), DedupPipeline(), StorePipeline(engine=engine)
    rows = [account("1"), {"item_type": "account", "platform": "weibo"}, account("1"), account("2")]
    bundle_ = {"item_type": "bundle", "items": rows}
    out = store.process_item(dedup.process_item(validate.process_item(bundle_)))
    # the row without an id is dropped, the repeat is deduplicated, the rest stored
    assert [r.platform_id for r in out["items"]] == ["1", "2"]
    assert store.flush() == 2
