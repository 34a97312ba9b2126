"""A deliberately per-character vocabulary, saved as a standard Hugging Face tokenizer dir.

Every character is one token: Chinese characters, punctuation, emoji, and also each digit and
each (lowercased) Latin letter. ``BertTokenizerFast(vocab=...)`` would send digit and Latin runs
through WordPiece instead (ids differ from a per-character lookup on ~23% of Weibo posts), and
``BertTokenizerFast(vocab_file=...)`` silently builds a 5-token vocabulary in transformers 5.x;
so the pipeline is built here from ``tokenizers`` parts and wrapped for ``AutoTokenizer``.

Inference needs only the ``tokenizers`` package (``load`` + ``encode_batch``), not transformers.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from tokenizers.processors import TemplateProcessing

logger = logging.getLogger(__name__)

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIALS = (PAD, UNK, CLS, SEP, MASK)
TOKENIZER_FILE = "tokenizer.json"


def _normalizer() -> normalizers.Normalizer:
    # clean_text drops control characters (NUL...) and U+FFFD; no accent stripping: ü stays ü.
    return normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=True
    )


def clean(text: str) -> str:
    """``text`` made encodable: surrogate pairs joined, lone surrogates replaced (then dropped)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def char_counts(texts: Iterable[str]) -> Counter[str]:
    """How often each token character occurs in ``texts``, after the tokenizer's normalizer."""
    raw = np.zeros(0x110000, dtype=np.int64)
    chunk: list[str] = []
    for text in texts:
        chunk.append(clean(text))
        if len(chunk) == 10_000:
            raw += _codepoint_counts(chunk)
            chunk.clear()
    raw += _codepoint_counts(chunk)
    # The normalizer maps each character on its own (lowercase, control characters out), so
    # normalizing the ~7k distinct characters is exact and far faster than every text.
    norm = _normalizer()
    counts: Counter[str] = Counter()
    for code in np.flatnonzero(raw):
        for char in norm.normalize_str(chr(code)):
            if not char.isspace():
                counts[char] += int(raw[code])
    return counts


def _codepoint_counts(texts: list[str]) -> np.ndarray:
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    return np.bincount(codes, minlength=0x110000)


def build_vocab(
    texts: Iterable[str], *, min_count: int = 2, extra_texts: Iterable[str] = ()
) -> dict[str, int]:
    """Specials, then the characters seen ``min_count`` times in ``texts`` (most frequent
    first), then every other character of ``extra_texts`` (labelled texts carry the emoji the
    unlabeled corpus lost)."""
    counts = char_counts(texts)
    chars = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for c in chars:
        vocab.setdefault(c, len(vocab))
    for c in sorted(char_counts(extra_texts)):
        vocab.setdefault(c, len(vocab))
    logger.info("vocabulary: %d tokens (%d characters seen)", len(vocab), len(counts))
    return vocab


def make_tokenizer(vocab: dict[str, int]) -> Tokenizer:
    """The ``tokenizers`` pipeline: BERT normalizer, one token per non-space char, [CLS] x [SEP]."""
    tok = Tokenizer(WordLevel(vocab, unk_token=UNK))
    tok.normalizer = _normalizer()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("."), behavior="isolated")]
    )
    tok.post_processor = TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
        special_tokens=[(CLS, vocab[CLS]), (SEP, vocab[SEP])],
    )
    return tok


def save(tok: Tokenizer, out_dir: str | Path, *, max_len: int) -> None:
    """Write ``out_dir`` so that ``AutoTokenizer.from_pretrained(out_dir)`` loads it."""
    from transformers import PreTrainedTokenizerFast  # deferred: inference needs none of it

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token=UNK,
        pad_token=PAD,
        cls_token=CLS,
        sep_token=SEP,
        mask_token=MASK,
        model_max_length=max_len,
    )
    fast.save_pretrained(str(out_dir))


def load(model_dir: str | Path) -> Tokenizer:
    """The ``tokenizers`` pipeline saved in a model dir (ours or any fast HF tokenizer)."""
    return Tokenizer.from_file(str(Path(model_dir) / TOKENIZER_FILE))


def encode_ids(tok: Tokenizer, texts: Sequence[str], max_len: int) -> list[list[int]]:
    """Token ids with [CLS]/[SEP], cut to ``max_len``; texts should already be model texts."""
    tok.enable_truncation(max_len)
    tok.no_padding()
    return [e.ids for e in tok.encode_batch([clean(t) for t in texts])]


def pad_batch(
    rows: Sequence[Sequence[int] | np.ndarray], pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(input_ids, attention_mask)`` int64 arrays, padded to the longest row."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    width = int(lengths.max()) if len(rows) else 0
    mask = np.arange(width) < lengths[:, None]
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    if mask.any():
        ids[mask] = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])
    return ids, mask.astype(np.int64)


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices in batches of similar length (longest first), for inference: little padding."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def bucketed_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator, pool: int = 50
) -> list[list[int]]:
    """Shuffled training batches of similar length: shuffle, sort within pools of
    ``pool`` batches, cut into batches, shuffle the batches."""
    order = rng.permutation(len(lengths)).tolist()
    span = batch_size * pool
    batches: list[list[int]] = []
    for start in range(0, len(order), span):
        chunk = sorted(order[start : start + span], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]
