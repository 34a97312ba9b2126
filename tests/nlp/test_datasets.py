from __future__ import annotations

import csv
import json
import logging
import random
from pathlib import Path

import pytest

from nlp.datasets import (
    TASK_HEADS,
    TASKS,
    DataFormatError,
    DataMissing,
    Example,
    default_data_dir,
    head_data,
    load_jsonl,
    load_task,
)
from nlp.datasets import test_texts as all_test_texts
from nlp.heads import HEADS
from nlp.normalize import model_text

# Words that make each synthetic label learnable by a character n-gram model.
EMOTION_WORDS = {
    "happy": "开心快乐",
    "angry": "愤怒生气",
    "sad": "难过伤心",
    "fear": "害怕恐惧",
    "surprise": "惊讶意外",
    "neutral": "通知会议",
}
TOPIC_WORDS = ("股市", "楼盘", "基金", "高考", "芯片", "警方", "外交", "足球", "游戏", "电影")
REVIEW_WORDS = {0: "很差失望", 1: "很好满意"}
FILLER = "我们你他的了在是有这那就都也和"
#: The synthetic test text that the tiny data set also hides in virus_train (traditional
#: characters and a URL: equal after model_text, so the leak guard must catch it).
LEAKED_TEST = "好开心今天"
LEAKED_TRAIN = "好開心今天 http://t.cn/abc"


def _text(word: str, rng: random.Random) -> str:
    return "".join(rng.choice(FILLER) for _ in range(3)) + word + str(rng.randint(0, 10**6))


def write_tiny_data(root: Path, per_label: int = 20) -> Path:
    """A data folder laid out like ../shared/data, with small synthetic files."""
    rng = random.Random(7)
    smp, chn, thuc = (
        root / "sentiment/smp2020_ewect",
        root / "sentiment/chnsenticorp",
        root / "interest/thucnews_titles",
    )
    for folder in (smp, chn, thuc):
        folder.mkdir(parents=True, exist_ok=True)
    for name in ("usual_eval_labeled", "virus_train", "virus_eval_labeled", "usual_test_labeled"):
        rows = [
            {"id": i, "content": _text(word, rng), "label": label}
            for label, word in EMOTION_WORDS.items()
            for i in range(per_label)
        ]
        if name == "virus_train":
            rows.append({"id": 0, "content": LEAKED_TRAIN, "label": "happy"})
        (smp / f"{name}.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    virus_test = [{"id": 1, "content": LEAKED_TEST, "label": "happy"}]
    (smp / "virus_test_labeled.json").write_text(json.dumps(virus_test), encoding="utf-8")
    for split in ("train", "validation", "test"):
        lines = [
            json.dumps({"text": _text(word, rng), "label": label}, ensure_ascii=False)
            for label, word in REVIEW_WORDS.items()
            for _ in range(per_label)
        ]
        (chn / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (thuc / "class.txt").write_text("\n".join(HEADS["topic"]) + "\n", encoding="utf-8")
    for split in ("dev", "test"):
        lines = [
            f"{_text(w, rng)}\t{i}" for i, w in enumerate(TOPIC_WORDS) for _ in range(per_label)
        ]
        (thuc / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (root / "sentiment/covid_weibo_emotion.csv").open("w", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(["review", "label"])
        for emotion, word in enumerate(("害怕", "恶心", "加油", "竟然", "感谢", "难过", "愤怒")):
            writer.writerows([_text(word, rng), emotion] for _ in range(per_label))
    return root


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    return write_tiny_data(tmp_path / "data")


@pytest.fixture
def real_data(shared_dir: Path) -> Path:
    if not (shared_dir / "data").is_dir():
        pytest.skip("../shared/data is absent (a user's fresh clone has no shared data)")
    return shared_dir / "data"


@pytest.mark.shared
@pytest.mark.parametrize(
    ("task", "n", "labels"),
    [
        ("chnsenticorp", 1200, {"negative", "positive"}),
        ("smp2020_usual", 5000, set(HEADS["emotion"])),
        ("thucnews", 10000, set(HEADS["topic"])),
        ("covid_weibo_posneg", 18028, {"negative", "positive"}),  # 21,173 less 3,145 surprise
    ],
)
def test_real_task_sizes_and_labels(real_data: Path, task: str, n: int, labels: set[str]) -> None:
    data = load_task(task, real_data)
    assert len(data.test) == n
    assert {ex.label for ex in data.test} == labels
    assert set(data.eval_labels) == labels
    assert data.labels == HEADS[data.head]


@pytest.mark.shared
def test_real_topic_split_is_stratified_and_leak_free(real_data: Path) -> None:
    train, val = head_data("topic", real_data)
    assert 8900 < len(train) < 9000 and 990 < len(val) <= 1000
    assert {ex.label for ex in val} == set(HEADS["topic"])
    banned = all_test_texts(real_data)
    assert not any(model_text(ex.text) in banned for ex in train + val)


def test_tasks_cover_every_head() -> None:
    assert {TASK_HEADS[task] for task in TASKS} == set(HEADS)


def test_head_data_labels_and_split(tiny_data: Path) -> None:
    for head in HEADS:
        train, val = head_data(head, tiny_data)
        assert {ex.label for ex in train} == set(HEADS[head])
        assert val and not {ex.label for ex in val} - set(HEADS[head])
    train, val = head_data("emotion", tiny_data)
    assert len(val) == 6 * 6  # 10% of the 60 of each label in the three SMP train files
    assert not {ex.text for ex in train} & {ex.text for ex in val}


def test_sentiment_maps_emotions_and_drops_surprise(tiny_data: Path) -> None:
    train, _ = head_data("sentiment", tiny_data)
    assert not any(EMOTION_WORDS["surprise"] in ex.text for ex in train)
    assert all(ex.label == "negative" for ex in train if EMOTION_WORDS["fear"] in ex.text)
    with_reviews, val = head_data("sentiment", tiny_data, with_reviews=True)
    assert len(with_reviews) == len(train) + 2 * 20
    assert not any(REVIEW_WORDS[1] in ex.text for ex in val)  # val stays Weibo-only


def test_leak_guard_drops_a_duplicate_of_a_test_text(
    tiny_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert model_text(LEAKED_TRAIN) == model_text(LEAKED_TEST) in all_test_texts(tiny_data)
    with caplog.at_level(logging.INFO, logger="nlp.datasets"):
        train, val = head_data("emotion", tiny_data)
    assert not any(ex.text == LEAKED_TRAIN for ex in train + val)
    assert "leak guard: dropped 1 of" in caplog.text


def test_covid_posneg_mapping(tiny_data: Path) -> None:
    task = load_task("covid_weibo_posneg", tiny_data)
    assert task.head == "sentiment" and task.eval_labels == ("negative", "positive")
    assert len(task.test) == 6 * 20  # surprise (3) dropped
    assert all(ex.label == "positive" for ex in task.test if "感谢" in ex.text)
    assert not any("竟然" in ex.text for ex in task.test)


def test_missing_data_names_the_path_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataMissing) as err:
        load_task("chnsenticorp", tmp_path)
    message = str(err.value)
    assert str(tmp_path / "sentiment/chnsenticorp/test.jsonl") in message
    assert "TINGFENG_DATA_DIR" in message and "--data-dir" in message


def test_default_data_dir_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINGFENG_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("TINGFENG_DATA_DIR")
    assert default_data_dir().parts[-2:] == ("shared", "data")


def test_load_jsonl_reads_examples(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text('{"text": "好", "label": "positive"}\n\n{"text": "差", "label": "negative"}\n')
    assert load_jsonl(path, HEADS["review"]) == [
        Example("好", "positive"),
        Example("差", "negative"),
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "line 2: not valid JSON"),
        ('["a list"]', "line 2: expected an object"),
        ('{"text": "x"}', 'line 2: missing key "label"'),
        ('{"label": "positive"}', 'line 2: missing key "text"'),
        ('{"text": 5, "label": "positive"}', 'line 2: "text" must be a string, not int'),
        ('{"text": "x", "label": 1}', 'line 2: "label" must be a string, not int'),
        ('{"text": "x", "label": "great"}', "unknown label 'great'; allowed: negative, positive"),
    ],
)
def test_load_jsonl_errors_name_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text('{"text": "好", "label": "positive"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        load_jsonl(path, HEADS["review"])
    assert str(path) in str(err.value) and problem in str(err.value)


def test_load_jsonl_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataMissing):
        load_jsonl(tmp_path / "absent.jsonl")
