"""What a leaderboard fit is asked to do: :class:`FitSpec`, its defaults and its checks."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any

from arena.battles.table import Battles
from arena.errors import UserError
from arena.ratings.scale import RatingScale
from arena.records import CI_KINDS, METHODS

__all__ = ["PRIOR_SD_POINTS", "TOLERANCE", "FitSpec", "prior_precision"]

#: Standard deviation (rating points) of the weak prior used only when the maximum
#: likelihood ratings do not exist (undefeated / winless models, disconnected groups).
PRIOR_SD_POINTS = 1000.0
#: Newton tolerance on the largest step, natural-log units (about 2e-8 rating points).
TOLERANCE = 1e-10


def prior_precision() -> float:
    """Precision of the fallback prior: sd of PRIOR_SD_POINTS on the 400-point, base-10 scale."""
    return float((RatingScale().points_per_nat / PRIOR_SD_POINTS) ** 2)


@dataclass(frozen=True)
class FitSpec:
    """One leaderboard computation's choices, checked when the record is made.

    Attributes
    ----------
    method:
        ``"bt"`` (Bradley–Terry MLE, ties as half wins), ``"davidson"`` (explicit tie
        parameter) or ``"elo"`` (online Elo in timestamp / file order).
    ci:
        ``"sandwich"`` (robust normal interval; bt and davidson), ``"bootstrap"``
        (percentile interval over ``rounds`` resamples of the battles) or ``"none"``.
    rounds, seed:
        Bootstrap rounds and the seed of its random generator.
    level:
        Confidence level of the intervals (0.95).
    anchor:
        ``(model, rating)``: shift the scale so that this model has this rating. Without
        it the average model sits at ``scale.offset`` (online Elo: the initial rating).
    style_control:
        Fit Bradley–Terry with the battles' style features as covariates.
    scale:
        The rating scale (400 points, base 10, offset 1000 by default).
    k_factor:
        Online Elo K-factor.

    Raises
    ------
    UserError
        For an unknown method or interval kind, a combination that is not defined
        (sandwich or style control with online Elo, style control with Davidson), fewer
        than two bootstrap rounds, a level outside (0, 1) or a non-finite anchor rating.
    """

    method: str = "bt"
    ci: str = "sandwich"
    rounds: int = 100
    seed: int = 0
    level: float = 0.95
    anchor: tuple[str, float] | None = None
    style_control: bool = False
    scale: RatingScale = field(default_factory=RatingScale)
    k_factor: float = 4.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise UserError(
                f"unknown method '{self.method}'; expected one of {', '.join(METHODS)}"
            )
        if self.ci not in CI_KINDS:
            raise UserError(
                f"unknown interval kind '{self.ci}'; expected one of {', '.join(CI_KINDS)}"
            )
        if self.ci == "bootstrap" and self.rounds < 2:
            raise UserError(
                f"--rounds must be at least 2 for a bootstrap interval, got {self.rounds}"
            )
        if not 0 < self.level < 1:
            raise UserError(f"confidence level must be between 0 and 1, got {self.level}")
        if self.method == "elo" and self.ci == "sandwich":
            raise UserError(
                "sandwich intervals are defined for the bt and davidson fits; "
                "use --ci bootstrap or --ci none with --method elo"
            )
        if self.method == "elo" and self.style_control:
            raise UserError(
                "style control needs a likelihood fit; use --method bt with --style-control"
            )
        if self.method == "davidson" and self.style_control:
            raise UserError("style control is implemented for --method bt only")
        if self.anchor is not None and not math.isfinite(self.anchor[1]):
            raise UserError(
                f"anchor rating for '{self.anchor[0]}' must be a finite number, "
                f"got {self.anchor[1]}"
            )

    @property
    def bootstrap_rounds(self) -> int:
        """Rounds the fit will resample (0 without a bootstrap interval)."""
        return self.rounds if self.ci == "bootstrap" else 0

    def anchor_index(self, battles: Battles) -> int | None:
        """Position of the anchor model among ``battles.models`` (None without an anchor).

        Raises
        ------
        UserError
            When the anchor model is not rated (with the closest names as a hint).
        """
        if self.anchor is None:
            return None
        name = self.anchor[0]
        try:
            return battles.models.index(name)
        except ValueError:
            close = difflib.get_close_matches(name, battles.models, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UserError(
                f"anchor model '{name}' is not among the rated models{hint}"
            ) from None

    def params(self, filters: dict[str, Any] | None) -> dict[str, Any]:
        """The JSON-serialisable parameters a :class:`Leaderboard` records for this spec."""
        params: dict[str, Any] = {
            "method": self.method,
            "ci": self.ci,
            "level": self.level,
            "rounds": self.rounds if self.ci == "bootstrap" else None,
            "seed": self.seed if self.ci == "bootstrap" else None,
            "anchor": {"model": self.anchor[0], "rating": self.anchor[1]} if self.anchor else None,
            "scale": self.scale.scale,
            "base": self.scale.base,
            "offset": self.scale.offset,
            "ties": "half a win to each side (both-bad counted as a tie)",
            "style_control": self.style_control,
            "filters": filters or {},
        }
        if self.method == "elo":
            params.update(
                {
                    "k": self.k_factor,
                    "initial": self.scale.offset,
                    "order": "timestamp, then file order",
                }
            )
        return params
