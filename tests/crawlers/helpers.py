"""Helpers for the crawler tests: fixture responses and a spider built without a crawl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scrapy.http import Request, TextResponse

from crawlers.config import Settings
from crawlers.spiders.weibo import WeiboSpider

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "weibo"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def response(url: str, body: str | bytes, **meta: Any) -> TextResponse:
    """A response to a GET of ``url`` carrying ``meta`` (as the spider's request would)."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    request = Request(url, meta=meta)
    return TextResponse(url, body=raw, encoding="utf-8", request=request)


def fixture_response(name: str, url: str = "http://sandbox.test/x", **meta: Any) -> TextResponse:
    return response(url, (FIXTURES / name).read_bytes(), **meta)


def spider(settings: Settings, **crawl: Any) -> WeiboSpider:
    for key, value in crawl.items():
        setattr(settings.crawl, key, value)
    return WeiboSpider(settings)


def items_and_requests(output: Any) -> tuple[list[dict[str, Any]], list[Request]]:
    items, requests = [], []
    for x in output:
        (requests if isinstance(x, Request) else items).append(x)
    return items, requests
