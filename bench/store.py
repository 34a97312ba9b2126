"""Store benchmark: idempotent upserts (INSERT .. ON CONFLICT) against a plain bulk INSERT.

Both write the same N post rows into a fresh SQLite file (WAL) in the same run; the ratio says
what idempotence costs. A second upsert pass over the same rows (the "re-run" case) is timed too.

    python bench/store.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sqlmodel import Session

from crawlers.models import Post
from crawlers.store import make_engine, migrate, upsert


def _rows(n: int) -> list[dict[str, object]]:
    return [
        {
            "platform": "weibo",
            "platform_id": str(10**15 + i),
            "author_id": str(i % 997),
            "kind": "post",
            "text": f"今天的手冲咖啡第{i}杯，#咖啡探店# 真不错[哈哈]",
            "topics": ["咖啡探店"],
            "reposts_count": i % 50,
        }
        for i in range(n)
    ]


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(n: int = 50_000) -> None:
    rows = _rows(n)
    with tempfile.TemporaryDirectory() as tmp:
        base = make_engine(f"sqlite:///{Path(tmp) / 'base.db'}")
        ours = make_engine(f"sqlite:///{Path(tmp) / 'ours.db'}")
        migrate(base)
        migrate(ours)

        def plain() -> None:
            with base.begin() as conn:
                conn.execute(Post.__table__.insert(), rows)  # type: ignore[attr-defined]

        def upserted() -> None:
            with Session(ours) as s:
                upsert(s, Post, rows, ("platform", "platform_id"))
                s.commit()

        t_base = _timed(plain)
        t_ours = _timed(upserted)
        t_rerun = _timed(upserted)
    print(f"{'method':<28}{'seconds':>10}{'rows/s':>12}")
    for name, t in (
        ("plain INSERT (baseline)", t_base),
        ("upsert, new rows", t_ours),
        ("upsert, re-run", t_rerun),
    ):
        print(f"{name:<28}{t:>10.3f}{n / t:>12.0f}")
    print(f"rows={n}")
    print(f"upsert_rows_per_s={n / t_ours:.0f}")
    print(f"baseline_rows_per_s={n / t_base:.0f}")
    print(f"upsert_vs_plain_insert_ratio={t_ours / t_base:.2f}")
    print(f"rerun_vs_plain_insert_ratio={t_rerun / t_base:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
