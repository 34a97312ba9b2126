"""Benchmark of the NLP stage against plain jieba segmentation of the same posts.

    .venv/bin/python bench/nlp.py [--posts N] [--source auto|real|synthetic]
                                  [--backends linear,lexicon,onnx] [--model-dir DIR]

Real posts come from ../shared/data/unlabeled/weibo_covid2020.csv.gz when it exists (read in
place, never copied); otherwise posts are generated. The baseline is ``jieba.lcut`` (precise
mode, HMM on, jieba's defaults) over the same texts in the same run. Each backend is the whole
labeller (``make_classifier``: OpenCC, rjieba segmentation, keywords, interests, intents, 5A,
spam, and the trained heads); ``<backend>_ratio`` = its posts/CPU-s over jieba's, so a ratio above
1 means the whole stage outruns segmentation alone with jieba. The ``onnx`` and ``ensemble`` backends run on the
first ``--onnx-posts`` posts only (it is ~10x slower). Loading costs are reported apart. The last
lines are key=value; the default labeller's figures come last.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawlers.config import default_settings  # noqa: E402
from nlp.classifier import make_classifier  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "unlabeled" / "weibo_covid2020.csv.gz"
WORDS = [
    "咖啡", "拿铁", "好喝", "难喝", "今天", "朋友", "推荐", "手机", "续航", "差评", "想买", "健身",
    "跑步", "旅行", "酒店", "#咖啡探店#", "[哈哈]", "[泪]", "不太", "满意", "很", "非常", "但是",
    "，", "。", "！", "？",
]  # fmt: skip


def real_posts(n: int) -> list[str]:
    out: list[str] = []
    with gzip.open(REAL, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for row in reader:
            if len(row) >= 3 and row[2].strip():
                out.append(row[2])
                if len(out) >= n:
                    break
    return out


def synthetic_posts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(WORDS, k=rng.randint(8, 40))) for _ in range(n)]


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--onnx-posts", type=int, default=2_000)
    ap.add_argument("--source", choices=["auto", "real", "synthetic"], default="auto")
    ap.add_argument("--backends", default="lexicon,onnx,ensemble,linear")
    ap.add_argument("--model-dir", default="", help="nlp.model_dir for the onnx backend")
    args = ap.parse_args()
    use_real = args.source == "real" or (args.source == "auto" and REAL.is_file())
    texts = real_posts(args.posts) if use_real else synthetic_posts(args.posts)
    n = len(texts)
    print(
        f"{n} {'real' if use_real else 'synthetic'} posts, mean {sum(map(len, texts)) / n:.1f} chars"
    )

    import jieba

    load_jieba, _ = timed(jieba.initialize)
    base_wall, base_cpu = timed(lambda: [jieba.lcut(t) for t in texts])
    base_rate = n / base_cpu
    print(f"load: jieba.initialize {load_jieba:.2f} s")

    figures: dict[str, float] = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        overrides: dict[str, Any] = {"model": backend}
        if backend == "onnx" and args.model_dir:
            overrides["model_dir"] = args.model_dir
        settings = default_settings(nlp=overrides)
        try:
            started = time.perf_counter()
            clf = make_classifier(settings)
            clf.predict(["预热 warm-up 這個很好喝"])
            load = time.perf_counter() - started
        except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
            print(f"{backend}: not measured ({exc})")
            continue
        slow = backend in ("onnx", "transformer", "ensemble")
        sample = texts[: args.onnx_posts] if slow else texts
        batch = settings.nlp.batch_size
        wall, cpu = timed(
            lambda c=clf, s=sample, b=batch: [c.predict(s[i : i + b]) for i in range(0, len(s), b)]
        )
        print(f"load: {backend} {load:.2f} s ({clf.version}); {len(sample)} posts")
        figures[f"{backend}_posts_per_s"] = len(sample) / wall
        figures[f"{backend}_posts_per_cpu_s"] = len(sample) / cpu
        figures[f"{backend}_ratio"] = (len(sample) / cpu) / base_rate

    print(f"posts={n}")
    print(f"source={'real' if use_real else 'synthetic'}")
    print(f"baseline_jieba_lcut_posts_per_s={n / base_wall:.0f}")
    print(f"baseline_jieba_lcut_posts_per_cpu_s={base_rate:.0f}")
    for key, value in figures.items():
        print(f"{key}={value:.2f}" if key.endswith("ratio") else f"{key}={value:.0f}")


if __name__ == "__main__":
    main()
