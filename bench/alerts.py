"""Benchmark exports and alert checks on a large synthetic store: time and peak memory.

Builds a SQLite store of ``--posts`` brand posts (default 1,000,000) spread over 30 days, each
labelled, then in a fresh process per case:

* ``fetch``: the baseline: the export's own query streamed in chunks, rows discarded;
* ``csv``, ``parquet`` (and ``xlsx`` when ``--xlsx``): ``tingfeng export posts``'s code path;
* ``alerts``: ``run_alerts`` over the whole 28-day baseline.

Peak memory is each process's max RSS; ``ratio`` = the case's time / the fetch baseline's time
(what formatting and writing cost on top of reading), ``rss_ratio`` the same for memory.

    python bench/alerts.py [--posts 1000000] [--xlsx] [--keep DIR]

Ends with ``key=value`` lines.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session  # noqa: E402

from crawlers.config import Settings, default_settings  # noqa: E402
from crawlers.models import Post, PostLabel  # noqa: E402
from crawlers.store import open_store  # noqa: E402

START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 30
TEXTS = [
    "拾光咖啡的冷萃真不错",
    "拾光咖啡 排队太久了，服务差",
    "今天在拾光咖啡喝拿铁",
    "=1+1 拾光咖啡",
]


def settings_for(db: Path) -> Settings:
    return default_settings(
        base_dir=db.parent,
        store={"url": f"sqlite:///{db}"},
        campaigns={"bench": {"brand": "拾光咖啡", "interests": ["coffee"]}},
    )


def build(db: Path, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    engine = open_store(settings_for(db))
    span = DAYS * 86400
    with Session(engine) as session:
        for lo in range(0, n, 50_000):
            hi = min(n, lo + 50_000)
            posts, labels = [], []
            for i in range(lo + 1, hi + 1):
                text = TEXTS[i % len(TEXTS)]
                when = START + timedelta(seconds=span * (i - 1) // n)
                posts.append(
                    {"id": i, "platform": "weibo", "platform_id": str(i),
                     "author_id": f"u{rng.randrange(n // 20 + 1)}", "text": text,
                     "text_plain": text, "created_at": when, "reposts_count": rng.randrange(100),
                     "comments_count": 1, "kind": "post", "topics": [], "mentions": [],
                     "truncated": False, "first_seen": when}
                )  # fmt: skip
                sentiment = "negative" if "差" in text else rng.choice(["positive", "neutral"])
                labels.append(
                    {"post_id": i, "model_version": "v1", "sentiment": sentiment,
                     "sentiment_score": 0.9, "keywords": ["拾光", "咖啡"], "interests": ["coffee"],
                     "labeled_at": when}
                )  # fmt: skip
            session.execute(insert(Post), posts)
            session.execute(insert(PostLabel), labels)
            session.commit()
    engine.dispose()


def child(case: str, db: Path, out_dir: Path) -> None:
    """One case in this process; prints {seconds, rows, max_rss_mb} as JSON."""
    from reports.alerts import run_alerts
    from reports.exports import posts_export, write_export

    settings = settings_for(db)
    engine = open_store(settings)
    t0 = time.perf_counter()
    with Session(engine) as session:
        if case == "fetch":
            rows = sum(len(c) for c in posts_export(session, settings, "bench").chunks())
        elif case == "alerts":
            summary = run_alerts(session, settings, now=START + timedelta(days=DAYS))
            rows = summary["hours_checked"]
        else:
            export = posts_export(session, settings, "bench")
            rows = write_export(export, case, out_dir / f"posts.{case}")  # type: ignore[arg-type]
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "rows": rows, "max_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: ru_maxrss on Linux can carry the parent's over exec)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--xlsx", action="store_true", help="also XLSX (slow: about 10x csv)")
    ap.add_argument("--keep", type=Path, default=None, help="build/keep the store here")
    ap.add_argument("--child", default=None)
    ap.add_argument("--db", type=Path, default=None)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.db, args.db.parent)
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="tf-bench-alerts-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.db"
    if not db.exists():
        t0 = time.perf_counter()
        build(db, args.posts)
        print(f"built {args.posts} posts in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    cases = ["fetch", "csv", "parquet", *(["xlsx"] if args.xlsx else []), "alerts"]
    results = {}
    for case in cases:
        out = subprocess.run(
            [sys.executable, __file__, "--child", case, "--db", str(db)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[case] = json.loads(out.strip().splitlines()[-1])
    base = results["fetch"]
    for case, r in results.items():
        size = ""
        path = work / f"posts.{case}"
        if path.exists():
            size = f" file_mb={path.stat().st_size / 2**20:.1f}"
        print(
            f"{case}: rows={r['rows']} seconds={r['seconds']:.2f} max_rss_mb={r['max_rss_mb']:.0f}"
            f" ratio={r['seconds'] / base['seconds']:.2f}"
            f" rss_ratio={r['max_rss_mb'] / base['max_rss_mb']:.2f}{size}"
        )


if __name__ == "__main__":
    main()
