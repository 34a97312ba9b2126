"""The sentiment report and the exports in the review web UI (``/reports``): login, the report's
own Content-Security-Policy (the other pages keep the strict one), bad input as a 400 form page
with a message, a CSV export read back, and the report rendered in a real Chromium."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.web.reports import REPORT_CSP, safe_name
from crawlers.config import Settings, default_settings
from tests.conftest import free_port
from tests.reports.store import CAMPAIGN, fill
from tests.web.browser import chromium, log_in_page, serve
from tests.web.conftest import PASSWORD, log_in, make_client

STRICT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: the tiny store's period (tests.reports.store: current period 2026-10-08 .. 10-14)
PERIOD = {"campaign": "c", "since": "2026-10-08", "until": "2026-10-14"}
#: the campaign's posts in that period, oldest first (p7 is off topic, p8 on 10-15)
POSTS_IN_PERIOD = ["p1", "p2", "p3", "p4", "p6"]


def report_web_settings(tmp_path: Path) -> Settings:
    return default_settings(
        base_dir=tmp_path,
        store={"url": f"sqlite:///{tmp_path / 'web.db'}"},
        crawl={"base_url": "https://m.weibo.cn"},
        campaigns={"c": CAMPAIGN, "solo": {"brand": "拾光咖啡"}},
    )


@pytest.fixture
def filled(web_engine: Engine) -> Engine:
    with Session(web_engine) as s:
        fill(s)
    return web_engine


@pytest.fixture
def rclient(tmp_path: Path, filled: Engine) -> TestClient:
    client = make_client(report_web_settings(tmp_path), filled)
    return client


def test_report_pages_need_a_login(rclient: TestClient) -> None:
    for path in ("/reports", "/reports/view?campaign=c", "/reports/export?campaign=c"):
        resp = rclient.get(path)
        assert resp.status_code == 303 and resp.headers["location"] == "/login", path
    assert log_in(rclient).status_code == 303
    resp = rclient.get("/reports")
    assert resp.status_code == 200
    assert '<a href="/reports">Reports</a>' in resp.text  # the navigation link
    assert 'action="/reports/view"' in resp.text and 'action="/reports/export"' in resp.text
    assert '<option value="c" selected>' in resp.text and '<option value="solo"' in resp.text


def test_the_report_has_its_own_csp_and_the_other_pages_the_strict_one(
    rclient: TestClient,
) -> None:
    log_in(rclient)
    resp = rclient.get("/reports/view", params=PERIOD)
    assert resp.status_code == 200, resp.text
    h = resp.headers
    assert h["content-security-policy"] == REPORT_CSP
    assert "script-src" not in REPORT_CSP and "'self'" not in REPORT_CSP
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["cache-control"] == "no-store"
    assert h["x-frame-options"] == "DENY"
    assert resp.text.startswith("<!doctype html>") or resp.text.lower().startswith("<!doctype")
    assert "拾光咖啡 舆情报告" in resp.text and "声量趋势" in resp.text
    for path in ("/reports", "/", "/outcomes", "/reports/view?campaign=nope"):
        got = rclient.get(path)
        assert got.headers["content-security-policy"] == STRICT_CSP, path


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/reports/view", {"campaign": "nope"}, "campaign &#39;nope&#39;: choose one of"),
        ("/reports/view", {"campaign": ""}, "no campaign: choose one of"),
        ("/reports/view", {**PERIOD, "since": "yesterday"}, "since &#39;yesterday&#39;: not a date"),
        ("/reports/view", {**PERIOD, "until": "2026-13-40"}, "until &#39;2026-13-40&#39;: not a date"),
        ("/reports/view", {**PERIOD, "until": "2026-10-01"}, "is not after since 2026-10-08"),
        ("/reports/view", {**PERIOD, "since": "2000-01-01"}, "covers at most 3,660 days"),
        ("/reports/export", {**PERIOD, "until": "9999-12-31"}, "out of range"),
        ("/reports/export", {**PERIOD, "format": "docx"}, "format &#39;docx&#39;: choose one of"),
        ("/reports/export", {**PERIOD, "what": "drafts"}, "what &#39;drafts&#39;: choose posts or users"),
        ("/reports/export", {**PERIOD, "since": "10/08/2026"}, "not a date"),
        ("/reports/export", {"campaign": "x<y"}, "campaign &#39;x&lt;y&#39;: choose one of"),
    ],
)  # fmt: skip
def test_bad_input_is_the_form_with_a_message(
    rclient: TestClient, path: str, query: dict[str, str], message: str
) -> None:
    log_in(rclient)
    resp = rclient.get(path, params=query)
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("text/html")
    assert 'class="msg msg-error"' in resp.text and message in resp.text
    assert 'action="/reports/view"' in resp.text  # the form again, to correct it


def test_xlsx_row_limit_is_a_message(
    rclient: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from reports import exports

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)  # 5 posts do not fit under the header
    log_in(rclient)
    resp = rclient.get("/reports/export", params={**PERIOD, "what": "posts", "format": "xlsx"})
    assert resp.status_code == 400
    assert "5 rows do not fit in an XLSX sheet" in resp.text
    assert "choose csv or parquet, or narrow the export to a shorter period" in resp.text
    assert "--format" not in resp.text


def test_posts_export_downloads_as_csv_and_parses_back(rclient: TestClient) -> None:
    log_in(rclient)
    resp = rclient.get("/reports/export", params={**PERIOD, "what": "posts", "format": "csv"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    assert resp.headers["content-disposition"] == (
        'attachment; filename="posts-c-20261008-20261015.csv"'
    )
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    rows = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert [r["post_id"] for r in rows] == POSTS_IN_PERIOD
    first = rows[0]
    assert first["text"] == "拾光咖啡的冷萃真好喝" and first["sentiment"] == "positive"
    assert first["author_name"] == "咖啡师大程" and first["label_version"] == "test-v1"
    assert first["url"] == "https://m.weibo.cn/detail/p1"
    # streamed from a temporary file that is gone once the download is done
    assert not list(Path(tempfile.gettempdir()).glob("tingfeng-export-*"))


def test_users_export_as_parquet(rclient: TestClient) -> None:
    log_in(rclient)
    resp = rclient.get("/reports/export", params={**PERIOD, "what": "users", "format": "parquet"})
    assert resp.status_code == 200, resp.text
    assert 'filename="users-c-20261008-20261015.parquet"' in resp.headers["content-disposition"]
    table = pq.read_table(pa.BufferReader(resp.content))
    got = dict(zip(table.column("account_id").to_pylist(),
                   table.column("influence_rank").to_pylist(), strict=True))  # fmt: skip
    assert got == {"a1": 1, "a2": 2, "a3": 3, "a4": None}


def test_safe_file_names() -> None:
    assert safe_name("拾光/../咖啡 x") == "x"
    assert safe_name('a"b\r\nc.csv') == "a_b_c.csv"
    assert safe_name("..") == "campaign"


# --- in a real Chromium ---------------------------------------------------------------------


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context()
        context.set_default_timeout(15000)
        pg = context.new_page()
        pg.console_texts = []  # type: ignore[attr-defined]
        pg.on("console", lambda m: pg.console_texts.append(m.text))  # type: ignore[attr-defined]
        yield pg
        context.close()


def test_the_report_opens_from_the_form_in_chromium(
    tmp_path: Path, filled: Engine, page: Any
) -> None:
    with serve(report_web_settings(tmp_path), filled, free_port()) as base:
        log_in_page(page, base, "alice", PASSWORD)
        page.click("nav >> text=Reports")
        page.wait_for_url(base + "/reports")
        form = page.locator("form.report-form")
        form.locator("select[name=campaign]").select_option("c")
        form.locator("input[name=since]").fill("2026-10-08")
        form.locator("input[name=until]").fill("2026-10-14")
        form.locator("button[type=submit]").click()
        page.wait_for_url(base + "/reports/view?campaign=c&since=2026-10-08&until=2026-10-14")
        page.wait_for_load_state("load")
        title = page.title()
        h1 = page.locator("h1").first.inner_text()
        h2s = page.locator("h2").all_inner_texts()
        # the inline CSS applied (a CSP block would leave the default serif, unstyled page)
        family = page.evaluate("getComputedStyle(document.body).fontFamily")
        scripts_ran = page.evaluate(
            "Array.from(document.scripts).every(s => s.type === 'application/json')"
        )
        violations = [t for t in page.console_texts if "Content Security Policy" in t]
    assert violations == []
    assert title.startswith("拾光咖啡 舆情报告")
    assert "舆情报告" in h1
    assert any(h.startswith("声量趋势") for h in h2s), h2s
    assert any(h.startswith("声量份额") for h in h2s), h2s
    assert family.startswith('"Noto Sans CJK SC"'), family
    assert scripts_ran
