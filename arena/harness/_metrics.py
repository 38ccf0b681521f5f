"""Metrics over per-sample scores: means with analytic intervals, bootstrap, pass@k, perplexity.

Pure functions over arrays. Means (accuracy, exact match, pass@k) get the analytic standard
error ``s / sqrt(n)`` (sample standard deviation, as lm-evaluation-harness reports it) and a
normal 95 % interval; corpus-level ratios (perplexities) get a seeded percentile bootstrap
over samples.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "Z95",
    "MetricValue",
    "bootstrap_metric",
    "clip_unit",
    "mean_metric",
    "pass_at_k",
    "perplexity_metrics",
]

#: Two-sided 95 % normal quantile.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class MetricValue:
    """One metric of one model on one task.

    Attributes
    ----------
    value:
        The estimate.
    ci_lower, ci_upper:
        95 % confidence interval.
    stderr:
        Standard error (analytic for means, bootstrap standard deviation otherwise).
    method:
        ``"normal"`` (analytic) or ``"bootstrap"``.
    n:
        Samples the estimate is over (failed samples excluded).
    """

    value: float
    ci_lower: float
    ci_upper: float
    stderr: float
    method: str
    n: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN kept as None)."""
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }


def mean_metric(scores: Sequence[float] | np.ndarray) -> MetricValue:
    """Mean of per-sample scores with the analytic standard error and a normal 95 % interval."""
    x = np.asarray(scores, dtype=float)
    n = int(x.size)
    if n == 0:
        return MetricValue(math.nan, math.nan, math.nan, math.nan, "normal", 0)
    mean = float(x.mean())
    se = float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return MetricValue(mean, mean - Z95 * se, mean + Z95 * se, se, "normal", n)


def bootstrap_metric(
    statistic: Callable[[np.ndarray], float],
    data: np.ndarray,
    *,
    rounds: int = 1000,
    seed: int = 0,
) -> MetricValue:
    """A statistic of rows of ``data`` with a seeded percentile-bootstrap 95 % interval."""
    n = int(data.shape[0])
    if n == 0:
        return MetricValue(math.nan, math.nan, math.nan, math.nan, "bootstrap", 0)
    value = float(statistic(data))
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(data[rng.integers(0, n, n)]) for _ in range(rounds)])
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return MetricValue(value, float(lo), float(hi), float(draws.std(ddof=1)), "bootstrap", n)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem: ``1 - C(n-c, k) / C(n, k)`` (Chen et al., 2021).

    ``n`` samples were drawn, ``c`` of them passed. Computed as a stable product.
    """
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def perplexity_metrics(
    loglikelihoods: Sequence[float],
    words: Sequence[int],
    nbytes: Sequence[int],
    *,
    rounds: int = 1000,
    seed: int = 0,
) -> dict[str, MetricValue]:
    """Word and byte perplexity and bits per byte over documents (lm-eval's definitions).

    ``word_perplexity = exp(-sum(ll) / sum(words))``, ``byte_perplexity = exp(-sum(ll) /
    sum(bytes))``, ``bits_per_byte = -sum(ll) / sum(bytes) / ln 2``; intervals by bootstrap
    over documents.
    """
    data = np.column_stack(
        [np.asarray(loglikelihoods, float), np.asarray(words, float), np.asarray(nbytes, float)]
    )
    stats: dict[str, Callable[[np.ndarray], float]] = {
        "word_perplexity": lambda d: float(math.exp(-d[:, 0].sum() / d[:, 1].sum())),
        "byte_perplexity": lambda d: float(math.exp(-d[:, 0].sum() / d[:, 2].sum())),
        "bits_per_byte": lambda d: float(-d[:, 0].sum() / d[:, 2].sum() / math.log(2)),
    }
    return {k: bootstrap_metric(f, data, rounds=rounds, seed=seed) for k, f in stats.items()}


def clip_unit(m: MetricValue) -> MetricValue:
    """A rate's interval kept inside [0, 1] (the normal interval can cross either end).

    An undefined bound (NaN: a single sample) stays undefined.
    """
    lower = m.ci_lower if math.isnan(m.ci_lower) else max(0.0, m.ci_lower)
    upper = m.ci_upper if math.isnan(m.ci_upper) else min(1.0, m.ci_upper)
    return dataclasses.replace(m, ci_lower=lower, ci_upper=upper)
