"""Negative-spike alerts: detection on hourly series with a daily cycle, one alert per episode,
delivery to a real webhook server and a real SMTP server on 127.0.0.1, exactly once."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import insert
from sqlmodel import Session, select

from bot.cli import cli
from crawlers.config import AlertsSettings, Settings, load_settings
from crawlers.errors import ConfigError
from crawlers.models import Alert, Post, PostLabel
from crawlers.store import open_store
from reports.alerts import evaluate, robust_z, run_alerts
from reports.mail import send_report
from tests.conftest import free_port
from tests.reports.smtp import Inbox

DAY0 = datetime(2026, 10, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
CFG = AlertsSettings()


# --- detection on generated series ------------------------------------------------------------


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: fine for the small rates here, deterministic with a seeded Random
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _rate(hour_of_day: int) -> float:
    """Negative posts an hour: quiet nights, a working day, a busy evening."""
    if hour_of_day < 7:
        return 1.0
    return 30.0 if 19 <= hour_of_day <= 22 else 6.0


def _series(days: int, seed: int = 7) -> dict[datetime, tuple[int, int]]:
    rng = random.Random(seed)
    out = {}
    for h in range(days * 24):
        hour = DAY0 + h * HOUR
        neg = _poisson(rng, _rate(hour.hour))
        out[hour] = (_poisson(rng, 3 * _rate(hour.hour)), neg)
    return out


def test_a_normal_busy_evening_does_not_alert() -> None:
    counts = _series(28)
    today = DAY0 + timedelta(days=28)
    evening = today + 21 * HOUR
    counts[evening] = (100, 38)  # a busy but ordinary evening: far above the day's other hours
    verdict = evaluate(counts, evening, DAY0, CFG)
    assert not verdict.alert and not verdict.cold_start and verdict.history_days == 28
    assert 25 <= verdict.median <= 35 and verdict.z < CFG.z
    # a rule blind to the time of day would have fired: 38 is far above the all-hours median
    all_hours = [n for _, n in counts.values()]
    assert robust_z(38, all_hours)[0] > CFG.z


def test_a_spike_at_a_quiet_hour_alerts() -> None:
    counts = _series(28)
    night = DAY0 + timedelta(days=28) + 4 * HOUR
    counts[night] = (3, 15)
    verdict = evaluate(counts, night, DAY0, CFG)
    assert verdict.alert and verdict.median <= 2 and verdict.z >= CFG.z
    assert "15 negative posts" in verdict.reasons[0]
    # below min_count it is statistically odd but too small to page anyone
    counts[night] = (3, 8)
    assert not evaluate(counts, night, DAY0, CFG).alert


def test_a_past_spike_in_the_baseline_does_not_mask_a_new_one() -> None:
    counts = _series(28)
    for d in range(3):  # three earlier nights had a crisis at 04:00
        counts[DAY0 + timedelta(days=d + 10) + 4 * HOUR] = (3, 60)
    night = DAY0 + timedelta(days=28) + 4 * HOUR
    counts[night] = (3, 16)
    assert evaluate(counts, night, DAY0, CFG).alert  # median/MAD ignore them; a mean would not


def test_an_nsr_collapse_alerts_at_ordinary_negative_volume() -> None:
    counts = _series(28)
    evening = DAY0 + timedelta(days=28) + 20 * HOUR
    counts[evening] = (4, 31)  # the usual negatives, but the praise has gone
    verdict = evaluate(counts, evening, DAY0, CFG)
    assert verdict.alert and len(verdict.reasons) == 1 and verdict.reasons[0].startswith("NSR")
    assert verdict.baseline_nsr is not None and verdict.baseline_nsr > 0.3
    counts[evening] = (6, 5)  # too few posts for an NSR to mean anything
    assert not evaluate(counts, evening, DAY0, CFG).alert


def test_cold_start_never_alerts() -> None:
    counts = _series(4)
    night = DAY0 + timedelta(days=3) + 4 * HOUR
    counts[night] = (0, 500)
    verdict = evaluate(counts, night, DAY0, CFG)
    assert verdict.cold_start and not verdict.alert and verdict.history_days == 3
    assert evaluate(counts, night, None, CFG).cold_start  # no history at all


# --- the store, episodes, delivery ------------------------------------------------------------

SETTINGS = """
[store]
url = "sqlite:///{db}"

[alerts]
baseline_days = 7
min_history_days = 5
check_hours = 3
reopen_after_hours = 4
top_posts = 3
webhook_url = "{webhook}"
webhook_retries = 2
webhook_backoff_seconds = 0.01
smtp_host = "{smtp_host}"
smtp_port = {smtp_port}
smtp_starttls = false
smtp_from = "tingfeng@example.com"
smtp_to = ["品牌组 <brand@example.com>", "pr@example.com"]

[campaigns.shiguang]
brand = "拾光咖啡"
brand_terms = ["冷萃"]
"""

SPIKE = DAY0 + timedelta(days=8) + 3 * HOUR  # 03:00 UTC on day 8: a quiet hour


def _settings(tmp_path: Path, webhook: str = "", smtp_port: int = 0) -> Settings:
    path = tmp_path / "settings.toml"
    body = SETTINGS.format(
        db=(tmp_path / "t.db").as_posix(),
        webhook=webhook,
        smtp_host="127.0.0.1" if smtp_port else "",
        smtp_port=smtp_port or 587,
    )
    path.write_text(body, encoding="utf-8")
    return load_settings(path)


def _fill(session: Session, spike_hours: list[datetime], size: int = 20) -> None:
    """Nine days of two positive and at most one negative brand post an hour, with a spike
    of ``size`` negative posts in each of ``spike_hours``; labelled by one model version."""
    rng = random.Random(3)
    posts, labels = [], []
    n = 0
    for h in range(9 * 24):
        hour = DAY0 + h * HOUR
        sentiments = ["positive", "positive"] + (["negative"] if rng.random() < 0.4 else [])
        if hour in spike_hours:
            sentiments += ["negative"] * size
        for i, sentiment in enumerate(sentiments):
            n += 1
            text = f"拾光咖啡 冷萃{'难喝，退钱' if sentiment == 'negative' else '好喝'} #{n}"
            posts.append(
                {"id": n, "platform": "weibo", "platform_id": f"p{n}", "author_id": f"u{n % 50}",
                 "text": text, "text_plain": text, "created_at": hour + timedelta(minutes=i),
                 "reposts_count": n % 97, "comments_count": 1, "kind": "post", "topics": [],
                 "mentions": [], "truncated": False, "first_seen": hour}
            )  # fmt: skip
            labels.append(
                {"post_id": n, "model_version": "v1", "sentiment": sentiment,
                 "sentiment_score": 0.9, "labeled_at": hour}
            )  # fmt: skip
    session.execute(insert(Post), posts)
    session.execute(insert(PostLabel), labels)
    session.commit()


def _spike_alerts(session: Session) -> list[Alert]:
    return list(session.exec(select(Alert).where(Alert.kind == "negative_spike")).all())


def _no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
def spiky(tmp_path: Path) -> Iterator[tuple[Settings, Session]]:
    settings = _settings(tmp_path)
    engine = open_store(settings)
    with Session(engine) as session:
        _fill(session, [SPIKE, SPIKE + HOUR, SPIKE + 2 * HOUR, SPIKE + 9 * HOUR])
        yield settings, session
    engine.dispose()


def test_a_multi_hour_spike_is_one_alert_and_a_later_one_is_another(spiky: Any) -> None:
    settings, session = spiky
    first = run_alerts(session, settings, now=SPIKE + HOUR + timedelta(minutes=5))
    assert first["new_alerts"] == 1 and first["alerting_hours"] == 1
    assert first["cold_start"] == []
    # the spike goes on: the next checks extend the episode instead of opening new ones
    second = run_alerts(session, settings, now=SPIKE + 3 * HOUR)
    assert second["new_alerts"] == 0 and second["extended_alerts"] == 3
    again = run_alerts(session, settings, now=SPIKE + 3 * HOUR)  # a re-run changes nothing
    assert again["new_alerts"] == 0
    alerts = _spike_alerts(session)
    assert len(alerts) == 1
    detail = alerts[0].detail
    assert alerts[0].dedup_key == "negative_spike:shiguang:2026-10-09T03:00:00Z"
    assert detail["start_hour"] == "2026-10-09T03:00:00Z"
    assert detail["last_hour"] == "2026-10-09T05:00:00Z" and len(detail["hours"]) == 3
    # it carries the posts that caused it, most reposted first, with links
    posts = detail["posts"]
    assert len(posts) == 3 and all("难喝" in p["text"] for p in posts)
    assert [p["reposts"] for p in posts] == sorted((p["reposts"] for p in posts), reverse=True)
    assert posts[0]["url"] == f"http://127.0.0.1:8765/detail/{posts[0]['post_id']}"
    # quiet for longer than reopen_after_hours (4), then a new spike: a new episode
    later = run_alerts(session, settings, now=SPIKE + 10 * HOUR)
    assert later["new_alerts"] == 1
    assert sorted(a.detail["start_hour"] for a in _spike_alerts(session)) == [
        "2026-10-09T03:00:00Z",
        "2026-10-09T12:00:00Z",
    ]


def test_no_alert_during_cold_start(spiky: Any) -> None:
    settings, session = spiky
    settings.alerts.min_history_days = 7
    early = DAY0 + timedelta(days=3, hours=4)  # three days of history
    summary = run_alerts(session, settings, now=early)
    assert summary["cold_start"] == ["shiguang"] and summary["new_alerts"] == 0


class _Hook:
    """A webhook receiver on 127.0.0.1: records each request, answers 500 ``fail`` times."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                code = 500 if hook.fail > 0 else 204
                hook.fail -= 1
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[_Hook]:
    h = _Hook()
    yield h
    h.close()


def test_webhook_signed_retried_and_sent_once(
    tmp_path: Path, hook: _Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINGFENG_ALERT_WEBHOOK_SECRET", "s3cret-key")
    settings = _settings(tmp_path, webhook=hook.url)
    engine = open_store(settings)
    with Session(engine) as session:
        _fill(session, [SPIKE])
        hook.fail = 5  # more than the 1 + 2 retries of one check: this delivery fails
        failed = run_alerts(session, settings, now=SPIKE + HOUR, sleep=_no_sleep)
        assert failed["new_alerts"] == 1 and failed["failed"] == 1 and len(hook.requests) == 3
        state = _spike_alerts(session)[0].detail["delivery"]["webhook"]
        assert state["status"] == "failed" and "HTTP 500" in state["error"]
        assert "/hook" not in state["error"]  # a webhook's path may be its secret
        hook.fail = 1  # the next check retries: one 500, then accepted
        sent = run_alerts(session, settings, now=SPIKE + 2 * HOUR, sleep=_no_sleep)
        assert sent["sent"] == 1 and sent["new_alerts"] == 0 and len(hook.requests) == 5
        headers, body = hook.requests[-1]
        expected = "sha256=" + hmac.new(b"s3cret-key", body, hashlib.sha256).hexdigest()
        assert headers["x-tingfeng-signature"] == expected
        assert headers["content-type"].startswith("application/json")
        assert headers["x-tingfeng-delivery"] == "negative_spike:shiguang:2026-10-09T03:00:00Z"
        data = json.loads(body.decode("utf-8"))
        assert data["event"] == "negative_spike" and data["brand"] == "拾光咖啡"
        assert data["peak"]["negative"] >= 20 and data["peak"]["reasons"]
        assert len(data["posts"]) == 3 and data["posts"][0]["url"].startswith("http")
        # delivered: later checks never send it again
        run_alerts(session, settings, now=SPIKE + 3 * HOUR, sleep=_no_sleep)
        run_alerts(session, settings, now=SPIKE + 3 * HOUR, sleep=_no_sleep)
        assert len(hook.requests) == 5
        assert _spike_alerts(session)[0].detail["delivery"]["webhook"]["status"] == "sent"
    engine.dispose()


def test_email_alert_in_chinese_sent_once(tmp_path: Path, smtp: tuple[int, Inbox]) -> None:
    port, inbox = smtp
    settings = _settings(tmp_path, smtp_port=port)
    engine = open_store(settings)
    with Session(engine) as session:
        _fill(session, [SPIKE])
        summary = run_alerts(session, settings, now=SPIKE + HOUR)
        assert summary["sent"] == 1 and len(inbox.messages) == 1
        sender, rcpts, msg = inbox.messages[0]
        assert sender == "tingfeng@example.com"
        assert rcpts == ["brand@example.com", "pr@example.com"]
        assert msg["Subject"].startswith("【负面舆情预警】拾光咖啡：2026-10-09 11:00")  # Shanghai
        assert "品牌组" in msg["To"] and msg["From"] == "tingfeng@example.com"
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        alert = _spike_alerts(session)[0]
        for post in alert.detail["posts"]:
            assert post["text"] in text and post["url"] in text and post["url"] in html
        assert "负面帖" in text and "稳健 z" in text
        run_alerts(session, settings, now=SPIKE + HOUR)
        run_alerts(session, settings, now=SPIKE + 2 * HOUR)
        assert len(inbox.messages) == 1  # recorded as sent: never again
    engine.dispose()


def test_failed_email_is_retried_next_check(tmp_path: Path, smtp: tuple[int, Inbox]) -> None:
    port, inbox = smtp
    settings = _settings(tmp_path, smtp_port=free_port())  # nobody listens there
    engine = open_store(settings)
    with Session(engine) as session:
        _fill(session, [SPIKE])
        assert run_alerts(session, settings, now=SPIKE + HOUR)["failed"] == 1
        state = _spike_alerts(session)[0].detail["delivery"]["email"]
        assert state["status"] == "failed" and "smtp_host" in state["error"]
        settings.alerts.smtp_port = port  # the server is back
        assert run_alerts(session, settings, now=SPIKE + 2 * HOUR)["sent"] == 1
        assert len(inbox.messages) == 1
    engine.dispose()


def test_send_report_with_attachment(tmp_path: Path, smtp: tuple[int, Inbox]) -> None:
    port, inbox = smtp
    settings = _settings(tmp_path, smtp_port=port)
    csv_file = tmp_path / "帖子.csv"
    csv_file.write_bytes("\ufeffpost_id,text\np1,好喝\n".encode())
    html = "<html><body><h1>拾光咖啡 日报</h1><p>负面 3 条 &amp; 正面 9 条</p></body></html>"
    msg_id = send_report(
        settings, "拾光咖啡 每日舆情报告", html, [csv_file, ("a.json", b"{}", "application/json")]
    )
    _, _, msg = inbox.messages[0]
    assert msg["Message-ID"] == msg_id and msg["Subject"] == "拾光咖啡 每日舆情报告"
    assert "负面 3 条 & 正面 9 条" in msg.get_body(("plain",)).get_content()
    assert "<h1>拾光咖啡 日报</h1>" in msg.get_body(("html",)).get_content()
    files = {p.get_filename(): p for p in msg.iter_attachments()}
    assert files["帖子.csv"].get_payload(decode=True) == csv_file.read_bytes()
    assert files["帖子.csv"].get_content() == "\ufeffpost_id,text\np1,好喝\n"
    assert files["a.json"].get_content() == b"{}"


def test_send_report_without_smtp_names_the_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with pytest.raises(ConfigError, match=r"\[alerts\] smtp_host"):
        send_report(settings, "s", "<p>x</p>")


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[alerts]\nwebhook_url = "hooks.example.com/x"\n', r"\[alerts\] webhook_url"),
        ('[alerts]\nsmtp_host = "smtp.example.com"\nsmtp_from = "a@b.c"\n', r"smtp_to"),
        ('[alerts]\nsmtp_host = "smtp.example.com"\nsmtp_to = ["a@b.c"]\n', r"smtp_from"),
        ("[alerts]\nz = 0\n", r"\[alerts\] z"),
    ],
)
def test_wrong_settings_name_the_key(tmp_path: Path, body: str, key: str) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=key):
        load_settings(path)


def test_cli_alerts_check_and_list(spiky: Any) -> None:
    settings, _ = spiky
    base = ["--settings", str(settings.path), "alerts"]
    result = CliRunner().invoke(cli, [*base, "check", "--now", "2026-10-09T04:10:00Z"])
    assert result.exit_code == 0, result.output
    assert "1 new alert(s)" in result.output and "拾光咖啡: negative spike" in result.output
    result = CliRunner().invoke(cli, base)
    assert result.exit_code == 0 and "negative_spike" in result.output
    result = CliRunner().invoke(cli, [*base, "check", "--campaign", "nope"])
    assert result.exit_code == 2 and "--campaign nope" in result.output


@pytest.mark.postgres
def test_episode_and_export_on_postgres(tmp_path: Path, pg_url: str) -> None:
    """The hour buckets (date_trunc) and the streamed export (server-side cursor) on PostgreSQL."""
    from sqlmodel import SQLModel

    from crawlers.store import make_engine
    from reports.exports import posts_export, write_export

    fresh = make_engine(pg_url)
    SQLModel.metadata.drop_all(fresh)
    fresh.dispose()
    settings = _settings(tmp_path)
    settings.store.url = pg_url
    engine = open_store(settings)
    with Session(engine) as session:
        _fill(session, [SPIKE, SPIKE + HOUR])
        assert run_alerts(session, settings, now=SPIKE + HOUR)["new_alerts"] == 1
        summary = run_alerts(session, settings, now=SPIKE + 2 * HOUR)
        assert summary["new_alerts"] == 0 and summary["extended_alerts"] == 2
        (alert,) = _spike_alerts(session)
        assert alert.detail["start_hour"] == "2026-10-09T03:00:00Z"
        assert alert.detail["hours"]["2026-10-09T03:00:00Z"]["negative"] >= 20
        out = tmp_path / "posts.csv"
        n = write_export(
            posts_export(session, settings, "shiguang", since=SPIKE, until=SPIKE + HOUR, chunk=7),
            "csv",
            out,
        )
        rows = out.read_text(encoding="utf-8-sig").splitlines()
        assert n == len(rows) - 1 >= 22 and rows[1].split(",")[3] == "2026-10-09 03:00:00"
    engine.dispose()
