"""One classifier per test session: building it is cheap, but jieba's reference is not."""

from __future__ import annotations

import pytest

from crawlers.config import default_settings
from nlp.classifier import LexiconClassifier
from nlp.segment import Segmenter

BRAND_WORDS = ("拾光咖啡", "冷萃", "挂耳", "青屿", "早C晚A", "Dior999")


@pytest.fixture(scope="session")
def fast_segmenter() -> Segmenter:
    return Segmenter(BRAND_WORDS, engine="rjieba")


@pytest.fixture(scope="session")
def jieba_segmenter() -> Segmenter:
    return Segmenter(BRAND_WORDS, engine="jieba")


@pytest.fixture(scope="session")
def classifier() -> LexiconClassifier:
    return LexiconClassifier(default_settings())
