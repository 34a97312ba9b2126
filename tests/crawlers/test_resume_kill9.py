"""Resume after kill -9: no duplicate rows, no lost posts, with incremental crawling on.

Database A gets one uninterrupted crawl of a sandbox world. Database B first gets a clean crawl
of the same world with its newest posts hidden (so B holds cursors), then a crawl of the full
world that is killed with SIGKILL at ten random points - chosen by the number of requests the
sandbox has served, not by sleeping - and restarted each time, and finally let to finish.
B must then hold exactly A's posts and as many rows as A in every crawled table.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from crawlers.models import Account, CrawlRun, Group, Interaction, Post
from crawlers.sandbox.process import SandboxProcess
from crawlers.sandbox.world import build_world
from crawlers.store import make_engine

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SEED, USERS, KILLS = 7, 30, 10
#: the sandbox's "logged in" cookie: no guest caps
COOKIE = "SUB=_2A25kill9-test"
SETTINGS = """
[store]
url = "sqlite:///{db}"
[crawl]
base_url = "{base_url}"
download_delay = 0.0
autothrottle = false
concurrent_requests_per_domain = 4
retry_times = 0
max_pages = 20
timeline_pages = 20
comment_pages = 20
repost_pages = 20
fan_pages = 20
follow_pages = 20
search_types = ["realtime", "hot"]
incremental = true
log_level = "WARNING"
[campaigns.shiguang]
brand = "拾光咖啡"
interests = ["coffee"]
tags = ["咖啡"]
topics = ["咖啡探店"]
supertopics = ["咖啡"]
keywords = ["拿铁"]
accounts = ["{account}"]
"""
#: crawled tables and their natural keys
KEYS = {
    Account: ("platform", "platform_id"),
    Group: ("platform", "platform_id"),
    Post: ("platform", "platform_id"),
    Interaction: ("platform", "kind", "src_id", "dst_id", "post_id"),
}


def busiest_account() -> str:
    """The uid with the longest timeline: several pages, so the cursor matters."""
    world = build_world(SEED, USERS)
    return str(max(world.users, key=lambda u: len(world.timelines[u.uid])).uid)


def write_settings(tmp_path: Path, name: str, db: Path, base_url: str, account: str) -> Path:
    path = tmp_path / f"{name}.toml"
    text = SETTINGS.format(db=db, base_url=base_url, account=account)
    path.write_text(text, encoding="utf-8")
    return path


#: ``python -m crawlers.crawl`` with store batches of 50 items instead of 500, so that a kill
#: lands between commits (with 500, a crawl this small commits little before it ends)
CRAWL = (
    "import sys; from crawlers import pipelines; pipelines.StorePipeline.batch_size = 50; "
    "from crawlers.crawl import main; sys.exit(main(sys.argv[1:]))"
)


def start(path: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", CRAWL, "--settings", str(path)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TINGFENG_WEIBO_COOKIE": COOKIE},
        )


def served(base_url: str) -> int:
    """Requests the sandbox has answered (its own /_sandbox/ endpoints aside)."""
    with urlopen(f"{base_url}/_sandbox/stats", timeout=10) as resp:  # noqa: S310 - 127.0.0.1
        hits = json.loads(resp.read())["hits"]
    return sum(n for path, n in hits.items() if not path.startswith("/_sandbox/"))


def crawl_to_end(path: Path, log: Path) -> None:
    proc = start(path, log)
    assert proc.wait(timeout=120) == 0, log.read_text(encoding="utf-8")[-3000:]


def crawl_killed_after(path: Path, log: Path, base_url: str, requests: int) -> bool:
    """Start a crawl and SIGKILL it once the sandbox served ``requests`` more requests;
    False when the crawl finished first."""
    begin = served(base_url)
    proc = start(path, log)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if served(base_url) - begin >= requests:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.005)
    assert proc.wait(timeout=5) == 0, log.read_text(encoding="utf-8")[-3000:]
    return False


def duplicates(session: Session) -> int:
    """Rows beyond the first of each natural key, over every crawled table."""
    extra = 0
    for model, keys in KEYS.items():
        columns = [getattr(model, k) for k in keys]
        stmt = select(func.count()).select_from(model).group_by(*columns).having(func.count() > 1)
        extra += sum(n - 1 for n in session.exec(stmt))
    return extra


def snapshot(db: Path) -> tuple[dict[str, int], set[str], int, dict[str, int]]:
    """(rows per crawled table, post ids, duplicate rows, crawl runs per status).

    Mention edges are counted apart from the other interactions, so a loss of either shows
    on its own."""
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        rows = {m.__name__: s.exec(select(func.count()).select_from(m)).one() for m in KEYS}
        mentions = select(func.count()).where(col(Interaction.kind) == "mention")
        rows["mention"] = s.exec(mentions.select_from(Interaction)).one()
        rows["Interaction"] -= rows["mention"]
        posts = set(s.exec(select(Post.platform_id)))
        statuses: dict[str, int] = {}
        for status in s.exec(select(CrawlRun.status)):
            statuses[status] = statuses.get(status, 0) + 1
        dup = duplicates(s)
    engine.dispose()
    return rows, posts, dup, statuses


def hidden_cursor_set(db: Path) -> bool:
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        runs = s.exec(select(CrawlRun).where(col(CrawlRun.status) == "finished")).all()
    engine.dispose()
    return any(r.cursor.get("lists") for r in runs)


def test_kill9_ten_times_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    account, log = busiest_account(), tmp_path / "crawl.log"
    db_a, db_b = tmp_path / "a.db", tmp_path / "b.db"
    with SandboxProcess(seed=SEED, users=USERS) as full:
        before = served(full.base_url)
        crawl_to_end(write_settings(tmp_path, "a", db_a, full.base_url, account), log)
        requests_a = served(full.base_url) - before
        with SandboxProcess(seed=SEED, users=USERS, hide_newest=0.3) as older:
            crawl_to_end(write_settings(tmp_path, "b0", db_b, older.base_url, account), log)
        assert hidden_cursor_set(db_b), "the clean crawl of the older world stored no cursor"
        settings_b = write_settings(tmp_path, "b", db_b, full.base_url, account)
        rng, kills, posts_after_kill = random.Random(20240607), 0, []
        for _ in range(3 * KILLS):
            # a restart re-reads the lists back to the cursor and the follow-ups not yet
            # stored: about a third of A's requests; a point past its end just lets it finish
            point = rng.randint(1, max(2, requests_a // 4))
            if crawl_killed_after(settings_b, log, full.base_url, point):
                kills += 1
                posts_after_kill.append(len(snapshot(db_b)[1]))
            if kills == KILLS:
                break
        crawl_to_end(settings_b, log)
    rows_a, posts_a, dup_a, _ = snapshot(db_a)
    rows_b, posts_b, dup_b, runs_b = snapshot(db_b)
    figures = f"A {rows_a}; B {rows_b}; posts in B after each kill {posts_after_kill}"
    assert kills == KILLS, figures
    assert len(set(posts_after_kill)) > 1, f"no kill landed between commits: {figures}"
    assert dup_a == dup_b == 0
    assert posts_b == posts_a, f"lost {len(posts_a - posts_b)}, extra {len(posts_b - posts_a)}"
    # every table equal, mention edges included: they commit with their posts
    assert rows_b == rows_a, figures
    assert runs_b.get("running", 0) == 0, runs_b  # every killed run was marked at the restart
    assert runs_b.get("interrupted", 0) >= KILLS
