"""The runnable examples in the graph modules' docstrings stay true."""

from __future__ import annotations

import doctest

import pytest

from graph import build, explain, rank


@pytest.mark.parametrize("module", [build, rank, explain], ids=lambda m: m.__name__)
def test_docstring_examples(module) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
