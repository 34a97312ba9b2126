"""Fine-tune a pretrained encoder on one head: ours, or any BERT-like HF model dir on disk.

Texts are raw; each is read through ``model_text`` as at inference. The epoch with the best
validation macro-F1 is kept (macro, not accuracy: the emotion and sentiment heads are skewed).
The output dir is a standard HF classification model with ``id2label`` in ``labels`` order,
plus ``head.json`` (what the runtime needs) and ``recipe.json`` (how it was made).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from nlp.normalize import model_text
from nlp.transformer import tokenizer as chartok
from nlp.transformer.pretrain import autocast, pick_device
from nlp.transformer.runtime import HEAD_FILE, UnknownLabels

logger = logging.getLogger(__name__)


class _Example(Protocol):
    text: str
    label: str


#: A training example: ``(text, label)``, or anything with ``.text`` and ``.label``
#: (``nlp.datasets.Example``).
Pair = tuple[str, str] | _Example


def finetune(
    base_dir: str | Path,
    head: str,
    labels: Sequence[str],
    train: Sequence[Pair],
    val: Sequence[Pair],
    out_dir: str | Path,
    *,
    epochs: int = 5,
    lr: float = 1e-4,
    batch_size: int = 32,
    max_len: int = 128,
    seed: int = 0,
    threads: int | None = None,
    device: str = "auto",
    warmup: float = 0.1,
    weight_decay: float = 0.01,
) -> PreTrainedModel:
    """Train a classifier for ``head`` from ``base_dir`` on ``(text, label)`` pairs; keep the
    epoch with the best ``val`` macro-F1; write an HF model dir to ``out_dir``."""
    args = {k: v for k, v in locals().items() if k not in {"train", "val", "labels"}}
    args |= {"base_dir": str(base_dir), "out_dir": str(out_dir), "labels": list(labels)}
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    dev = pick_device(device)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base_dir),
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        ignore_mismatched_sizes=True,  # a base that is itself a classifier gets a new head
    ).to(dev)
    max_len = min(max_len, model.config.max_position_embeddings)
    x_train, y_train = _encode(tokenizer, train, labels, max_len)
    x_val, y_val = _encode(tokenizer, val, labels, max_len)
    pad_id = tokenizer.pad_token_id or 0
    history, best = _fit(
        model, x_train, y_train, x_val, y_val, pad_id, epochs, lr, batch_size, seed, warmup,
        weight_decay, dev,
    )  # fmt: skip
    if best is not None:
        model.load_state_dict(best)
    _save(model, tokenizer, Path(out_dir), head, labels, max_len, args, history, dev)
    return model


def _encode(
    tokenizer: Any, examples: Sequence[Pair], labels: Sequence[str], max_len: int
) -> tuple[list[list[int]], np.ndarray]:
    pairs = [e if isinstance(e, tuple) else (e.text, e.label) for e in examples]
    index = {name: i for i, name in enumerate(labels)}
    unknown = {label for _, label in pairs} - index.keys()
    if unknown:
        raise UnknownLabels(sorted(unknown), labels)
    texts = [model_text(chartok.clean(text)) for text, _ in pairs]
    ids = tokenizer(texts, truncation=True, max_length=max_len)["input_ids"] if texts else []
    return list(ids), np.array([index[label] for _, label in pairs], dtype=np.int64)


def _fit(
    model: PreTrainedModel,
    x_train: list[list[int]],
    y_train: np.ndarray,
    x_val: list[list[int]],
    y_val: np.ndarray,
    pad_id: int,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    warmup: float,
    weight_decay: float,
    dev: torch.device,
) -> tuple[list[dict[str, float]], dict[str, torch.Tensor] | None]:
    """Train ``epochs`` epochs; the per-epoch scores and the best epoch's weights."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    lengths = [len(x) for x in x_train]
    total = max(1, epochs * -(-len(x_train) // batch_size))
    history: list[dict[str, float]] = []
    best: dict[str, torch.Tensor] | None = None
    step = 0
    for epoch in range(1, epochs + 1):
        started, losses = time.monotonic(), []
        model.train()
        for batch in chartok.bucketed_batches(lengths, batch_size, rng):
            rate = _rate(step, total, warmup, lr)
            losses.append(_step(model, optimizer, rate, x_train, y_train, batch, pad_id, dev))
            step += 1
        scores = _scores(model, x_val, y_val, pad_id, batch_size, dev)
        scores |= {"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else float("nan")}
        scores["seconds"] = round(time.monotonic() - started, 1)
        logger.info("epoch %d: %s", epoch, scores)
        if x_val and scores["macro_f1"] > max((h["macro_f1"] for h in history), default=-1.0):
            best = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        history.append(scores)
    return history, best  # best is None without validation data: the last epoch is kept


def _rate(step: int, total: int, warmup: float, lr: float) -> float:
    """Linear warmup over the first ``warmup`` of the steps, then linear decay to 0."""
    warm = max(1.0, warmup * total)
    return lr * max(0.0, min((step + 1) / warm, (total - step) / max(1.0, total - warm)))


def _step(
    model: PreTrainedModel,
    optimizer: torch.optim.Optimizer,
    rate: float,
    x: list[list[int]],
    y: np.ndarray,
    batch: list[int],
    pad_id: int,
    dev: torch.device,
) -> float:
    for group in optimizer.param_groups:
        group["lr"] = rate
    ids, attention = chartok.pad_batch([x[i] for i in batch], pad_id)
    with autocast(dev):
        logits = model(
            input_ids=torch.from_numpy(ids).to(dev),
            attention_mask=torch.from_numpy(attention).to(dev),
        ).logits
    loss = F.cross_entropy(logits.float(), torch.from_numpy(y[batch]).to(dev))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return float(loss.detach())


@torch.inference_mode()
def predict_logits(
    model: PreTrainedModel,
    rows: Sequence[Sequence[int]],
    pad_id: int,
    batch_size: int,
    dev: torch.device,
) -> np.ndarray:
    """Float32 logits, one row per token-id row, in input order (batched by length)."""
    model.eval()
    out = np.zeros((len(rows), model.config.num_labels or 0), dtype=np.float32)
    for batch in chartok.sorted_batches([len(r) for r in rows], batch_size):
        ids, attention = chartok.pad_batch([rows[i] for i in batch], pad_id)
        with autocast(dev):
            logits = model(
                input_ids=torch.from_numpy(ids).to(dev),
                attention_mask=torch.from_numpy(attention).to(dev),
            ).logits
        out[batch] = logits.float().cpu().numpy()
    return out


def _scores(
    model: PreTrainedModel,
    x: list[list[int]],
    y: np.ndarray,
    pad_id: int,
    batch_size: int,
    dev: torch.device,
) -> dict[str, float]:
    if not x:
        return {}
    pred = predict_logits(model, x, pad_id, batch_size * 2, dev).argmax(axis=1)
    classes = list(range(model.config.num_labels or 0))
    return {
        "macro_f1": float(f1_score(y, pred, labels=classes, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y, pred)),
    }


def _save(
    model: PreTrainedModel,
    tokenizer: Any,
    out: Path,
    head: str,
    labels: Sequence[str],
    max_len: int,
    args: dict[str, Any],
    history: list[dict[str, float]],
    dev: torch.device,
) -> None:
    import transformers

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(str(out))
    positions = model.config.max_position_embeddings
    write_head_json(out, head, labels, max_len, positions, tokenizer.pad_token_id or 0)
    best = max(history, key=lambda h: h.get("macro_f1", 0.0)) if history else {}
    if history and "macro_f1" not in history[-1]:
        best = history[-1]
    recipe = {
        "kind": "finetune",
        "args": args,
        "epochs": history,
        "best_epoch": best.get("epoch"),
        "val": {k: best[k] for k in ("macro_f1", "accuracy") if k in best},
        "base_recipe": _read_json(Path(args["base_dir"]) / "recipe.json"),
        "device": str(dev),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    (out / "recipe.json").write_text(json.dumps(recipe, ensure_ascii=False, indent=2) + "\n")


def write_head_json(
    out: Path, head: str, labels: Sequence[str], max_len: int, max_positions: int, pad_id: int
) -> None:
    """What the runtime needs beside the weights: the head, its labels, the length caps."""
    info = {"head": head, "labels": list(labels), "max_len": max_len}
    info |= {"max_positions": max_positions, "pad_id": pad_id}
    (out / HEAD_FILE).write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None
