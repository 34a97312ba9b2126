"""The rendered report: embedded data equals report_data, escaping, empty and tiny stores, CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.cli import cli
from crawlers.store import make_engine, migrate
from reports import render_report
from reports.data import report_data
from tests.reports.store import SINCE, UNTIL, add_post, fill, report_settings

NOW = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>拾光咖啡 & "quotes"'


class Page(HTMLParser):
    """The JSON blocks, the tags and the attributes of a rendered report."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: dict[str, Any] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._block: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            assert a.get("type") == "application/json", f"an executable script: {a}"
            self._block = str(a["id"])

    def handle_data(self, data: str) -> None:
        if self._block:
            self.blocks[self._block] = json.loads(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._block = None


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = make_engine("sqlite://")
    migrate(eng)
    yield eng
    eng.dispose()


def test_embedded_json_equals_report_data(engine: Engine) -> None:
    s = report_settings()
    with Session(engine) as session:
        fill(session)
        html = render_report(session, s, "c", SINCE, UNTIL, now=NOW)
        data = report_data(session, s, "c", SINCE, UNTIL, now=NOW)
    page = parse(html)
    expected = json.loads(json.dumps(data.chart_data()))
    assert page.blocks == {f"data-{k}": v for k, v in expected.items()}
    # the charts draw those numbers: one bar group per day, its tooltip gives the counts
    assert html.count("<title>10-09: 2 posts — neutral 1, negative 1</title>") == 1
    assert "拾光咖啡 舆情报告" in html and "2026-11-01 08:30:00 UTC" in html
    assert "<title>拾光咖啡 舆情报告 · sentiment report 2026-10-08" in html
    assert "NSR = (positive − negative) / (positive + negative)" in html  # method notes
    assert 'href="https://m.weibo.cn/u/a1"' in html and "why a1" in html


def test_self_contained_strict_csp(engine: Engine) -> None:
    with Session(engine) as session:
        fill(session)
        html = render_report(session, report_settings(), "c", SINCE, UNTIL, now=NOW)
    page = parse(html)
    csp = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    assert csp == [
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "form-action 'none'"
    ]
    assert not [t for t, a in page.tags if t in ("link", "img", "iframe", "object")]
    assert not [a for _, a in page.tags if "src" in a]
    assert all(str(a["href"]).startswith("https://") for t, a in page.tags if t == "a")
    assert page.tags.count(("svg", {})) == 0 and sum(t == "svg" for t, _ in page.tags) >= 4


def test_untrusted_text_is_escaped(engine: Engine) -> None:
    with Session(engine) as session:
        add_post(session, "x1", "evil", EVIL, datetime(2026, 10, 9, tzinfo=UTC), "negative",
                 "angry", ("<b>kw</b>",), reposts=3)  # fmt: skip
        session.commit()
        html = render_report(session, report_settings(), "c", SINCE, UNTIL, now=NOW)
    assert "<script>alert" not in html and "<img" not in html and "<b>kw" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;b&gt;kw&lt;/b&gt;" in html
    page = parse(html)  # the JSON blocks still hold the text as it was
    assert page.blocks["data-notable"]["negative"][0]["text"] == EVIL
    assert html.count("<script") == len(page.blocks)


def test_empty_period_says_so(engine: Engine) -> None:
    with Session(engine) as session:
        fill(session)
        html = render_report(session, report_settings(), "c", datetime(2020, 1, 1, tzinfo=UTC),
                             datetime(2020, 1, 8, tzinfo=UTC), now=NOW)  # fmt: skip
    assert "No data for this period" in html and 'id="no-data"' in html
    assert parse(html).blocks["data-summary"]["totals"]["current"]["posts"] == 0


def test_one_post(engine: Engine) -> None:
    with Session(engine) as session:
        add_post(session, "only", "a1", "拾光咖啡真香", datetime(2026, 10, 10, 9, tzinfo=UTC),
                 "positive", "happy", ("真香",))  # fmt: skip
        session.commit()
        html = render_report(session, report_settings(), "c", SINCE, UNTIL, now=NOW)
    page = parse(html)
    assert page.blocks["data-summary"]["totals"]["current"]["posts"] == 1
    assert page.blocks["data-summary"]["totals"]["current"]["nsr"] == 1.0
    assert "No data for this period" not in html and "真香" in html


def test_no_competitors_note(engine: Engine) -> None:
    with Session(engine) as session:
        fill(session)
        html = render_report(session, report_settings(), "solo", SINCE, UNTIL, now=NOW)
    assert "No competitors configured for this campaign: only the brand is shown." in html
    assert [e["name"] for e in parse(html).blocks["data-share-of-voice"]["entities"]] == [
        "拾光咖啡"
    ]


def test_cli_writes_the_report_and_names_bad_options(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    (tmp_path / "settings.toml").write_text(
        f'[store]\nurl = "sqlite:///{db}"\n[campaigns.c]\nbrand = "拾光咖啡"\n'
        'competitors = [{name = "瑞幸"}]\n',
        encoding="utf-8",
    )
    eng = make_engine(f"sqlite:///{db}")
    migrate(eng)
    with Session(eng) as session:
        fill(session)
    eng.dispose()
    runner = CliRunner()
    base = ["--settings", str(tmp_path / "settings.toml"), "report", "--campaign"]
    out = tmp_path / "r.html"
    result = runner.invoke(cli, [*base, "c", "--since", "2026-10-08", "--until", "2026-10-14",
                                 "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    blocks = parse(out.read_text(encoding="utf-8")).blocks
    assert blocks["data-summary"]["until"] == "2026-10-15T00:00:00Z"  # the whole last day
    assert blocks["data-summary"]["totals"]["current"]["posts"] == 4  # p1 p2 p4 p6 (no topics)
    for args, message in (
        (["nope"], "--campaign nope: no such campaign; known: c"),
        (["c", "--since", "yesterday"], "--since 'yesterday': not a date"),
        (["c", "--since", "2026-10-09", "--until", "2026-10-01"], "is not after --since"),
    ):
        result = runner.invoke(cli, [*base, *args])
        assert result.exit_code == 2 and message in result.output, result.output
    assert re.search(
        r"wrote .*r\.html",
        runner.invoke(cli, [*base, "c", "--since", "2026-10-08", "-o", str(out)]).output,
    )
