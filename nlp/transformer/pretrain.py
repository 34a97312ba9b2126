"""Pretrain our own small char-level Chinese BERT with masked language modelling.

No pretrained Chinese weights can be downloaded here, so the encoder learns from the unlabeled
Weibo corpus (``corpus.load_corpus``). Posts longer than ``max_len`` are cut into windows, so no
text is wasted; batches hold posts of similar length (little padding); the MLM head runs only on
the masked positions (with a ~6k-char vocabulary it would otherwise cost as much as the encoder).

A run stops at ``max_steps`` or after ``minutes``, whichever comes first; the learning rate
warms up then decays linearly over that same budget. A checkpoint is written every
``checkpoint_minutes`` so that ``resume=True`` continues an interrupted run where it stopped.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForMaskedLM

from nlp.transformer import tokenizer as chartok
from nlp.transformer.corpus import corpus_sha
from nlp.transformer.runtime import ModelError

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
MASK_PROB = 0.15
MASK_ID = chartok.SPECIALS.index(chartok.MASK)
MIN_WINDOW = 8  # a trailing window shorter than this is dropped: too little context to learn from


class CheckpointMismatch(ModelError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"the checkpoint {path} was written for another corpus or model shape: resume "
            "with the same corpus and model arguments, or delete it to start afresh"
        )


@dataclass
class _State:
    """Where a run is: saved in checkpoints, reported in ``recipe.json``."""

    step: int = 0
    epoch: int = 0
    batch: int = 0  # batches of ``epoch`` already done
    tokens: int = 0  # non-padding tokens read
    seconds: float = 0.0  # training time, summed over resumed runs
    losses: list[float] = field(default_factory=list)  # recent, for the logged mean


def pick_device(device: str = "auto") -> torch.device:
    """``cuda`` when present (for ``auto``), else ``cpu``."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def autocast(device: torch.device) -> Any:
    """bf16 autocast on CUDA; a no-op context on CPU (bf16 is slow on AVX2-only CPUs)."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def pretrain(
    texts: Sequence[str],
    out_dir: str | Path,
    *,
    layers: int = 4,
    hidden: int = 256,
    heads: int = 4,
    intermediate: int | None = None,
    max_len: int = 128,
    batch_size: int = 64,
    lr: float = 5e-4,
    max_steps: int | None = None,
    minutes: float | None = None,
    seed: int = 0,
    threads: int | None = None,
    device: str = "auto",
    vocab_min_count: int = 2,
    extra_vocab_texts: Iterable[str] = (),
    resume: bool = False,
    warmup: float = 0.06,
    weight_decay: float = 0.01,
    heldout: int = 2000,
    checkpoint_minutes: float = 10.0,
    log_seconds: float = 30.0,
) -> BertForMaskedLM:
    """MLM-pretrain a BERT on ``texts`` (model texts, as ``load_corpus`` gives) and write an HF
    model dir (config, safetensors, tokenizer) with ``recipe.json`` to ``out_dir``.

    ``minutes`` counts the training loop only: building the vocabulary and the windows (~2 min
    for the full corpus on the 2-core box) and the final held-out evaluation come on top."""
    if max_steps is None and minutes is None:
        raise ValueError("pretrain needs a budget: pass max_steps, minutes or both")
    args = {k: v for k, v in locals().items() if k not in {"texts", "extra_vocab_texts"}}
    args["out_dir"] = str(out_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    dev = pick_device(device)
    tok, train, held, corpus = _prepare(
        texts, extra_vocab_texts, vocab_min_count, heldout, seed, max_len
    )
    model = BertForMaskedLM(
        _config(tok.get_vocab_size(), layers, hidden, heads, intermediate, max_len)
    )
    model.to(dev)  # type: ignore[arg-type]  # transformers types `to` through a wrapper
    optimizer = _optimizer(model, lr, weight_decay)
    fingerprint = corpus["sha256"] + model.config.to_json_string(use_diff=False)
    state = _State()
    if resume and (out / CHECKPOINT).exists():
        state = _load_checkpoint(out / CHECKPOINT, model, optimizer, dev, fingerprint)
    budget = _Budget(max_steps, minutes, warmup, lr, checkpoint_minutes * 60, log_seconds)
    save = partial(_save_checkpoint, out / CHECKPOINT, model, optimizer, fingerprint)
    _train(model, optimizer, train, state, budget, batch_size, seed, dev, save)
    accuracy = mlm_accuracy(model, held, batch_size, seed, dev)
    logger.info("held-out MLM accuracy %.4f after %d steps", accuracy, state.step)
    model.save_pretrained(out)
    chartok.save(tok, out, max_len=max_len)
    _write_recipe(out, args, corpus, state, accuracy, model, dev)
    (out / CHECKPOINT).unlink(missing_ok=True)
    return model


def _prepare(
    texts: Sequence[str],
    extra_vocab_texts: Iterable[str],
    min_count: int,
    heldout: int,
    seed: int,
    max_len: int,
) -> tuple[Any, list[np.ndarray], list[np.ndarray], dict[str, Any]]:
    """The tokenizer, train and held-out windows, and the corpus facts for the recipe."""
    extra = list(extra_vocab_texts)
    tok = chartok.make_tokenizer(chartok.build_vocab(texts, min_count=min_count, extra_texts=extra))
    train_texts, held_texts = _split(texts, heldout, seed)
    train = _windows(tok, train_texts, max_len)
    corpus = {"texts": len(texts), "sha256": corpus_sha(texts), "extra_vocab_texts": len(extra)}
    corpus |= {"heldout_texts": len(held_texts), "train_windows": len(train)}
    corpus["train_tokens"] = int(sum(len(w) for w in train))
    logger.info("corpus: %s", corpus)
    return tok, train, _windows(tok, held_texts, max_len), corpus


def _config(
    vocab_size: int, layers: int, hidden: int, heads: int, intermediate: int | None, max_len: int
) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate or 4 * hidden,
        max_position_embeddings=max_len,  # fine-tuning reads at most this many tokens
        pad_token_id=0,
    )


@dataclass(frozen=True)
class _Budget:
    max_steps: int | None
    minutes: float | None
    warmup: float  # fraction of the budget
    lr: float
    checkpoint_every: float  # seconds
    log_every: float  # seconds

    def progress(self, state: _State) -> float:
        """Fraction of the budget used: the larger of steps and time."""
        parts = [0.0]
        if self.max_steps:
            parts.append(state.step / self.max_steps)
        if self.minutes:
            parts.append(state.seconds / (self.minutes * 60))
        return max(parts)

    def rate(self, state: _State) -> float:
        """Linear warmup over the first ``warmup`` of the budget, then linear decay to 0."""
        p = self.progress(state)
        warm = max(self.warmup, 1e-9)
        return self.lr * max(0.0, min((p + 1e-4) / warm, (1 - p) / max(1 - warm, 1e-9)))


def _split(texts: Sequence[str], heldout: int, seed: int) -> tuple[list[str], list[str]]:
    """A seeded held-out sample for the final MLM accuracy: ``heldout`` texts, at most 1% of
    the corpus (10% of a corpus under 1,000 texts, at most 10)."""
    n = min(heldout, max(len(texts) // 100, min(10, len(texts) // 10)))
    order = np.random.default_rng(seed).permutation(len(texts))
    held = {int(i) for i in order[:n]}
    return [t for i, t in enumerate(texts) if i not in held], [texts[i] for i in sorted(held)]


def _windows(tok: Any, texts: Sequence[str], max_len: int) -> list[np.ndarray]:
    """Each text's token ids cut into windows of ``max_len`` with [CLS] ... [SEP]."""
    cls, sep = tok.token_to_id(chartok.CLS), tok.token_to_id(chartok.SEP)
    tok.no_truncation()
    tok.no_padding()
    size = max_len - 2
    windows: list[np.ndarray] = []
    for start in range(0, len(texts), 10_000):
        chunk = [chartok.clean(t) for t in texts[start : start + 10_000]]
        for enc in tok.encode_batch(chunk, add_special_tokens=False):
            ids = enc.ids
            for at in range(0, max(len(ids), 1), size):
                piece = ids[at : at + size]
                if at == 0 or len(piece) >= MIN_WINDOW:
                    windows.append(np.array([cls, *piece, sep], dtype=np.int32))
    return windows


def _optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-6)


def mask_tokens(
    ids: torch.Tensor, attention: torch.Tensor, vocab_size: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: 15% of the real characters are targets; of those 80% become [MASK], 10% a
    random character, 10% stay. Returns ``(inputs, labels)``; labels are -100 off target."""
    n_special, dev = len(chartok.SPECIALS), ids.device
    chosen = (torch.rand(ids.shape, generator=gen, device=dev) < MASK_PROB) & (ids >= n_special)
    chosen &= attention.bool()
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    roll = torch.rand(ids.shape, generator=gen, device=dev)
    inputs = torch.where(chosen & (roll < 0.8), torch.full_like(ids, MASK_ID), ids)
    random_ids = torch.randint(n_special, vocab_size, ids.shape, generator=gen, device=dev)
    inputs = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), random_ids, inputs)
    return inputs, labels


def _collate(
    windows: Sequence[np.ndarray], vocab_size: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A padded, masked batch on ``gen``'s device (masking there keeps a GPU fed)."""
    ids, attention = chartok.pad_batch(windows)
    ids_t = torch.from_numpy(ids).to(gen.device, non_blocking=True)
    attention_t = torch.from_numpy(attention).to(gen.device, non_blocking=True)
    inputs, labels = mask_tokens(ids_t, attention_t, vocab_size, gen)
    return inputs, attention_t, labels


def _mlm_logits(
    model: BertForMaskedLM, inputs: torch.Tensor, attention: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Prediction-head logits at the target positions only, and their labels."""
    hidden = model.bert(input_ids=inputs, attention_mask=attention).last_hidden_state
    targets = labels != -100
    return model.cls(hidden[targets]), labels[targets]


def _train(
    model: BertForMaskedLM,
    optimizer: torch.optim.Optimizer,
    windows: Sequence[np.ndarray],
    state: _State,
    budget: _Budget,
    batch_size: int,
    seed: int,
    dev: torch.device,
    save: Callable[[_State], None],
) -> None:
    model.train()
    vocab = model.config.vocab_size
    lengths = [len(w) for w in windows]
    start = last_log = last_save = time.monotonic()
    done_before = state.seconds
    while budget.progress(state) < 1:
        rng = np.random.default_rng([seed, state.epoch])
        gen = torch.Generator(dev).manual_seed(seed * 1_000_003 + state.epoch)
        batches = chartok.bucketed_batches(lengths, batch_size, rng)
        for index, batch in enumerate(batches):
            inputs, attention, labels = _collate([windows[i] for i in batch], vocab, gen)
            if index < state.batch:
                continue  # resumed: replay the masking draws, skip the batches already done
            state.tokens += sum(lengths[i] for i in batch)
            _step(model, optimizer, budget.rate(state), inputs, attention, labels, state)
            state.batch = index + 1
            now = time.monotonic()
            state.seconds = done_before + now - start
            if now - last_log >= budget.log_every:
                _log(state, budget)
                last_log = now
            if now - last_save >= budget.checkpoint_every:
                save(state)
                last_save = now
            if budget.progress(state) >= 1:
                break
        else:
            state.epoch, state.batch = state.epoch + 1, 0
    _log(state, budget)


def _step(
    model: BertForMaskedLM,
    optimizer: torch.optim.Optimizer,
    rate: float,
    inputs: torch.Tensor,
    attention: torch.Tensor,
    labels: torch.Tensor,
    state: _State,
) -> None:
    for group in optimizer.param_groups:
        group["lr"] = rate
    with autocast(inputs.device):
        logits, targets = _mlm_logits(model, inputs, attention, labels)
    loss = F.cross_entropy(logits.float(), targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    state.step += 1
    state.losses = [*state.losses[-99:], float(loss.detach())]


def _log(state: _State, budget: _Budget) -> None:
    loss = sum(state.losses) / max(len(state.losses), 1)
    rate = state.tokens / max(state.seconds, 1e-9)
    logger.info(
        "step %d epoch %d: %.0f tokens/s, loss %.3f, lr %.2e, %.0f%% of budget",
        state.step,
        state.epoch,
        rate,
        loss,
        budget.rate(state),
        100 * budget.progress(state),
    )


@torch.inference_mode()
def mlm_accuracy(
    model: BertForMaskedLM,
    windows: Sequence[np.ndarray],
    batch_size: int,
    seed: int,
    dev: torch.device,
) -> float:
    """Share of masked held-out characters predicted exactly (masking fixed by ``seed``)."""
    if not windows:
        return math.nan
    model.eval()
    gen = torch.Generator(dev).manual_seed(seed + 7)
    correct = total = 0
    for batch in chartok.sorted_batches([len(w) for w in windows], batch_size):
        inputs, attention, labels = _collate(
            [windows[i] for i in batch], model.config.vocab_size, gen
        )
        with autocast(dev):
            logits, targets = _mlm_logits(model, inputs, attention, labels)
        correct += int((logits.argmax(-1) == targets).sum())
        total += len(targets)
    model.train()
    return correct / total if total else math.nan


def _save_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    fingerprint: str,
    state: _State,
) -> None:
    tmp = path.with_suffix(".tmp")
    payload: dict[str, Any] = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
    payload["fingerprint"] = fingerprint
    payload["rng"] = torch.get_rng_state()  # dropout draws: a resumed run continues exactly
    if torch.cuda.is_available():
        payload["cuda_rng"] = torch.cuda.get_rng_state_all()
    torch.save(payload | {"state": asdict(state)}, tmp)
    os.replace(tmp, path)  # atomic: an interrupted save leaves the previous checkpoint
    logger.info("checkpoint at step %d: %s", state.step, path)


def _load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    dev: torch.device,
    fingerprint: str,
) -> _State:
    payload = torch.load(path, map_location=dev, weights_only=True)
    if payload.get("fingerprint") != fingerprint:
        raise CheckpointMismatch(path)
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["rng"].cpu())
    if "cuda_rng" in payload and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in payload["cuda_rng"]])
    state = _State(**payload["state"])
    logger.info("resuming from step %d (%.0f s done): %s", state.step, state.seconds, path)
    return state


def _write_recipe(
    out: Path,
    args: dict[str, Any],
    corpus: dict[str, Any],
    state: _State,
    accuracy: float,
    model: BertForMaskedLM,
    dev: torch.device,
) -> None:
    import tokenizers
    import transformers

    recipe = {
        "kind": "mlm-pretrain",
        "args": args,
        "corpus": corpus,
        "vocab_size": model.config.vocab_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": state.step,
        "epoch": state.epoch,
        "batches_into_epoch": state.batch,
        "tokens": state.tokens,
        "wall_seconds": round(state.seconds, 1),
        "tokens_per_second": round(state.tokens / max(state.seconds, 1e-9), 1),
        "final_loss": sum(state.losses) / max(len(state.losses), 1),
        "heldout_mlm_accuracy": None if math.isnan(accuracy) else accuracy,
        "device": str(dev) if dev.type == "cpu" else torch.cuda.get_device_name(dev),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
        },
    }
    (out / "recipe.json").write_text(json.dumps(recipe, ensure_ascii=False, indent=2) + "\n")
