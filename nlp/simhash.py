"""Near-duplicate posts across accounts: 64-bit SimHash over character 3-grams.

Copy-paste 水军 post the same text from many accounts, with a character or an emoji changed.
Two posts whose SimHashes differ in at most ``max_distance`` bits are near-duplicates. The
hashes are split into 4 bands of 16 bits: two hashes within 3 bits agree exactly on at least
one band (pigeonhole), so only posts sharing a band are compared, not every pair.

Only the writer's own words count (a repost's ``//@name:`` chain is someone else's text), and
posts with fewer than ``MIN_CHARS`` letters and digits never count as duplicates: 转发微博 and 哈哈哈
are written alike by everyone.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from nlp.normalize import normalize, own_words, strip_emoticons

BITS = 64
BANDS = 4
BAND_BITS = BITS // BANDS
#: Posts with fewer letters and digits are never near-duplicates.
MIN_CHARS = 10
SHINGLE = 3
_WORD = re.compile(r"[^\W_]+")


def simhash64(text: str) -> int:
    """64-bit SimHash of the 3-grams of ``text``'s letters and digits, normalized (simplified,
    lower-cased; punctuation, emoji, URLs and @names out); 0 when none are left.

    Stable across processes and machines (blake2b, not Python's salted ``hash``).

    >>> simhash64("拾光咖啡的燕麦拿铁真好喝") == simhash64("拾光咖啡的燕麦拿铁真好喝")
    True
    >>> simhash64("")
    0
    """
    return _simhash(_content(text))


def hamming(a: int, b: int) -> int:
    """Bits in which ``a`` and ``b`` differ."""
    return (a ^ b).bit_count()


def near_duplicate_share(
    texts_by_author: Mapping[str, Sequence[str]], max_distance: int = 3
) -> dict[str, float]:
    """Share of each author's posts that near-duplicate a post of another author.

    ``max_distance`` must stay below ``BANDS`` for the banding to find every pair.

    >>> near_duplicate_share({
    ...     "a": ["加微信领取免费试用装，名额有限先到先得", "今天的晚霞很好看"],
    ...     "b": ["加微信领取免费试用装，名额有限先到先得！"],
    ...     "c": ["周末去爬山，山顶的风好大"],
    ... })
    {'a': 0.5, 'b': 1.0, 'c': 0.0}
    """
    if not 0 <= max_distance < BANDS:
        raise ValueError(f"max_distance must be 0..{BANDS - 1}, not {max_distance}")
    hashes = {author: [_post_hash(t) for t in texts] for author, texts in texts_by_author.items()}
    authors_of: dict[int, set[str]] = defaultdict(set)
    for author, hs in hashes.items():
        for h in hs:
            if h is not None:
                authors_of[h].add(author)
    close = _close_hashes(list(authors_of), max_distance)
    out: dict[str, float] = {}
    for author, hs in hashes.items():
        dup = sum(
            1 for h in hs if h is not None and _copied(author, h, authors_of, close.get(h, ()))
        )
        out[author] = dup / len(hs) if hs else 0.0
    return out


def _copied(
    author: str, h: int, authors_of: Mapping[int, set[str]], neighbours: Sequence[int]
) -> bool:
    """Whether another author wrote a post with hash ``h`` or one of its ``neighbours``."""
    return any(authors_of[n] - {author} for n in (h, *neighbours))


def _close_hashes(hashes: Sequence[int], max_distance: int) -> dict[int, list[int]]:
    """For each hash, the other hashes within ``max_distance`` bits (banded, not all pairs)."""
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    mask = (1 << BAND_BITS) - 1
    for h in hashes:
        for band in range(BANDS):
            buckets[(band, (h >> (band * BAND_BITS)) & mask)].append(h)
    close: dict[int, set[int]] = defaultdict(set)
    for members in buckets.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if hamming(a, b) <= max_distance:
                    close[a].add(b)
                    close[b].add(a)
    return {h: sorted(ns) for h, ns in close.items()}


def _post_hash(text: str) -> int | None:
    content = _content(own_words(text))
    return _simhash(content) if len(content) >= MIN_CHARS else None


def _content(text: str) -> str:
    """Letters and digits only: copies differing in punctuation, emoji or emoticons match."""
    return "".join(_WORD.findall(strip_emoticons(normalize(text).text).lower()))


def _simhash(content: str) -> int:
    if not content:
        return 0
    grams = Counter(content[i : i + SHINGLE] for i in range(max(1, len(content) - SHINGLE + 1)))
    digests = b"".join(map(_gram_digest, grams))
    # one row of 64 bits per distinct shingle, most significant bit first
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8)).reshape(len(grams), BITS)
    counts = np.fromiter(grams.values(), dtype=np.int64, count=len(grams))
    weights = counts @ (2 * bits.astype(np.int64) - 1)
    return int.from_bytes(np.packbits(weights > 0).tobytes(), "big")


@lru_cache(maxsize=1 << 18)
def _gram_digest(gram: str) -> bytes:
    # shingles repeat across posts (Zipf): hash each once
    return hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest()
