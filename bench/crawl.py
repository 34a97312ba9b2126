"""Benchmark the collection stage: the full spider + pipelines against the sandbox, beside a
baseline that fetches the same URLs sequentially with urllib and decodes them with json.loads.

    python bench/crawl.py [--users 200] [--max-pages 3] [--concurrency 1]

Prints ``key=value`` lines; ``ratio`` is the spider's pages/s over the baseline's.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawlers.sandbox.process import SandboxProcess  # noqa: E402

SETTINGS = """
[store]
url = "sqlite:///{db}"
[crawl]
base_url = "{base_url}"
download_delay = 0.0
autothrottle = false
concurrent_requests_per_domain = {concurrency}
max_pages = {max_pages}
comment_pages = 1
repost_pages = 1
fan_pages = 1
log_level = "DEBUG"
[campaigns.shiguang]
brand = "拾光咖啡"
tags = ["咖啡", "手冲"]
topics = ["咖啡探店", "手冲咖啡"]
supertopics = ["咖啡"]
keywords = ["拿铁"]
"""
CRAWLED_RE = re.compile(r"Crawled \(200\) <GET (\S+)>")
ELAPSED_RE = re.compile(r"'elapsed_time_seconds': ([0-9.]+)")


def run_spider(
    base_url: str, workdir: Path, args: argparse.Namespace
) -> tuple[dict[str, int], list[str], float]:
    path = workdir / "bench.toml"
    path.write_text(
        SETTINGS.format(
            db=workdir / "bench.db",
            base_url=base_url,
            concurrency=args.concurrency,
            max_pages=args.max_pages,
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "crawlers.crawl", "--settings", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    summary = {k: int(v) for k, v in (line.split("=") for line in done.stdout.split())}
    urls = [u for u in CRAWLED_RE.findall(done.stderr) if not u.endswith("/robots.txt")]
    return summary, urls, float(ELAPSED_RE.findall(done.stderr)[-1])


def run_baseline(urls: list[str]) -> float:
    start = time.perf_counter()
    for url in urls:
        with urlopen(url, timeout=20) as resp:  # noqa: S310 - the local sandbox only
            json.loads(resp.read())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-pages", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    with (
        SandboxProcess(seed=args.seed, users=args.users) as sb,
        tempfile.TemporaryDirectory() as tmp,
    ):
        summary, urls, spider_s = run_spider(sb.base_url, Path(tmp), args)
        baseline_s = run_baseline(urls)
    items = sum(v for k, v in summary.items() if k.startswith("stored_"))
    spider_pps, base_pps = len(urls) / spider_s, len(urls) / baseline_s
    print(f"users={args.users}")
    print(f"concurrency={args.concurrency}")
    print(f"pages={len(urls)}")
    print(f"items={items}")
    print(f"spider_seconds={spider_s:.2f}")
    print(f"baseline_seconds={baseline_s:.2f}")
    print(f"spider_pages_per_s={spider_pps:.1f}")
    print(f"spider_items_per_s={items / spider_s:.1f}")
    print(f"baseline_pages_per_s={base_pps:.1f}")
    print(f"ratio={spider_pps / base_pps:.3f}")


if __name__ == "__main__":
    main()
