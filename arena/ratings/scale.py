"""The arena rating scale: logistic, base 10, 400 points per factor of ten in odds."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["RatingScale"]


@dataclass(frozen=True)
class RatingScale:
    """How natural-log strengths map to displayed points.

    ``rating = offset + scale * theta / ln(base)``: with the defaults a difference of 400
    points means odds of 10:1 (the Elo / LMArena convention).

    Attributes
    ----------
    scale:
        Points per factor ``base`` in winning odds (400).
    base:
        Logistic base (10).
    offset:
        Rating of the average model when no anchor is given (1000).
    """

    scale: float = 400.0
    base: float = 10.0
    offset: float = 1000.0

    def __post_init__(self) -> None:
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise ValueError(f"scale must be a positive number, got {self.scale}")
        if not (self.base > 1 and math.isfinite(self.base)):
            raise ValueError(f"base must be a number greater than 1, got {self.base}")
        if not math.isfinite(self.offset):
            raise ValueError(f"offset must be finite, got {self.offset}")

    @property
    def points_per_nat(self) -> float:
        """Rating points per unit of natural-log strength."""
        return self.scale / math.log(self.base)

    def to_points(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """Centred strengths (mean zero) to points around ``offset``."""
        centred = theta - theta.mean() if theta.size else theta
        return self.offset + self.points_per_nat * centred

    def win_probability(
        self, r_a: NDArray[np.float64], r_b: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Probability that a model rated ``r_a`` beats one rated ``r_b`` (no ties)."""
        return 1.0 / (1.0 + np.power(self.base, (r_b - r_a) / self.scale))
