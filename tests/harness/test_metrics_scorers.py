"""Metrics (intervals, pass@k, perplexity) and scorers (built-in and registered)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from arena.harness import (
    extract_number,
    mean_metric,
    pass_at_k,
    perplexity_metrics,
    run_scorer,
    scorer,
    scorers,
)


def test_pass_at_k_matches_enumeration() -> None:
    for n, c, k in [(5, 2, 1), (5, 2, 3), (10, 0, 2), (10, 10, 5), (7, 3, 7)]:
        outcomes = [1] * c + [0] * (n - c)
        subsets = list(itertools.combinations(outcomes, k))
        expected = sum(any(s) for s in subsets) / len(subsets)
        assert pass_at_k(n, c, k) == pytest.approx(expected)
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_mean_metric_interval() -> None:
    m = mean_metric([1, 0, 1, 1])
    se = np.std([1, 0, 1, 1], ddof=1) / 2
    assert m.value == 0.75 and m.stderr == pytest.approx(se)
    assert m.ci_lower == pytest.approx(0.75 - 1.959964 * se, rel=1e-6)
    assert math.isnan(mean_metric([]).value)


def test_perplexity_definitions() -> None:
    m = perplexity_metrics([-10.0, -20.0], [5, 10], [20, 40], rounds=50, seed=0)
    assert m["word_perplexity"].value == pytest.approx(math.exp(30 / 15))
    assert m["byte_perplexity"].value == pytest.approx(math.exp(30 / 60))
    assert m["bits_per_byte"].value == pytest.approx(30 / 60 / math.log(2))
    assert m["word_perplexity"].method == "bootstrap"


def test_gsm8k_number_extraction() -> None:
    assert extract_number("so 3 + 4 = 7. The answer is $1,200.") == "$1,200."
    assert run_scorer("number_match", "The answer is $1,200.", "1200", {}, {}) == 1.0
    assert run_scorer("number_match", "#### 18", "18", {}, {"strict": True}) == 1.0
    assert run_scorer("number_match", "it is 18", "18", {}, {"strict": True}) == 0.0
    assert run_scorer("exact_match", " Paris ", "paris", {}, {"ignore_case": True}) == 1.0
    assert run_scorer("includes", "I think Paris.", "Paris", {}, {}) == 1.0


def test_registered_scorer_with_doc() -> None:
    @scorer("test_len_ok")
    def len_ok(output: str, target: str, *, limit: int = 3, doc: dict[str, Any]) -> float:
        return float(len(output) <= limit and doc["ok"])

    assert scorers()["test_len_ok"] == frozenset({"limit"})
    assert run_scorer("test_len_ok", "abc", "", {"ok": True}, {"limit": 3}) == 1.0
