"""Benchmark the sentiment report: the whole report (every query, the HTML) on a SQLite store of
1,000,000 labelled posts, against a baseline measured in the same run.

The store is filled with raw ``sqlite3.executemany`` (seconds, not the ORM): posts over 60 days
(the report's 30 days and the 30 before, which the report compares against), a third of them
comments or reposts of earlier posts; about half name the brand, one in ten a competitor; every
post labelled (sentiment, emotion, five keywords of 3,000, a topic class); 100,000 authors with
influence scores in 40 communities.

The baseline is the plainest query a report needs: ``SELECT day, count(*) FROM post WHERE
created_at in the period GROUP BY day``. ``ratio`` = report time / baseline time.

    python bench/report.py [--posts 1000000] [--days 30] [--repeat 1] [--keep FILE]

Ends with ``key=value`` lines.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session  # noqa: E402

from crawlers.config import default_settings  # noqa: E402
from crawlers.store import make_engine, migrate  # noqa: E402
from reports import render_report  # noqa: E402

UNTIL = datetime(2026, 10, 31, tzinfo=UTC)
VERSION = "bench-v1"
AUTHORS = 100_000
COMMUNITIES = 40
CAMPAIGN = {
    "brand": "拾光咖啡",
    "brand_terms": ["冷萃", "挂耳"],
    "keywords": ["燕麦拿铁"],
    "topics": ["手冲咖啡"],
    "competitors": [
        {"name": "瑞幸", "terms": ["瑞幸", "luckin"]},
        {"name": "星巴克", "terms": ["星巴克", "starbucks"]},
    ],
}
BRAND_TEXTS = (
    "拾光咖啡的冷萃真好喝",
    "拾光咖啡外卖又超时了",
    "挂耳礼盒送人很体面",
    "燕麦拿铁一般般",
)
OTHER_TEXTS = (
    "瑞幸今天九块九",
    "星巴克新品不错",
    "今天天气很好",
    "周末去爬山",
    "#手冲咖啡# 入门求推荐",
)
SENTIMENTS = ("positive", "neutral", "negative")
EMOTIONS = ("happy", "neutral", "angry", "sad", "surprise", "fear")
TOPICS = ("finance", "sports", "entertainment", "science", "game", "fashion")
STAMP = "%Y-%m-%d %H:%M:%S.%f"


def _rows(n: int, days: int, seed: int) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    rng = random.Random(seed)
    vocab = [f"词{i}" for i in range(3000)]
    start = UNTIL - timedelta(days=2 * days)
    span = 2 * days * 86400
    now = UNTIL.strftime(STAMP)
    for i in range(n):
        pid = i + 1
        created = (start + timedelta(seconds=span * i / n)).strftime(STAMP)
        r = rng.random()
        kind = "post" if r < 0.67 else "comment" if r < 0.9 else "repost"
        parent = f"p{rng.randrange(max(1, i))}" if kind != "post" and i else None
        text = rng.choice(BRAND_TEXTS if rng.random() < 0.5 else OTHER_TEXTS)
        topics = '["\\u624b\\u51b2\\u5496\\u5561"]' if text.startswith("#") else "[]"
        author = f"u{int(AUTHORS * rng.random() ** 2)}"  # heavy-tailed: few prolific authors
        post = (pid, "weibo", f"p{i}", kind, author, text, text, created, topics, "[]", None,
                parent, parent, rng.randrange(50) if kind == "post" else 0, 0, 0, 0, now)  # fmt: skip
        sentiment = rng.choice(SENTIMENTS)
        keywords = json.dumps(rng.sample(vocab[: 200 + i % 2800], 5))
        label = (pid, pid, VERSION, sentiment, rng.random(), 0.0, "[]", "[]", keywords,
                 rng.choice(EMOTIONS), 0.5, rng.choice(TOPICS), 0.5, "{}", 0.0, "[]", 1, "{}",
                 now)  # fmt: skip
        yield post, label


def fill(path: Path, n: int, days: int, seed: int = 7) -> float:
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    t0 = time.perf_counter()
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA cache_size=-400000")  # 400 MB: the indexes stay in memory while filling
    posts: list[tuple[Any, ...]] = []
    labels: list[tuple[Any, ...]] = []

    def flush() -> None:
        con.executemany(
            "INSERT INTO post (id, platform, platform_id, kind, author_id, text, text_plain, "
            "created_at, topics, mentions, group_id, parent_id, root_id, reposts_count, "
            "comments_count, likes_count, truncated, first_seen) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            posts,
        )
        con.executemany(
            "INSERT INTO postlabel (id, post_id, model_version, sentiment, sentiment_score, "
            "polarity, interests, intents, keywords, emotion, emotion_score, topic, "
            "topic_score, stages, spam_score, spam_reasons, labellable, components, labeled_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            labels,
        )
        posts.clear()
        labels.clear()

    for post, label in _rows(n, days, seed):
        posts.append(post)
        labels.append(label)
        if len(posts) >= 50_000:
            flush()
    flush()
    now = UNTIL.strftime(STAMP)
    con.execute(
        "INSERT INTO scorerun (id, platform, fingerprint, params, nodes, edges, iterations, "
        "converged, created_at, summary) VALUES (1, 'weibo', 'bench', '{}', ?, 0, 0, 1, ?, '{}')",
        (AUTHORS, now),
    )
    con.executemany(
        "INSERT INTO influencescore (run_id, platform, account_id, interest, score, rank, "
        "parts, explanation) VALUES (1, 'weibo', ?, '', ?, ?, ?, ?)",
        (
            (
                f"u{i}",
                1.0 / (i + 1),
                i + 1,
                json.dumps({"community": i % COMMUNITIES}),
                f"rank {i + 1} of {AUTHORS}",
            )  # fmt: skip
            for i in range(AUTHORS)
        ),
    )
    con.executemany(
        "INSERT INTO community (run_id, platform, community, size, interests, voices, "
        "explanation) VALUES (1, 'weibo', ?, ?, '[]', '[]', ?)",
        ((c, AUTHORS // COMMUNITIES, f"community {c}") for c in range(COMMUNITIES)),
    )
    for i in range(0, AUTHORS, 10):
        con.execute(
            "INSERT INTO account (platform, platform_id, name, handle, description, "
            "profile_tags, verified, verified_reason, gender, location, first_seen, updated_at) "
            "VALUES ('weibo', ?, ?, '', '', '[]', 0, '', '', '', ?, ?)",
            (f"u{i}", f"用户{i}", now, now),
        )
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="Keep the store at this path.")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "report.db"
        if path.exists():
            path.unlink()
        fill_s = fill(path, args.posts, args.days)
        print(f"filled {args.posts} labelled posts in {fill_s:.1f}s ({path})", flush=True)
        settings = default_settings(store={"url": f"sqlite:///{path}"}, campaigns={"c": CAMPAIGN})
        since = UNTIL - timedelta(days=args.days)
        engine = make_engine(f"sqlite:///{path}")
        base_times: list[float] = []
        report_times: list[float] = []
        report_cpu: list[float] = []
        base_cpu: list[float] = []
        size = 0
        for _ in range(args.repeat):
            with engine.connect() as conn:
                t0 = time.perf_counter()
                c0 = time.process_time()
                rows = conn.exec_driver_sql(
                    "SELECT strftime('%Y-%m-%d', created_at) AS d, count(*) FROM post "
                    "WHERE created_at >= ? AND created_at < ? GROUP BY d",
                    (since.strftime(STAMP), UNTIL.strftime(STAMP)),
                ).all()
                base_times.append(time.perf_counter() - t0)
                base_cpu.append(time.process_time() - c0)
            with Session(engine) as session:
                t0, c0 = time.perf_counter(), time.process_time()
                html = render_report(session, settings, "c", since, UNTIL)
                report_times.append(time.perf_counter() - t0)
                report_cpu.append(time.process_time() - c0)
            size = len(html.encode("utf-8"))
        engine.dispose()
    base, report = min(base_times), min(report_times)
    print(f"posts={args.posts}")
    print(f"period_days={args.days}")
    print(f"baseline_days={len(rows)}")
    print(f"fill_s={fill_s:.1f}")
    print(f"html_kib={size // 1024}")
    print(f"baseline_s={base:.3f}")
    print(f"baseline_cpu_s={min(base_cpu):.3f}")
    print(f"report_s={report:.2f}")
    # SQLite runs in this process: CPU time is the report's own work, whatever else the machine
    # is doing (wall time above it means the process waited for a CPU or the disk)
    print(f"report_cpu_s={min(report_cpu):.2f}")
    print(f"ratio={report / base:.1f}")
    print(f"cpu_ratio={min(report_cpu) / max(min(base_cpu), 1e-9):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
