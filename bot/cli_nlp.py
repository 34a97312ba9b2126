"""``tingfeng nlp``: pretrain, train, evaluate and try the NLP models.

Recipes are reproducible: every command takes a seed, writes what it did into the model folder
(``recipe.json``, or the config inside a linear ``.npz``) and reads labelled data only from
``nlp.data_dir`` (``../shared/data`` by default), through ``nlp.datasets``.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import click

from bot.cli_common import Context, clean
from crawlers.errors import ConfigError

logger = logging.getLogger(__name__)

BACKENDS = ("linear", "onnx", "ensemble", "transformer", "lexicon")
TRAINABLE = ("review", "sentiment", "emotion", "topic")


@click.group()
def nlp() -> None:
    """Pretrain, train and evaluate the NLP models (sentiment, emotion, topic)."""


def _data_dir(obj: Context, data_dir: Path | None) -> Path:
    from nlp.datasets import default_data_dir

    if data_dir is not None:
        return data_dir
    if obj.settings.nlp.data_dir:
        return Path(obj.settings.nlp.data_dir).expanduser()
    return default_data_dir()


@nlp.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/models/pretrained"))
@click.option("--layers", type=int, default=4, show_default=True)
@click.option("--hidden", type=int, default=256, show_default=True)
@click.option("--heads", "attn_heads", type=int, default=4, show_default=True)
@click.option("--max-len", type=int, default=128, show_default=True)
@click.option("--batch-size", type=int, default=128, show_default=True)
@click.option("--lr", type=float, default=5e-4, show_default=True)
@click.option("--minutes", type=float, default=None, help="Time budget (stops cleanly).")
@click.option("--steps", type=int, default=None, help="Step budget.")
@click.option("--limit", type=int, default=None, help="Use at most this many corpus posts.")
@click.option("--threads", type=int, default=None, help="CPU threads (default: nlp.threads).")
@click.option("--seed", type=int, default=13, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --out.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.pass_obj
def pretrain(
    obj: Context,
    out: Path,
    layers: int,
    hidden: int,
    attn_heads: int,
    max_len: int,
    batch_size: int,
    lr: float,
    minutes: float | None,
    steps: int | None,
    limit: int | None,
    threads: int | None,
    seed: int,
    resume: bool,
    data_dir: Path | None,
) -> None:
    """Pretrain our char-level Chinese BERT with masked-language modelling on unlabeled Weibo.

    Test texts of every evaluation task are removed from the corpus first; the labelled training
    texts join the vocabulary (they carry emoji the unlabeled corpus lost).
    """
    from nlp.datasets import head_data, test_texts
    from nlp.transformer.corpus import load_corpus
    from nlp.transformer.pretrain import pretrain as run_pretrain

    if minutes is None and steps is None:
        raise ConfigError(["nlp pretrain: give a budget, --minutes M or --steps N"])
    root = _data_dir(obj, data_dir)
    exclude = test_texts(root)
    extra = [ex.text for head in TRAINABLE for part in head_data(head, root) for ex in part]
    corpus = root / "unlabeled" / "weibo_covid2020.csv.gz"
    if not corpus.is_file():
        raise ConfigError([f"nlp pretrain: no corpus at {corpus}; set nlp.data_dir or --data-dir"])
    # task-adaptive: the labelled training texts (never test texts) join the corpus
    texts = load_corpus(corpus, exclude=exclude, extra=extra, seed=seed, limit=limit)
    click.echo(f"corpus: {len(texts)} posts (after removing {len(exclude)} test texts)")
    run_pretrain(
        texts,
        out,
        layers=layers,
        hidden=hidden,
        heads=attn_heads,
        intermediate=hidden * 4,
        max_len=max_len,
        batch_size=batch_size,
        lr=lr,
        max_steps=steps,
        minutes=minutes,
        seed=seed,
        threads=threads or obj.settings.nlp.threads,
        extra_vocab_texts=extra,
        resume=resume,
    )
    recipe = json.loads((out / "recipe.json").read_text(encoding="utf-8"))
    keep = ("parameters", "steps", "tokens", "wall_seconds", "heldout_mlm_accuracy")
    summary = {k: v for k, v in recipe.items() if k in keep} or recipe
    click.echo(f"pretrained model in {out}: " + json.dumps(summary, ensure_ascii=False))


@nlp.command()
@click.option("--backend", type=click.Choice(["linear", "transformer"]), default="linear")
@click.option("--head", "heads", multiple=True, type=click.Choice(TRAINABLE), help="Default: all.")
@click.option(
    "--base",
    type=click.Path(path_type=Path),
    default=Path("var/models/pretrained"),
    show_default=True,
    help="transformer: the pretrained folder (ours, or any Hugging Face BERT-style folder).",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output folder.")
@click.option("--epochs", type=int, default=4, show_default=True)
@click.option("--lr", type=float, default=1e-4, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--max-len", type=int, default=128, show_default=True)
@click.option("--threads", type=int, default=None)
@click.option("--seed", type=int, default=13, show_default=True)
@click.option(
    "--split-seed",
    type=int,
    default=None,
    help="transformer: seed of the train/validation split (default: --seed), so that "
    "fine-tuning seeds can vary on one split.",
)
@click.option("--onnx/--no-onnx", default=True, help="transformer: also export ONNX int8.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.pass_obj
def train(
    obj: Context,
    backend: str,
    heads: tuple[str, ...],
    base: Path,
    out: Path | None,
    epochs: int,
    lr: float,
    batch_size: int,
    max_len: int,
    threads: int | None,
    seed: int,
    split_seed: int | None,
    onnx: bool,
    data_dir: Path | None,
) -> None:
    """Train the heads (linear, or fine-tune a transformer and export it to ONNX int8)."""
    from nlp.classifier import MODEL_DIR
    from nlp.datasets import head_data
    from nlp.heads import HEADS

    root = _data_dir(obj, data_dir)
    wanted = heads or TRAINABLE
    if backend == "linear":
        from nlp.linear import train_linear

        target = out or MODEL_DIR / "linear"
        for head in wanted:
            report = train_linear(head, root, target, seed=seed)
            click.echo(f"{head}: " + json.dumps(report, ensure_ascii=False, default=str))
        return
    from nlp.transformer.export import export_onnx
    from nlp.transformer.finetune import finetune

    if not base.exists():
        raise ConfigError(
            [f"--base {base}: no such folder; run `tingfeng nlp pretrain` or give a model folder"]
        )
    target = out or Path("var/models/finetuned")
    for head in wanted:
        tr, val = head_data(head, root, seed=seed if split_seed is None else split_seed)
        finetune(
            base,
            head,
            list(HEADS[head]),
            [(e.text, e.label) for e in tr],
            [(e.text, e.label) for e in val],
            target / head,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            max_len=max_len,
            seed=seed,
            threads=threads or obj.settings.nlp.threads,
        )
        recipe = json.loads((target / head / "recipe.json").read_text(encoding="utf-8"))
        click.echo(f"{head}: " + json.dumps(recipe.get("val", recipe), ensure_ascii=False))
        if onnx:
            onnx_dir = target.parent / (target.name + "-onnx") / head
            info = export_onnx(target / head, onnx_dir, quantize=True)
            click.echo(
                f"{head} onnx int8: {info.path} {info.onnx_bytes / 1e6:.1f} MB "
                f"(fp32 {info.fp32_bytes / 1e6:.1f} MB), argmax agreement {info.agreement:.3f}"
            )


@nlp.command(name="eval")
@click.option("--backend", type=click.Choice(BACKENDS), default=None, help="Default: nlp.model.")
@click.option("--model-dir", type=click.Path(path_type=Path), default=None)
@click.option("--task", "tasks", multiple=True, help="Tasks (default: all four).")
@click.option(
    "--data", "data_file", type=click.Path(path_type=Path), default=None, help="{text,label} JSONL."
)
@click.option("--head", default=None, help="--data: the head whose labels the file uses.")
@click.option("--baseline", is_flag=True, help="Also train and score the TF-IDF baseline.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object {task: {accuracy, ...}}.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.pass_obj
def eval_(
    obj: Context,
    backend: str | None,
    model_dir: Path | None,
    tasks: tuple[str, ...],
    data_file: Path | None,
    head: str | None,
    baseline: bool,
    as_json: bool,
    data_dir: Path | None,
) -> None:
    """Accuracy and macro-F1 per task, with confusion matrices, on the untouched test splits."""
    from nlp.datasets import TASKS, load_jsonl, load_task
    from nlp.evaluate import baseline as run_baseline
    from nlp.evaluate import evaluate_task, format_report

    settings = obj.settings
    backend = backend or settings.nlp.model
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ConfigError([f"--task {t}: no such task; known: {', '.join(TASKS)}" for t in unknown])
    results: dict[str, dict[str, Any]] = {}
    baselines: dict[str, dict[str, Any]] = {}
    root = _data_dir(obj, data_dir)
    if data_file is not None:
        examples = load_jsonl(data_file)
        name = data_file.stem
        predictor = _predictor_for_labels(settings, backend, model_dir, examples, head)
        results[name] = _evaluate_examples(examples, predictor)
    else:
        for task_name in tasks or TASKS:
            task = load_task(task_name, root)
            started = time.perf_counter()
            predictor = _predictor(settings, backend, model_dir, task.head)
            results[task_name] = evaluate_task(task, predictor)
            results[task_name]["seconds"] = round(time.perf_counter() - started, 2)
            if baseline:
                baselines[task_name] = run_baseline(task_name, root)
    if as_json:
        out = {
            name: {k: r[k] for k in ("accuracy", "macro_f1", "n")}
            | (
                {"baseline": {k: baselines[name][k] for k in ("accuracy", "macro_f1", "n")}}
                if name in baselines
                else {}
            )
            for name, r in results.items()
        }
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    click.echo(format_report(results, baselines or None))


def _evaluate_examples(examples: list[Any], predictor: Any) -> dict[str, Any]:
    from nlp.evaluate import metrics
    from nlp.heads import argmax_labels

    proba = predictor.predict_proba([e.text for e in examples])
    pred = argmax_labels(proba, predictor.labels)
    return metrics([e.label for e in examples], pred, list(predictor.labels))


def _predictor_for_labels(
    settings: Any, backend: str, model_dir: Path | None, examples: list[Any], head: str | None
) -> Any:
    from nlp.heads import HEADS

    used = {e.label for e in examples}
    if head is None:
        fits = [h for h, labels in HEADS.items() if used <= set(labels)]
        if not fits:
            raise ConfigError(
                [
                    f"--data: labels {sorted(used)} match no head; the heads use "
                    + "; ".join(f"{h}: {', '.join(labels)}" for h, labels in HEADS.items())
                ]
            )
        head = fits[0]
    elif head not in HEADS or not used <= set(HEADS[head]):
        raise ConfigError([f"--head {head}: labels {sorted(used)} are not all among its labels"])
    return _predictor(settings, backend, model_dir, head)


def _predictor(settings: Any, backend: str, model_dir: Path | None, head: str) -> Any:
    from nlp.classifier import BlendedHead, load_head

    predictor = load_head(settings, head, backend, model_dir)
    if head == "sentiment" and backend != "lexicon" and settings.nlp.lexicon_blend:
        return BlendedHead(predictor, settings)  # what the labeller uses
    return predictor


@nlp.command()
@click.argument("texts", nargs=-1, required=True)
@click.pass_obj
def predict(obj: Context, texts: tuple[str, ...]) -> None:
    """Label the given texts with the configured model and print the labels."""
    from nlp.classifier import make_classifier

    clf = make_classifier(obj.settings)
    click.echo(f"model {clf.version}")
    for text, lab in zip(texts, clf.predict(list(texts)), strict=True):
        click.echo(f"- {clean(text, 60)}")
        parts = [f"sentiment {lab.sentiment} ({lab.sentiment_score:.2f})"]
        if lab.emotion:
            parts.append(f"emotion {lab.emotion} ({lab.emotion_score:.2f})")
        if lab.topic:
            parts.append(f"topic {lab.topic} ({lab.topic_score:.2f})")
        parts.append("interests " + (", ".join(lab.interests) or "-"))
        parts.append("intents " + (", ".join(lab.intents) or "-"))
        if lab.stages:
            parts.append("5A " + ", ".join(f"{b}: {s}" for b, s in lab.stages.items()))
        if lab.spam_reasons:
            parts.append(f"spam {lab.spam_score:.2f} ({', '.join(lab.spam_reasons)})")
        if not lab.labellable:
            parts.append("unlabellable (nothing to read)")
        parts.append("keywords " + (", ".join(lab.keywords) or "-"))
        click.echo("  " + "; ".join(clean(p) for p in parts))
