"""kill -9 in the middle of a job, then run it again: nothing twice, nothing orphaned.

Real processes on a real SQLite store. The draft stage's LLM endpoint and the sandbox platform
are local servers this test controls, so the kill lands at a known point without any test hook
in the code: while the process waits for the endpoint's answer (drafting), or after the
platform recorded an action but before its answer reached us (dispatch). Bounded waits poll for
conditions; nothing asserts a duration.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from bot import drafts, review
from crawlers.config import load_settings
from crawlers.sandbox.server import SandboxServer, make_server
from crawlers.sandbox.world import build_world as sandbox_world
from crawlers.store import make_engine, migrate, open_store
from tests.bot.test_review import make_draft
from tests.bot.world import T0, add_account, add_post, add_scores

ROOT = Path(__file__).resolve().parents[2]
AUTHORS = 24
CAP = 10
PHRASES = (
    "说得真好，谢谢分享",
    "我们也爱手冲，改天一起聊聊",
    "这个问题问得好",
    "同感，谢谢",
    "学到了",
)
WAIT = 60.0  # bound on every wait for a condition


class ChatEndpoint(ThreadingHTTPServer):
    """An OpenAI-compatible ``/v1/chat/completions`` whose answer depends only on the prompt;
    with ``hold_at`` set, that call (counted from the server's start) waits for ``release``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ChatHandler)
        self.calls = 0
        self.hold_at: int | None = None
        self.holding = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _ChatHandler(BaseHTTPRequestHandler):
    server: ChatEndpoint

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        with self.server.lock:
            self.server.calls += 1
            hold = self.server.calls == self.server.hold_at
        if hold:
            self.server.holding.set()
            self.server.release.wait(WAIT)
        answer = PHRASES[zlib.crc32(prompt.encode("utf-8")) % len(PHRASES)]
        out = json.dumps({"choices": [{"message": {"content": answer}}]}).encode("utf-8")
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
        except OSError:  # the client was killed meanwhile
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def chat() -> Iterator[ChatEndpoint]:
    server = ChatEndpoint()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def _world(db: Path) -> None:
    """``AUTHORS`` coffee drinkers who ask a question each; every third also praises a latte.
    With the defaults: 10 follows, a reply per author, 5 reposts: four runs of ``CAP``."""
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    with Session(engine) as s:
        for i in range(AUTHORS):
            add_account(s, f"k{i}", f"咖啡客{chr(0x4E00 + 37 * i)}")
            add_post(s, f"q{i}", f"k{i}", f"手冲咖啡第{i}问：豆子怎么选？", intents=["question"],
                     interests=["coffee"], keywords=["手冲"])  # fmt: skip
            if i % 3 == 0:
                add_post(s, f"r{i}", f"k{i}", f"这家拿铁太好喝了{i}", sentiment="positive",
                         sentiment_score=0.9, polarity=0.8, interests=["coffee"])  # fmt: skip
        add_scores(s, {f"k{i}": i + 1 for i in range(AUTHORS)})
        s.commit()
    engine.dispose()


def _settings_file(tmp_path: Path, name: str, chat_url: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / name}.db"\n'
        f'[bot]\ndrafter = "llm"\nllm_url = "{chat_url}"\nllm_model = "kill-test"\n'
        f"max_drafts_per_run = {CAP}\nllm_timeout_seconds = {WAIT}\n"
        '[campaigns.cafe]\nbrand = "拾光咖啡"\ninterests = ["coffee"]\ntags = ["咖啡"]\n',
        encoding="utf-8",
    )
    return path


def _copy(src: Path, dst: Path) -> None:
    """A consistent copy of a SQLite store (WAL included)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()


def _cli(settings: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--settings", str(settings), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


#: the scheduler's draft job, run until a run drafts nothing more
UNTIL_DONE = (
    "import sys\nfrom bot.scheduler import run_stage\n"
    "for _ in range(20):\n    if run_stage('draft', sys.argv[1]) == 0:\n        break\n"
    "else:\n    sys.exit('the draft stage never ran dry')\n"
)


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


DRAFTS = (
    "SELECT campaign, kind, platform, target_account, COALESCE(target_post, ''), text, rule, "
    "status, dedup_key FROM draft ORDER BY dedup_key"
)


def _assert_consistent(db: Path) -> None:
    """No duplicate drafts by key or by target, and every draft has its one ``drafted`` event."""
    assert _rows(db, "SELECT dedup_key FROM draft GROUP BY dedup_key HAVING COUNT(*) > 1") == []
    assert (
        _rows(
            db,
            "SELECT campaign, kind, platform, target_account, target_post FROM draft "
            "GROUP BY campaign, kind, platform, target_account, target_post HAVING COUNT(*) > 1",
        )
        == []
    )
    assert (
        _rows(
            db,
            "SELECT a.id FROM auditevent a LEFT JOIN draft d ON d.id = a.draft_id WHERE d.id IS NULL",
        )
        == []
    )
    assert (
        _rows(
            db,
            "SELECT d.id, COUNT(a.id) FROM draft d LEFT JOIN auditevent a "
            "ON a.draft_id = d.id AND a.action = 'drafted' GROUP BY d.id HAVING COUNT(a.id) != 1",
        )
        == []
    )


def _wait_for(what: str, done: Any, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT
    while not done():
        if proc.poll() is not None:
            pytest.fail(f"the process ended before {what}: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} within {WAIT} s")
        time.sleep(0.02)


def test_a_draft_run_killed_midway_and_rerun_leaves_no_duplicates(
    tmp_path: Path, chat: ChatEndpoint
) -> None:
    _world(tmp_path / "killed.db")
    _copy(tmp_path / "killed.db", tmp_path / "clean.db")
    killed = _settings_file(tmp_path, "killed", chat.url)
    clean = _settings_file(tmp_path, "clean", chat.url)

    # the reference: the same store drafted to the end without interruption
    settings = load_settings(clean)
    engine = open_store(settings)
    with Session(engine) as session:
        batches: list[int] = []
        while len(batches) < 20 and (made := drafts.run(session, settings)):
            batches.append(made)
    engine.dispose()
    # several runs' worth, so the kill lands midway; a run that never runs dry is a bug too
    assert batches[0] == CAP and 3 <= len(batches) < 20
    expected = _rows(tmp_path / "clean.db", DRAFTS)
    assert len(expected) == sum(batches)

    # the first run (in this process) completes: the first drafts are in the store
    settings = load_settings(killed)
    engine = open_store(settings)
    with Session(engine) as session:
        assert drafts.run(session, settings) == CAP
    engine.dispose()
    before = _rows(tmp_path / "killed.db", DRAFTS)
    audit_before = _rows(tmp_path / "killed.db", "SELECT COUNT(*) FROM auditevent")

    # the second run, `tingfeng draft`: killed while it waits for the 4th text of its batch
    chat.hold_at = chat.calls + 4
    second = _cli(killed, "draft")
    _wait_for("a held LLM call", chat.holding.is_set, second)
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=WAIT)
    chat.release.set()
    assert second.returncode == -signal.SIGKILL
    # a run writes its drafts with their audit events in one transaction: all or nothing
    assert _rows(tmp_path / "killed.db", DRAFTS) == before
    assert _rows(tmp_path / "killed.db", "SELECT COUNT(*) FROM auditevent") == audit_before
    _assert_consistent(tmp_path / "killed.db")

    # the scheduler's draft job, run again until it has nothing more to draft
    rest = subprocess.run(
        [sys.executable, "-c", UNTIL_DONE, str(killed)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert rest.returncode == 0, rest.stderr
    _assert_consistent(tmp_path / "killed.db")
    assert _rows(tmp_path / "killed.db", DRAFTS) == expected


# --- dispatch ----------------------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = make_server("127.0.0.1", 0, sandbox_world(3, 40))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _actions(server: SandboxServer) -> list[dict[str, Any]]:
    with urllib.request.urlopen(server.base_url + "/_sandbox/actions", timeout=5) as resp:
        return list(json.loads(resp.read())["actions"])


def _posts(server: SandboxServer) -> int:
    """``POST /api/actions`` requests the sandbox received (repeats included)."""
    with urllib.request.urlopen(server.base_url + "/_sandbox/stats", timeout=5) as resp:
        return int(json.loads(resp.read())["hits"].get("/api/actions", 0))


def _dispatch_store(tmp_path: Path, port: int, n: int) -> Path:
    db = tmp_path / "dispatch.db"
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    with Session(engine) as s:
        for i in range(n):
            d = make_draft(s, account=f"u{i}", text=f"第{i}条：谢谢分享你的冷萃经验")
            review.approve(s, d.id, "alice", now=T0 + timedelta(minutes=i))  # type: ignore[arg-type]
    engine.dispose()
    path = tmp_path / "dispatch.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{db}"\n[sandbox]\nport = {port}\n'
        # no cool-down: only the claim may keep the killed draft from being sent again
        f"[dispatch]\ntimeout_seconds = {WAIT}\ntarget_cooldown_hours = 0\n",
        encoding="utf-8",
    )
    return path


def test_a_dispatch_killed_after_the_platform_acted_never_sends_twice(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    """Three approved drafts; the platform records the first send but holds its answer back,
    and `tingfeng dispatch` is killed; then dispatch runs again with the platform answering."""
    path = _dispatch_store(tmp_path, sandbox.server_address[1], 3)
    sandbox.action_fault = "lost"  # the action stands; the answer is held back
    proc = _cli(path, "dispatch", "--to", "sandbox")
    _wait_for("an action at the platform", lambda: len(sandbox.actions) == 1, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=WAIT)
    sandbox.action_fault = ""
    again = _cli(path, "dispatch", "--to", "sandbox")
    out, err = again.communicate(timeout=WAIT)
    assert again.returncode == 0, err
    db = tmp_path / "dispatch.db"
    rows = _rows(db, "SELECT id, status, approved_hash FROM draft ORDER BY id")
    actions = _actions(sandbox)
    keys = [a["key"] for a in actions]
    assert len(keys) == len(set(keys)) == 3  # each approved draft reached the platform
    # ... once: the sandbox ignores a repeated Idempotency-Key, so count the requests too
    assert _posts(sandbox) == 3
    assert sorted(keys) == sorted(h for _, _, h in rows)
    (killed, *others) = rows  # the oldest approval went first
    assert killed[2] == actions[0]["key"]
    # never back in the queue; NOTE it stays in 'sending' for good (nothing settles a claim
    # whose process died): it should become 'reconcile' for a person or `check` to settle
    assert killed[1] in ("sending", "reconcile", "sent")
    assert [status for _, status, _ in others] == ["sent", "sent"]
    trail = _rows(db, f"SELECT action FROM auditevent WHERE draft_id = {killed[0]} ORDER BY id")
    assert [a for (a,) in trail] == ["approved", "sending"]  # the claim was committed first


# --- two schedulers at once ----------------------------------------------------------------------


def test_two_schedulers_started_at_once_on_one_store_exactly_one_runs(tmp_path: Path) -> None:
    """Two `tingfeng schedule --no-wait` started together race to take the lease: one keeps
    running and holds it, the other exits 6 naming it. (The store exists already: on a fresh
    one they also race to create the tables, see crawlers.store._create_schema.)"""
    from bot.scheduler import STAGES

    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    migrate(engine)
    engine.dispose()
    never = "\n".join(f'{stage} = "0 0 1 1 *"' for stage in STAGES)
    path = tmp_path / "schedule.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n[schedule]\nlock_ttl_seconds = 60\n'
        f"{never}\n",
        encoding="utf-8",
    )
    procs = [_cli(path, "schedule", "--no-wait") for _ in range(2)]
    running: list[subprocess.Popen[str]] = []
    try:
        deadline = time.monotonic() + WAIT
        while all(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        running = [p for p in procs if p.poll() is None]
        assert len(running) == 1, [p.communicate() for p in procs if p.poll() is not None]
        (lease,) = _rows(tmp_path / "s.db", "SELECT holder FROM schedulerlock")
        assert lease[0].split(":")[1] == str(running[0].pid)
        for p in procs:
            if p is not running[0]:
                err = p.communicate()[1]
                assert p.returncode == 6, err
                assert f"another scheduler holds the lock: {lease[0]}" in err
        # the one running keeps its jobs in the store (a moment after taking the lease)
        _wait_for("the stage jobs in the store", lambda: _jobs(tmp_path / "s.db"), running[0])
        assert _jobs(tmp_path / "s.db") == sorted(f"tingfeng.{s}" for s in STAGES)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=WAIT)
    assert running[0].returncode == 0, running[0].communicate()[1]


def _jobs(db: Path) -> list[str]:
    try:
        return [j for (j,) in _rows(db, "SELECT id FROM apscheduler_jobs ORDER BY id")]
    except OperationalError:  # the table is not there yet
        return []
