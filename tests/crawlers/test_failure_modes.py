"""End to end: ``python -m crawlers.crawl`` against the sandbox with each failure mode switched on.

Every crawl must exit 0, store nothing half-parsed, and, for bans and rate limits, send nothing
to the source while it is paused: checked against the sandbox's own request log
(``/_sandbox/log``), whose timestamps come from the sandbox's monotonic clock. Worlds are tiny
and page limits low so that each crawl takes a few seconds.
"""

from __future__ import annotations

import ipaddress
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest
from sqlmodel import Session, col, select

from crawlers.models import Alert, BanEvent, CrawlRun, Post, RequestBudget
from crawlers.sandbox.process import SandboxProcess
from crawlers.store import make_engine

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
COOKIE = "SUB=_2A25-e2e-cookie-secret"
PROXY_SECRET = "e2e-proxy-secret"
USERS = 40

#: [crawl] of every crawl here: polite (one request at a time), small, quick to time out
CRAWL: dict[str, Any] = {
    "download_delay": 0.0,
    "autothrottle": False,
    "concurrent_requests_per_domain": 1,
    "retry_times": 0,
    "download_timeout": 1.0,
    "max_pages": 1,
    "timeline_pages": 0,
    "comment_pages": 1,
    "repost_pages": 0,
    "fan_pages": 0,
    "follow_pages": 0,
    "log_level": "DEBUG",
}

SETTINGS = """
[store]
url = "sqlite:///{db}"
[crawl]
base_url = "{base_url}"
{crawl}
[campaigns.shiguang]
brand = "拾光咖啡"
interests = ["coffee"]
topics = ["咖啡探店"]
keywords = ["拿铁"]
"""


def _toml(values: dict[str, Any]) -> str:
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())


@dataclass
class Crawl:
    code: int
    summary: dict[str, int]
    log: str


def run_crawl(
    tmp_path: Path,
    base_url: str,
    crawl: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    db_name: str = "t.db",
) -> Crawl:
    db = tmp_path / db_name
    path = tmp_path / "settings.toml"
    text = SETTINGS.format(db=db, base_url=base_url, crawl=_toml(CRAWL | (crawl or {})))
    path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "crawlers.crawl", "--settings", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "TINGFENG_WEIBO_COOKIE": COOKIE, **(env or {})},
    )
    log = done.stderr + done.stdout
    assert "cookie-secret" not in log, "the cookie leaked into the logs"
    assert PROXY_SECRET not in log, "a proxy password leaked into the logs"
    summary = {k: int(v) for k, v in (ln.split("=") for ln in done.stdout.split() if "=" in ln)}
    return Crawl(done.returncode, summary, log)


def sandbox_log(base_url: str) -> list[dict[str, Any]]:
    with urlopen(f"{base_url}/_sandbox/log", timeout=10) as resp:  # noqa: S310 - 127.0.0.1 only
        entries: list[dict[str, Any]] = json.loads(resp.read())["requests"]
    return entries


def db_session(tmp_path: Path, db_name: str = "t.db") -> Session:
    return Session(make_engine(f"sqlite:///{tmp_path / db_name}"))


def assert_no_half_rows(session: Session) -> None:
    """Every stored post is whole: an id, an author and its text as received."""
    for post in session.exec(select(Post)):
        assert post.platform_id and post.author_id, post
        assert post.text is not None and "\ufffd" not in post.text, post


def fired(entries: list[dict[str, Any]], fault: str) -> list[dict[str, Any]]:
    return [e for e in entries if fault in e.get("faults", [])]


# --- bans ------------------------------------------------------------------------------------

BANS: dict[str, dict[str, float]] = {
    "http_418": {"ban_418": 3},
    "http_432": {"ban_432": 3},
    "http_403": {"ban_403": 3},
    "captcha_json": {"captcha_after": 3},
    "captcha_html": {"captcha_html": 0.5},
}


@pytest.mark.parametrize("kind", list(BANS))
def test_a_ban_pauses_the_source_and_nothing_more_is_sent(tmp_path: Path, kind: str) -> None:
    with SandboxProcess(seed=7, users=USERS, faults=BANS[kind]) as sb:
        crawl = run_crawl(tmp_path, sb.base_url)
        entries = sandbox_log(sb.base_url)
        if kind == "http_418":  # once is enough for the crawl that follows during the pause
            check_a_second_crawl_sends_nothing(tmp_path, sb.base_url, len(entries))
    assert crawl.code == 0 and crawl.summary["banned"] == 1, crawl.log[-3000:]
    first_ban = next(i for i, e in enumerate(entries) if e.get("faults"))
    assert first_ban == len(entries) - 1, "a request reached the source after the ban"
    with db_session(tmp_path) as s:
        (event,) = s.exec(select(BanEvent)).all()
        (alert,) = s.exec(select(Alert)).all()
        runs = s.exec(select(CrawlRun)).all()
        assert_no_half_rows(s)
    assert event.kind == kind and alert.kind == "ban" and alert.acknowledged_at is None
    assert all(r.status != "finished" for r in runs)
    assert all(any(f"({kind})" in n for n in r.truncated) for r in runs)


def check_a_second_crawl_sends_nothing(tmp_path: Path, base_url: str, sent: int) -> None:
    second = run_crawl(tmp_path, base_url)
    assert len(sandbox_log(base_url)) == sent, "the paused source was contacted"
    assert second.code == 0 and second.summary["requests"] == 0, second.log[-3000:]
    assert second.summary["paused"] == 1
    assert "not crawling: source 127.0.0.1 is paused until" in second.log
    with db_session(tmp_path) as s:
        assert len(s.exec(select(BanEvent)).all()) == 1  # the second crawl adds no ban
        runs = s.exec(select(CrawlRun).order_by(col(CrawlRun.id))).all()
    second_runs = runs[len(runs) // 2 :]
    assert all(r.status == "interrupted" and r.pages == 0 for r in second_runs)
    assert all("source paused until" in r.truncated[0] for r in second_runs)


# --- rate limits -----------------------------------------------------------------------------


def test_retry_after_is_honoured(tmp_path: Path) -> None:
    with SandboxProcess(seed=7, users=USERS, faults={"rate_limit": 4}, retry_after=1) as sb:
        crawl = run_crawl(tmp_path, sb.base_url, {"comment_pages": 0})
        entries = sandbox_log(sb.base_url)
    assert crawl.code == 0 and crawl.summary["banned"] == 0, crawl.log[-3000:]
    limited = [i for i, e in enumerate(entries) if e["status"] == 429]
    assert limited, "the sandbox never rate-limited the crawl"
    for i in limited[:-1] if limited[-1] == len(entries) - 1 else limited:
        # the next request of any kind came no sooner than Retry-After
        assert entries[i + 1]["t"] - entries[i]["t"] >= 1.0, entries[i : i + 2]
    retried = {(e["path"], e["query"]) for e in entries if e["status"] == 429}
    fetched = {(e["path"], e["query"]) for e in entries if e["status"] == 200}
    assert retried <= fetched, "a rate-limited request was not retried"
    with db_session(tmp_path) as s:
        assert s.exec(select(BanEvent)).all() == []
        assert s.exec(select(Post)).first() is not None
        assert_no_half_rows(s)


def test_a_retry_after_beyond_the_limit_pauses_the_source(tmp_path: Path) -> None:
    with SandboxProcess(seed=7, users=USERS, faults={"rate_limit": 3}, retry_after=30) as sb:
        crawl = run_crawl(tmp_path, sb.base_url, {"retry_after_max_seconds": 2})
        entries = sandbox_log(sb.base_url)
    assert crawl.code == 0 and crawl.summary["rate_limited"] == 1, crawl.log[-3000:]
    assert entries[-1]["status"] == 429, "a request reached the source after the 429"
    with db_session(tmp_path) as s:
        (event,) = s.exec(select(BanEvent)).all()
        (alert,) = s.exec(select(Alert)).all()
    assert event.kind == "http_429" and alert.kind == "rate_limited"
    assert (event.paused_until - event.at).total_seconds() == pytest.approx(30)


# --- budgets ---------------------------------------------------------------------------------


def test_an_hourly_budget_stops_the_crawl(tmp_path: Path) -> None:
    with SandboxProcess(seed=7, users=USERS) as sb:
        crawl = run_crawl(tmp_path, sb.base_url, {"budget_per_ip_per_hour": 4})
        entries = sandbox_log(sb.base_url)
    assert crawl.code == 0 and crawl.summary["budget"] == 1, crawl.log[-3000:]
    assert len(entries) == 4  # robots.txt counts too: every request to the host does
    with db_session(tmp_path) as s:
        (alert,) = s.exec(select(Alert)).all()
        runs = s.exec(select(CrawlRun)).all()
    assert alert.kind == "budget" and alert.detail["key"] == "ip:127.0.0.1"
    assert all(any("(budget)" in n for n in r.truncated) for r in runs)


# --- TLS and proxies -------------------------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself (no CA anyone trusts), and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Hello(BaseHTTPRequestHandler):
    served: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.served.append(self.path)
        body = b'{"ok": 1, "data": {"cards": []}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextmanager
def https_server(cert: Path, key: Path) -> Iterator[tuple[str, list[str]]]:
    served: list[str] = []
    handler = type("Hello", (_Hello,), {"served": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    worker = threading.Thread(target=server.serve_forever, daemon=True)
    worker.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()


def test_tls_certificates_are_verified(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with https_server(cert, key) as (base_url, served):
        # the server works for a client that trusts this certificate ...
        trusting = ssl.create_default_context(cafile=str(cert))
        with urlopen(f"{base_url}/robots.txt", context=trusting, timeout=10) as resp:  # noqa: S310
            assert resp.status == 200
        # ... and the crawl, which trusts only the system's CAs, refuses it (past the login
        # check, so that each failed page is counted as an error)
        crawl = run_crawl(tmp_path, base_url, {"login_check": False})
    assert served == ["/robots.txt"], "the crawl fetched a page over an unverified connection"
    assert crawl.code == 0 and crawl.summary["pages"] == 0, crawl.log[-3000:]
    assert crawl.summary["errors"] > 0
    assert "certificate verify failed" in crawl.log.lower()


def test_requests_go_through_the_proxy_without_leaking_its_password(tmp_path: Path) -> None:
    # the sandbox answers absolute-form requests, so it can stand in for a forward proxy; the
    # crawl's own base URL is a closed port that works only through the proxy
    with SandboxProcess(seed=7, users=USERS) as sb:
        proxy = f"http://alice:{PROXY_SECRET}@127.0.0.1:{sb.port}"
        crawl = run_crawl(tmp_path, "http://127.0.0.2:9", env={"TINGFENG_PROXIES": proxy})
        entries = sandbox_log(sb.base_url)
    assert crawl.code == 0 and crawl.summary["pages"] > 0, crawl.log[-3000:]
    assert crawl.summary["errors"] == 0 and entries
    with db_session(tmp_path) as s:
        (budget,) = {b.key for b in s.exec(select(RequestBudget)) if b.key.startswith("ip:")}
    assert budget.endswith(":127.0.0.2") and PROXY_SECRET not in budget
