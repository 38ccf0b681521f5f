"""Confidence intervals and the Rank (UB) column.

Two kinds of interval, both on the centred scale (ratings relative to the average
model, so they do not depend on where the scale is anchored):

* sandwich: normal-approximation interval from a robust covariance;
* bootstrap: percentile interval over refits on battles resampled with replacement.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from arena.ratings.special import ndtri

__all__ = ["multinomial_resamples", "normal_interval", "percentile_interval", "rank_upper_bound"]

Vector = NDArray[np.float64]


def normal_interval(centre: Vector, se: Vector, level: float) -> tuple[Vector, Vector]:
    """``centre -/+ z * se`` with ``z`` the two-sided normal quantile for ``level``."""
    z = float(ndtri(0.5 + level / 2))
    return centre - z * se, centre + z * se


def percentile_interval(samples: NDArray[np.float64], level: float) -> tuple[Vector, Vector]:
    """Per-column percentile interval of ``(rounds, n)`` bootstrap samples."""
    tail = 100 * (1 - level) / 2
    lower, upper = np.percentile(samples, [tail, 100 - tail], axis=0)
    return np.asarray(lower), np.asarray(upper)


def rank_upper_bound(lower: Vector, upper: Vector) -> NDArray[np.int64]:
    """Rank (UB): 1 + the number of models whose lower bound is above this upper bound.

    A model is ranked below another only when their intervals do not overlap, so ties
    in rank mean "not statistically separable" (the LMArena convention).
    """
    order = np.sort(lower)
    above = len(lower) - np.searchsorted(order, upper, side="right")
    return (1 + above).astype(np.int64)


def multinomial_resamples(
    counts: Vector,
    rounds: int,
    rng: np.random.Generator,
    fit: Callable[[Vector], Vector],
    progress: Callable[[int], object] | None = None,
) -> NDArray[np.float64]:
    """Refit on ``rounds`` bootstrap resamples of battles grouped in cells.

    Resampling ``N`` battles with replacement and regrouping them is exactly a
    multinomial draw of ``N`` over the cells with probabilities ``counts / N``; this
    costs a draw over the cells instead of over every battle.

    Parameters
    ----------
    counts:
        Battles per cell.
    rounds:
        Number of bootstrap rounds.
    rng:
        Seeded generator (results are reproducible for a given seed).
    fit:
        Maps resampled cell counts to a parameter vector.
    progress:
        Called with 1 after each round.
    """
    total = round(float(counts.sum()))
    p = counts / counts.sum()
    out: list[Vector] = []
    for _ in range(rounds):
        draw = rng.multinomial(total, p).astype(np.float64)
        out.append(fit(draw))
        if progress is not None:
            progress(1)
    return np.vstack(out)
