"""Benchmark of the NLP stage: the full LexiconClassifier against plain jieba on the same posts.

    .venv/bin/python bench/nlp.py [--posts N] [--source auto|real|synthetic]

Real posts come from ../shared/data/unlabeled/weibo_covid2020.csv.gz when it exists (read in
place, never copied); otherwise posts are generated. The baseline is ``jieba.lcut`` (precise
mode, HMM on, jieba's defaults) over the same texts in the same run; the classifier does more
(OpenCC, segmentation, sentiment, interests, intents, TF-IDF keywords), so a ratio above 1
means the whole stage outruns segmentation alone with jieba. Loading costs are reported apart.
The last lines are key=value.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawlers.config import default_settings  # noqa: E402
from nlp.classifier import LexiconClassifier  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "unlabeled" / "weibo_covid2020.csv.gz"
WORDS = [
    "咖啡",
    "拿铁",
    "好喝",
    "难喝",
    "今天",
    "朋友",
    "推荐",
    "手机",
    "续航",
    "差评",
    "想买",
    "健身",
    "跑步",
    "旅行",
    "酒店",
    "#咖啡探店#",
    "[哈哈]",
    "[泪]",
    "不太",
    "满意",
    "很",
    "非常",
    "但是",
    "，",
    "。",
    "！",
    "？",
]


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


def timed(fn, *args) -> tuple[float, float]:  # noqa: ANN001 - a benchmark helper
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--source", choices=["auto", "real", "synthetic"], default="auto")
    args = ap.parse_args()
    use_real = args.source == "real" or (args.source == "auto" and REAL.is_file())
    texts = real_posts(args.posts) if use_real else synthetic_posts(args.posts)
    n = len(texts)
    print(
        f"{n} {'real' if use_real else 'synthetic'} posts, mean {sum(map(len, texts)) / n:.1f} chars"
    )

    settings = default_settings()
    clf = LexiconClassifier(settings)
    load_clf, _ = timed(clf.predict, ["预热 warm-up 這個很好喝"])
    batch = settings.nlp.batch_size
    clf_wall, clf_cpu = timed(
        lambda: [clf.predict(texts[i : i + batch]) for i in range(0, n, batch)]
    )

    import jieba

    load_jieba, _ = timed(jieba.initialize)
    base_wall, base_cpu = timed(lambda: [jieba.lcut(t) for t in texts])

    print(f"load: classifier {load_clf:.2f} s, jieba.initialize {load_jieba:.2f} s")
    print(f"posts={n}")
    print(f"source={'real' if use_real else 'synthetic'}")
    print(f"classifier_posts_per_s={n / clf_wall:.0f}")
    print(f"classifier_posts_per_cpu_s={n / clf_cpu:.0f}")
    print(f"baseline_jieba_lcut_posts_per_s={n / base_wall:.0f}")
    print(f"baseline_jieba_lcut_posts_per_cpu_s={n / base_cpu:.0f}")
    print(f"ratio={(n / clf_cpu) / (n / base_cpu):.2f}")


if __name__ == "__main__":
    main()
