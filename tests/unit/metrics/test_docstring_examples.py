"""The worked examples in the metric docstrings are checked (hand computations there)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "driftguard.metrics.severity",
    "driftguard.metrics.fairness",
    "driftguard.metrics.quality",
    "driftguard.metrics.performance",
    "driftguard.metrics.risk",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
