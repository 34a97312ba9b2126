"""The unlabeled pretraining corpus: real Weibo posts, cleaned exactly as the models read them.

The file is ``date,userid,text`` CSV, UTF-8, gzip (``data/unlabeled/weibo_covid2020.csv.gz``).
Texts are passed through ``model_text``, short ones dropped, duplicates and the labelled test
texts removed (a model must not pretrain on what it is scored on), then shuffled by seed.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import logging
import random
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path

from nlp.normalize import model_text

logger = logging.getLogger(__name__)

MIN_CHARS = 5


def iter_posts(path: str | Path) -> Iterator[str]:
    """Raw post texts of the corpus file, in file order."""
    with gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
        for row in csv.DictReader(fh):
            yield row.get("text") or ""


def load_corpus(
    path: str | Path,
    *,
    exclude: Iterable[str] = (),
    extra: Iterable[str] = (),
    seed: int = 0,
    limit: int | None = None,
    min_chars: int = MIN_CHARS,
) -> list[str]:
    """Unique model texts of at least ``min_chars`` characters from the corpus file plus
    ``extra`` raw texts, minus ``exclude`` (raw or model texts), shuffled by ``seed``, cut to
    ``limit``."""
    banned = {model_text(t) for t in exclude}
    seen: set[str] = set()
    texts: list[str] = []
    dropped = 0
    for raw in chain(iter_posts(path), extra):
        text = model_text(raw)
        if len(text) < min_chars or text in seen or text in banned:
            dropped += 1
            continue
        seen.add(text)
        texts.append(text)
    random.Random(seed).shuffle(texts)
    logger.info(
        "corpus: %d texts kept, %d dropped (short, duplicate, excluded)", len(texts), dropped
    )
    return texts[:limit] if limit is not None else texts


def corpus_sha(texts: Iterable[str]) -> str:
    """sha256 of the texts in order, newline-separated: names the exact corpus in a recipe."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()
