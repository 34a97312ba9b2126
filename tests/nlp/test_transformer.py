"""The transformer backend end to end on tiny models built here: vocabulary, MLM pretraining
(and resuming it), fine-tuning on a separable toy task, ONNX int8 export, both runtimes.

Nothing is downloaded and ../shared is not read; one thread, so the module stays well under a
minute on the 2-core box.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")

from transformers import (  # noqa: E402
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

from nlp.heads import HeadPredictor  # noqa: E402
from nlp.transformer import ModelMissing, OnnxHead, TorchHead, load_head  # noqa: E402
from nlp.transformer import pretrain as pretrain_mod  # noqa: E402
from nlp.transformer import tokenizer as chartok  # noqa: E402
from nlp.transformer.corpus import load_corpus  # noqa: E402
from nlp.transformer.export import export_onnx  # noqa: E402
from nlp.transformer.finetune import finetune  # noqa: E402
from nlp.transformer.runtime import UnknownLabels  # noqa: E402

torch.set_num_threads(1)

LABELS = ("negative", "positive")
FILLER = "我们今天去了那家店感觉东西还是"
TINY: dict[str, Any] = {"layers": 1, "hidden": 32, "heads": 2, "max_len": 32, "batch_size": 16}


def toy(n: int, seed: int) -> list[tuple[str, str]]:
    """Filler characters around one cue: 好/棒 -> positive, 差/烂 -> negative."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        label = LABELS[i % 2]
        chars = [rnd.choice(FILLER) for _ in range(rnd.randint(3, 12))]
        chars.insert(
            rnd.randint(0, len(chars)), rnd.choice("好棒" if label == "positive" else "差烂")
        )
        out.append(("".join(chars), label))
    rnd.shuffle(out)
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("transformer")
    data = toy(360, seed=1)
    pretrain_mod.pretrain(
        [t for t, _ in data], root / "base", lr=1e-3, max_steps=20, seed=0, threads=1,
        vocab_min_count=1, extra_vocab_texts=["👍"], **TINY,
    )  # fmt: skip
    finetune(
        root / "base", "review", LABELS, data[:300], data[300:], root / "ft",
        epochs=4, lr=3e-3, batch_size=16, max_len=32, seed=0, threads=1,
    )  # fmt: skip
    report = export_onnx(root / "ft", root / "onnx")
    assert report.agreement == 1.0
    assert report.onnx_bytes < report.fp32_bytes  # int8 weights
    return {"base": root / "base", "ft": root / "ft", "onnx": root / "onnx"}


@pytest.fixture(scope="module")
def heads(models: dict[str, Path]) -> dict[str, HeadPredictor]:
    return {"onnx": OnnxHead(models["onnx"]), "torch": TorchHead(models["ft"], device="cpu")}


def test_vocab_is_per_character_and_loads_with_autotokenizer(tmp_path: Path) -> None:
    vocab = chartok.build_vocab(["今天天气好 ABC12", "天气差"], min_count=2, extra_texts=["😀天"])
    # specials, 天 and 气 (seen twice), then 😀 from the extra texts; 今/好/a/b/c/1/2 only once
    assert list(vocab) == [*chartok.SPECIALS, "天", "气", "😀"]
    tok = chartok.make_tokenizer(chartok.build_vocab(["Ab12 天气"], min_count=1))
    # one token per digit and per lowercased letter; the space is not a token
    assert tok.encode("AB12天").tokens == ["[CLS]", "a", "b", "1", "2", "天", "[SEP]"]
    chartok.save(tok, tmp_path, max_len=16)
    auto = AutoTokenizer.from_pretrained(str(tmp_path))
    assert auto.vocab_size == tok.get_vocab_size() == 11
    assert auto("ab天")["input_ids"] == tok.encode("ab天").ids


def test_mask_tokens_targets_only_real_characters() -> None:
    ids = torch.randint(5, 50, (64, 100))
    ids[:, 0], ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    attention = torch.ones_like(ids)
    attention[:, 80:] = 0
    inputs, labels = pretrain_mod.mask_tokens(ids, attention, 50, torch.Generator().manual_seed(0))
    targets = labels != -100
    assert not targets[:, 0].any() and not targets[:, 80:].any()
    assert 0.13 < targets[:, 1:80].float().mean() < 0.17
    assert (labels[targets] == ids[targets]).all()
    assert 0.75 < (inputs[targets] == 4).float().mean() < 0.85  # [MASK]
    assert (inputs[~targets] == ids[~targets]).all()


def test_pretrain_writes_an_hf_dir_with_its_recipe(models: dict[str, Path]) -> None:
    recipe = json.loads((models["base"] / "recipe.json").read_text())
    assert recipe["steps"] == 20 and recipe["tokens"] > 0
    assert recipe["args"]["layers"] == 1 and recipe["corpus"]["texts"] == 360
    assert len(recipe["corpus"]["sha256"]) == 64 and "torch" in recipe["versions"]
    assert 0 <= recipe["heldout_mlm_accuracy"] <= 1
    model = AutoModelForMaskedLM.from_pretrained(str(models["base"]))
    tok = AutoTokenizer.from_pretrained(str(models["base"]))
    assert model.config.vocab_size == tok.vocab_size == recipe["vocab_size"]
    assert "👍" in tok.get_vocab()  # from extra_vocab_texts
    assert not (models["base"] / pretrain_mod.CHECKPOINT).exists()


def test_an_interrupted_pretraining_resumes_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [t for t, _ in toy(64, seed=2)]
    args: dict[str, Any] = {
        "max_steps": 6,
        "seed": 3,
        "threads": 1,
        "vocab_min_count": 1,
        "heldout": 0,
    } | TINY
    whole = pretrain_mod.pretrain(texts, tmp_path / "whole", **args)
    real_step, calls = pretrain_mod._step, []

    def step_then_crash(*a: object, **k: object) -> None:
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # after three steps, each checkpointed
        real_step(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(pretrain_mod, "_step", step_then_crash)
    with pytest.raises(KeyboardInterrupt):
        pretrain_mod.pretrain(texts, tmp_path / "cut", checkpoint_minutes=0, **args)
    with pytest.raises(pretrain_mod.CheckpointMismatch):
        pretrain_mod.pretrain(texts[1:], tmp_path / "cut", resume=True, **args)
    calls.clear()
    resumed = pretrain_mod.pretrain(texts, tmp_path / "cut", resume=True, **args)
    assert len(calls) == 3  # steps 4-6 only
    assert json.loads((tmp_path / "cut" / "recipe.json").read_text())["steps"] == 6
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name


def test_finetune_learns_the_toy_task(models: dict[str, Path]) -> None:
    recipe = json.loads((models["ft"] / "recipe.json").read_text())
    assert len(recipe["epochs"]) == 4 and recipe["val"]["accuracy"] >= 0.9
    model = AutoModelForSequenceClassification.from_pretrained(str(models["ft"]))
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert AutoTokenizer.from_pretrained(str(models["ft"])).vocab_size == model.config.vocab_size


def test_a_wordpiece_bert_dir_fine_tunes_exports_and_runs(tmp_path: Path) -> None:
    # any BERT-like HF dir on disk works as a base, not only ours (here a WordPiece vocab)
    from transformers import BertConfig, BertModel, BertTokenizerFast

    chars = sorted(set(FILLER + "好棒差烂"))
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars])}
    BertTokenizerFast(vocab=vocab).save_pretrained(str(tmp_path / "base"))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(tmp_path / "base")
    data = toy(120, seed=4)
    finetune(tmp_path / "base", "review", LABELS, data[:100], data[100:], tmp_path / "ft", epochs=1)
    assert export_onnx(tmp_path / "ft", tmp_path / "onnx").agreement == 1.0
    proba = OnnxHead(tmp_path / "onnx").predict_proba(["", "好", "x" * 500])
    assert proba.shape == (3, 2) and np.isfinite(proba).all()


def test_finetune_rejects_labels_outside_the_head(models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(UnknownLabels, match="neutral"):
        finetune(models["base"], "review", LABELS, [("好", "neutral")], [], tmp_path, epochs=1)


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_heads_score_unseen_toy_texts(heads: dict[str, HeadPredictor], backend: str) -> None:
    head = heads[backend]
    assert isinstance(head, HeadPredictor)
    assert head.head == "review" and head.labels == LABELS
    assert head.version.startswith(f"{backend}-") and len(head.version) == len(backend) + 11
    texts, gold = zip(*toy(100, seed=9), strict=True)
    proba = head.predict_proba(texts)
    assert proba.shape == (100, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert np.mean([LABELS[i] == g for i, g in zip(proba.argmax(1), gold, strict=True)]) >= 0.9


def test_onnx_and_torch_agree(heads: dict[str, HeadPredictor]) -> None:
    texts = [t for t, _ in toy(100, seed=5)]
    onnx, torch_ = heads["onnx"].predict_proba(texts), heads["torch"].predict_proba(texts)
    assert (onnx.argmax(1) == torch_.argmax(1)).all()
    assert np.abs(onnx - torch_).max() < 0.05  # int8 weights


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_padding_does_not_change_a_result(heads: dict[str, HeadPredictor], backend: str) -> None:
    # the ONNX graph was traced on one shape: padded batches of other shapes must still mask
    alone = heads[backend].predict_proba(["店里东西很好"])[0]
    batched = heads[backend].predict_proba(["差" * 40, "店里东西很好", "烂"])[1]
    assert np.abs(alone - batched).max() < 0.01


BAD_INPUTS = [
    "",  # read as [CLS] [SEP]
    "😀🎉👍",  # only emoji
    "好" * 10_000,  # cut to max_len
    "日本語のテキストと English words 混在",  # mixed scripts, Latin lowercased
    "\udcff",  # a lone surrogate (from a broken UTF-16 decode) cannot be UTF-8 encoded
    "\x00",  # NUL
    "\ud83d\ude00",  # a surrogate pair spelled as two code points
    "   \n\t",  # whitespace only
]


@pytest.mark.parametrize("backend", ["onnx", "torch"])
@pytest.mark.parametrize("text", BAD_INPUTS)
def test_any_text_gets_one_row(heads: dict[str, HeadPredictor], backend: str, text: str) -> None:
    proba = heads[backend].predict_proba([text])
    assert proba.shape == (1, 2) and np.isfinite(proba).all()


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_batches_keep_input_order(heads: dict[str, HeadPredictor], backend: str) -> None:
    head = heads[backend]
    together = head.predict_proba(BAD_INPUTS)
    one_by_one = np.vstack([head.predict_proba([t]) for t in BAD_INPUTS])
    assert together.shape == (len(BAD_INPUTS), 2)
    assert np.abs(together - one_by_one).max() < 0.01
    assert head.predict_proba([]).shape == (0, 2)


def test_load_head_picks_the_backend(models: dict[str, Path], tmp_path: Path) -> None:
    assert isinstance(load_head(models["onnx"]), OnnxHead)
    assert isinstance(load_head(models["ft"]), TorchHead)
    with pytest.raises(ModelMissing, match="tingfeng nlp train"):
        load_head(models["ft"], backend="onnx")
    with pytest.raises(ModelMissing):
        load_head(tmp_path)


def test_onnx_inference_never_imports_torch(models: dict[str, Path]) -> None:
    code = (
        "import sys\n"
        "from nlp.transformer import load_head\n"
        f"p = load_head({str(models['onnx'])!r}).predict_proba(['好', ''])\n"
        "assert p.shape == (2, 2), p.shape\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_corpus_is_cleaned_deduplicated_and_seeded(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv.gz"
    rows = [
        ("2020-1-19", "1", "#冠状病毒# 武汉加油 http://t.cn/abc"),
        ("2020-1-19", "2", "#冠状病毒#  武汉加油"),  # the same model text as row 1
        ("2020-1-19", "3", "短"),  # too short
        ("2020-1-20", "4", "这是测试集里的句子"),  # excluded
        ("2020-1-20", "5", "多行的\n微博正文也要读到"),
    ]
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["date", "userid", "text"])
        writer.writerows(rows)
    texts = load_corpus(path, exclude={"这是测试集里的句子"}, extra=["额外的标注文本"], seed=1)
    assert sorted(texts) == sorted(
        ["冠状病毒 武汉加油", "多行的 微博正文也要读到", "额外的标注文本"]
    )
    assert texts == load_corpus(
        path, exclude={"这是测试集里的句子"}, extra=["额外的标注文本"], seed=1
    )
    assert len(load_corpus(path, limit=1)) == 1


def test_train_split_seed_keeps_the_split_while_the_seed_varies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nlp train --seed 15 --split-seed 13`: fine-tuning seed 15 on the seed-13 split (how the
    GPU-trained heads were chosen among seeds on one validation set)."""
    from click.testing import CliRunner

    import nlp.datasets
    import nlp.transformer.finetune as finetune_mod
    from bot.cli import cli

    seen: dict[str, int] = {}

    def fake_head_data(head: str, root: Path, seed: int = 13, **_: Any) -> Any:
        seen["split"] = seed
        return [], []

    def fake_finetune(base: Path, head: str, *args: Any, **kwargs: Any) -> None:
        seen["finetune"] = kwargs["seed"]
        out = Path(args[3])
        out.mkdir(parents=True)
        (out / "recipe.json").write_text('{"val": {}}')

    monkeypatch.setattr(nlp.datasets, "head_data", fake_head_data)
    monkeypatch.setattr(finetune_mod, "finetune", fake_finetune)
    args = ["nlp", "train", "--backend", "transformer", "--head", "emotion", "--no-onnx"]
    args += ["--base", str(tmp_path), "--data-dir", str(tmp_path), "--seed", "15"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a"), "--split-seed", "13"])
    assert result.exit_code == 0, result.output
    assert seen == {"split": 13, "finetune": 15}
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert seen == {"split": 15, "finetune": 15}  # without --split-seed: --seed for both
