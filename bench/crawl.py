"""Collection benchmark: crawl the sandbox with politeness off; posts parsed and upserted per
second, beside the raw SQLite ``executemany`` rate for the same rows, measured in the same run.

    python bench/crawl.py [--users 1000] [--concurrency 8] [--max-pages 5] [--posts-only]

"Posts" are Post rows: posts, comments and reposts (all carry text). The crawl runs in this
process (``run_crawl``), timed from start to finish including Scrapy's start-up. The baseline
reads the stored rows back and inserts them into an empty database of the same schema with
``sqlite3.executemany`` in one transaction: the ceiling for writing those rows at all.
The headline is the last line: ``posts_per_s=... raw_posts_per_s=... raw_ratio=...``.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawlers.config import default_settings  # noqa: E402
from crawlers.crawl import run_crawl  # noqa: E402
from crawlers.sandbox.process import SandboxProcess  # noqa: E402
from crawlers.store import make_engine, migrate  # noqa: E402

CAMPAIGN = {
    "brand": "拾光咖啡",
    "tags": ["咖啡", "手冲", "护肤"],
    "topics": ["咖啡探店", "手冲咖啡", "护肤心得", "美妆分享"],
    "supertopics": ["咖啡", "美妆"],
    "keywords": ["拿铁"],
}


def settings_for(base_url: str, db: Path, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    return default_settings(
        base_dir=db.parent,
        store={"url": f"sqlite:///{db}"},
        crawl={
            "base_url": base_url,
            "obey_robots": False,
            "download_delay": 0.0,
            "autothrottle": False,
            "concurrent_requests_per_domain": args.concurrency,
            "budget_per_ip_per_hour": 0,
            "budget_per_account_per_hour": 0,
            "max_pages": args.max_pages,
            "comment_pages": 3,
            "repost_pages": 2,
            "fan_pages": 0 if args.posts_only else 1,
            "fetch_profiles": not args.posts_only,
            "log_level": "WARNING",
        },
        campaigns={"bench": CAMPAIGN},
    )


def raw_insert(db: Path, target: Path) -> tuple[int, float]:
    """Copy the post rows with plain sqlite3 executemany into an empty database; rows, seconds."""
    migrate(make_engine(f"sqlite:///{target}"))
    src = sqlite3.connect(db)
    cols = [r[1] for r in src.execute("PRAGMA table_info(post)") if r[1] != "id"]
    rows = src.execute(f"SELECT {', '.join(cols)} FROM post").fetchall()
    src.close()
    dst = sqlite3.connect(target)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=NORMAL")
    sql = f"INSERT INTO post ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    start = time.perf_counter()
    with dst:
        dst.executemany(sql, rows)
    seconds = time.perf_counter() - start
    dst.close()
    return len(rows), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-pages", type=int, default=5)
    parser.add_argument(
        "--posts-only",
        action="store_true",
        help="only post lists, comments and reposts (no profiles, no fan lists)",
    )
    args = parser.parse_args()
    with (
        SandboxProcess(seed=args.seed, users=args.users) as sb,
        tempfile.TemporaryDirectory() as tmp,
    ):
        db = Path(tmp) / "bench.db"
        settings = settings_for(sb.base_url, db, args)
        start = time.perf_counter()
        summary = run_crawl(settings)
        crawl_s = time.perf_counter() - start
        posts, raw_s = raw_insert(db, Path(tmp) / "raw.db")
    pages = summary.get("pages", 0)
    print(
        f"users={args.users} concurrency={args.concurrency} max_pages={args.max_pages} "
        f"posts_only={args.posts_only}"
    )
    print(
        f"pages={pages} requests={summary.get('requests', 0)} posts={posts} errors={summary.get('errors', 0)}"
    )
    print(f"crawl_seconds={crawl_s:.2f} raw_insert_seconds={raw_s:.3f}")
    print(f"pages_per_s={pages / crawl_s:.1f}")
    print(
        f"posts_per_s={posts / crawl_s:.0f} raw_posts_per_s={posts / raw_s:.0f} raw_ratio={raw_s / crawl_s:.4f}"
    )


if __name__ == "__main__":
    main()
