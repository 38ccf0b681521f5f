"""Battles in, leaderboard out: :func:`compute_leaderboard`, the function analysts and the CLI call.

It checks the battles against the :class:`~arena.leaderboard.spec.FitSpec`, finds whether
maximum-likelihood ratings exist (else a weak prior keeps them finite), runs the method's
estimator (:mod:`arena.leaderboard.estimate`), widens the intervals the data cannot
bound (:mod:`arena.leaderboard.widening`), puts everything on the rating scale and the
anchor, and assembles a :class:`~arena.records.Leaderboard` that records how to
reproduce it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from arena.battles.table import Battles
from arena.errors import UserError
from arena.leaderboard.estimate import Estimate, estimate_elo, estimate_pairwise, estimate_style
from arena.leaderboard.spec import PRIOR_SD_POINTS, TOLERANCE, FitSpec, prior_precision
from arena.leaderboard.widening import interval_flags, widen, widen_elo
from arena.ratings.davidson import tie_totals
from arena.ratings.graph import GraphDiagnosis, diagnose, diagnose_davidson
from arena.ratings.intervals import rank_upper_bound
from arena.ratings.pairs import PairCells, cells_from_arrays, model_tallies
from arena.records import Leaderboard

__all__ = ["ArenaWarning", "compute_leaderboard"]


class ArenaWarning(UserWarning):
    """A caveat about a computed leaderboard (also recorded in ``Leaderboard.warnings``)."""


class _Progress:
    """Adapter from "one more round done" callbacks to tqdm (or nothing)."""

    def __init__(self, enabled: bool, total: int, desc: str):
        self._bar: Any = None
        if enabled and total > 0:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="round", leave=False)

    def __call__(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _Warnings:
    """The warnings of one computation: kept for the record and raised as ArenaWarning."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, text: str) -> None:
        self.texts.append(text)
        warnings.warn(text, ArenaWarning, stacklevel=3)


def compute_leaderboard(
    battles: Battles,
    spec: FitSpec | None = None,
    *,
    progress: bool = False,
    inputs: Sequence[dict[str, str]] = (),
    filters: dict[str, Any] | None = None,
    on_warning: Callable[[str], None] | None = None,
    **options: Any,
) -> Leaderboard:
    """Rate the models of ``battles`` and return a reproducible :class:`Leaderboard`.

    Parameters
    ----------
    battles:
        The (already filtered) battles.
    spec:
        What to fit (:class:`FitSpec`: method, interval, rounds, seed, level, anchor,
        style control, scale, K-factor). Instead of a spec its fields may be given as
        keywords (``compute_leaderboard(battles, method="elo", ci="none")``), not both.
        Where the data cannot bound a model's rating its interval is widened to what the
        data and prior honestly allow and the table's ``ci_flag`` column says why
        (:data:`~arena.leaderboard.widening.CI_FLAGS`).
    progress:
        Show a progress bar on stderr for bootstrap rounds.
    inputs:
        Fingerprints of the input files, recorded in the result.
    filters:
        The filters that produced ``battles``, recorded in the result's parameters.
    on_warning:
        Also called with each warning's text (the CLI prints them).
    **options:
        :class:`FitSpec` fields, when no ``spec`` is given.

    Raises
    ------
    UserError
        For an invalid spec, no battles, fewer than two models, style control without
        style features, an anchor model that is not rated, or battles the method cannot
        rate (Davidson without ties, online Elo on aggregated counts).
    TypeError
        For a keyword that is not a :class:`FitSpec` field, or a spec and keywords both.
    """
    if spec is not None and options:
        raise TypeError("give a FitSpec or its fields as keywords, not both")
    spec = spec if spec is not None else FitSpec(**options)
    _check_battles(battles, spec)
    anchor_idx = spec.anchor_index(battles)
    warn = _Warnings()
    rng = np.random.default_rng(spec.seed)
    with threadpool_limits(limits=1):
        cells, diag, prior = _existence(battles, spec, warn)
        bar = _Progress(
            progress, spec.bootstrap_rounds * (2 if spec.style_control else 1), "bootstrap"
        )
        try:
            plain: Estimate | None = None
            if cells is None:
                est = estimate_elo(battles, spec, rng, bar)
            else:
                est = plain = estimate_pairwise(cells, spec, rng, prior, bar)
                if spec.style_control:
                    assert plain.fit is not None
                    est = estimate_style(battles, spec, rng, prior, plain.fit, bar, warn)
        finally:
            bar.close()
    tallies = model_tallies(
        battles.n_models, battles.model_a, battles.model_b, battles.outcome, battles.count
    )
    est, plain, flags = _honest_intervals(battles, spec, est, plain, diag, tallies)
    shown_plain = plain if spec.style_control else None
    columns = _table(battles, spec, est, shown_plain, flags, tallies, anchor_idx)
    fit = est.fit
    if fit is not None and fit.prior and not prior:
        prior = fit.prior
        warn(
            "the fit did not converge without regularisation; ratings use a weak prior "
            f"(normal, sd {PRIOR_SD_POINTS:g} points on the 400-point scale)"
        )
    params = spec.params(filters)
    if fit is not None:
        params.update(
            {
                "tolerance": TOLERANCE,
                "iterations": fit.iterations,
                "max_gradient": fit.max_gradient,
                "prior_sd_points": PRIOR_SD_POINTS if prior else None,
            }
        )
    extras: dict[str, float] = {}
    if fit is not None and "nu" in fit.extra:
        extras["nu"] = fit.extra["nu"]
    for text in warn.texts:
        if on_warning is not None:
            on_warning(text)
    return Leaderboard(
        columns=columns,
        method=spec.method,
        params=params,
        n_battles=battles.n_battles,
        n_models=battles.n_models,
        data_sha256=battles.sha256(style=spec.style_control),
        inputs=tuple(inputs),
        style_coefficients=est.coefficients,
        extras=extras,
        warnings=tuple(warn.texts),
    )


def _check_battles(battles: Battles, spec: FitSpec) -> None:
    if len(battles) == 0 or battles.n_battles == 0:
        raise UserError("there are no battles to rate")
    if battles.n_models < 2:
        raise UserError(f"at least two models are needed to rate, found {battles.n_models}")
    if spec.style_control and not battles.has_style:
        raise UserError(
            "style control needs per-side style features: answers (conversation_a/b) "
            "or style columns in the input"
        )


def _existence(
    battles: Battles, spec: FitSpec, warn: Callable[[str], None]
) -> tuple[PairCells | None, GraphDiagnosis | None, float]:
    """The pair cells, whether the MLE exists, and the prior it needs (likelihood fits only).

    The cells are built once here and passed on to the estimator.
    """
    if spec.method == "elo":
        return None, None, 0.0
    cells = cells_from_arrays(
        battles.n_models,
        battles.model_a,
        battles.model_b,
        battles.outcome,
        battles.count,
        battles.weight,
    )
    stats = cells.stats()
    if spec.method == "davidson":
        ties, total = tie_totals(stats)
        if ties <= 0 or ties >= total:
            raise UserError(
                "the Davidson model needs both ties and decisive battles (found "
                f"{ties:g} ties among {total:g} battles, so the tie parameter would "
                "be 0 or infinite); use --method bt"
            )
        diag = diagnose_davidson(stats, battles.n_models)
    else:
        diag = diagnose(stats, battles.n_models)
    if diag.exists:
        return cells, diag, 0.0
    warn(
        "maximum-likelihood ratings do not exist for these battles: "
        f"{diag.describe(battles.models)}. Ratings are kept finite by a weak prior "
        f"(normal, sd {PRIOR_SD_POINTS:g} points on the 400-point scale), and "
        "their intervals are at least as wide as its posterior's (see the "
        "ci_flag column); read them with care.",
    )
    return cells, diag, prior_precision()


def _honest_intervals(
    battles: Battles,
    spec: FitSpec,
    est: Estimate,
    plain: Estimate | None,
    diag: GraphDiagnosis | None,
    tallies: NDArray[np.float64],
) -> tuple[Estimate, Estimate | None, NDArray[np.object_]]:
    """The estimates with the intervals the data cannot bound widened, and the flags."""
    flags = np.full(battles.n_models, "", dtype=object)
    if spec.method == "elo" and spec.ci == "bootstrap":
        est, flags = widen_elo(battles, est, spec.k_factor / spec.scale.points_per_nat, tallies)
    if spec.method == "elo" or spec.ci == "none" or est.fit is None:
        return est, plain, flags
    flags = interval_flags(diag, tallies[:, :3], battles.n_models)
    members = flags != ""
    lower, upper = widen(est.theta, est.lower, est.upper, est.fit, members, flags, spec.level)
    est = Estimate(est.theta, lower, upper, est.fit, est.coefficients)
    if spec.style_control and plain is not None and plain.fit is not None:
        pl, pu = widen(plain.theta, plain.lower, plain.upper, plain.fit, members, flags, spec.level)
        plain = Estimate(plain.theta, pl, pu, plain.fit)
    return est, plain, flags


def _table(
    battles: Battles,
    spec: FitSpec,
    est: Estimate,
    plain: Estimate | None,
    flags: NDArray[np.object_],
    tallies: NDArray[np.float64],
    anchor_idx: int | None,
) -> dict[str, np.ndarray]:
    """The leaderboard's columns on the rating scale, best first."""
    scale = spec.scale
    ppn = scale.points_per_nat
    rating = scale.offset + ppn * est.theta
    shift = 0.0
    if spec.anchor is not None and anchor_idx is not None:
        shift = spec.anchor[1] - rating[anchor_idx]
    rating = rating + shift
    lower = scale.offset + shift + ppn * est.lower
    upper = scale.offset + shift + ppn * est.upper
    have_ci = not np.isnan(lower).all()
    rank_ub = rank_upper_bound(lower, upper) if have_ci else rank_upper_bound(rating, rating)
    columns: dict[str, np.ndarray] = {
        "rank_ub": np.asarray(rank_ub),
        "model": np.asarray(list(battles.models), dtype=object),
        "rating": np.asarray(rating, np.float64),
        "ci_lower": np.asarray(lower, np.float64),
        "ci_upper": np.asarray(upper, np.float64),
        "battles": np.rint(tallies.sum(axis=1)).astype(np.int64),
        "wins": np.rint(tallies[:, 0]).astype(np.int64),
        "losses": np.rint(tallies[:, 1]).astype(np.int64),
        "ties": np.rint(tallies[:, 2]).astype(np.int64),
        "ci_flag": np.asarray([str(f) for f in flags], dtype=object),
    }
    if plain is not None:
        plain_rating = scale.offset + ppn * plain.theta
        if spec.anchor is not None and anchor_idx is not None:
            plain_rating += spec.anchor[1] - plain_rating[anchor_idx]
        if not np.isnan(plain.lower).all():
            pl = plain_rating - ppn * plain.theta + ppn * plain.lower
            pu = plain_rating - ppn * plain.theta + ppn * plain.upper
            plain_rank = rank_upper_bound(pl, pu)
        else:
            plain_rank = rank_upper_bound(plain_rating, plain_rating)
        columns["rating_plain"] = np.asarray(plain_rating, np.float64)
        columns["rank_plain"] = np.asarray(plain_rank)
        columns["rank_change"] = np.asarray(plain_rank - rank_ub)
    # best first; equal ratings by name (a stable order a user can check)
    order = np.lexsort((columns["model"].astype(str), -columns["rating"]))
    return {name: values[order] for name, values in columns.items()}
