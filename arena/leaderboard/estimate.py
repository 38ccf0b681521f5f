"""One estimator per method: Bradley–Terry and Davidson, style control, online Elo.

Each takes the battles (or their pair cells) and the :class:`~arena.leaderboard.spec.FitSpec`
and returns an :class:`Estimate`: centred natural-log strengths with the interval the spec
asks for. The maths is :mod:`arena.ratings`'; what happens where the data cannot bound a
rating is :mod:`arena.leaderboard.widening`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from arena.battles.table import Battles
from arena.errors import UserError
from arena.leaderboard.spec import TOLERANCE, FitSpec, prior_precision
from arena.ratings.bt import Fit, fit_bt, sandwich_bt
from arena.ratings.davidson import fit_davidson, sandwich_davidson, tie_totals
from arena.ratings.elo import online_elo, online_elo_bootstrap
from arena.ratings.graph import diagnose, diagnose_davidson
from arena.ratings.intervals import multinomial_resamples, normal_interval, percentile_interval
from arena.ratings.pairs import PairCells, cells_from_arrays
from arena.ratings.style import StyleRows, fit_style_bt, sandwich_style, style_design

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Estimate", "estimate_elo", "estimate_pairwise", "estimate_style", "likelihood_fit"]

Vector = NDArray[np.float64]


@dataclass(frozen=True)
class Estimate:
    """One fit's strengths and interval, centred, in natural-log units."""

    theta: Vector  # centred natural-log strengths
    lower: Vector  # centred interval in natural-log units (NaN when none)
    upper: Vector
    fit: Fit | None
    coefficients: pd.DataFrame | None = None


def likelihood_fit(
    cells: PairCells, method: str, prior: float, start: Vector | None = None
) -> Fit:
    """Bradley–Terry or Davidson on ``cells``; the weak prior when Newton cannot finish."""
    stats = cells.stats()
    fitter = fit_davidson if method == "davidson" else fit_bt
    try:
        return fitter(stats, cells.n_models, prior=prior, tol=TOLERANCE, start=start)
    except RuntimeError:
        if prior:
            raise
        # numerically on the edge of existence: the weak prior makes the optimum unique
        return fitter(stats, cells.n_models, prior=prior_precision(), tol=TOLERANCE, start=start)


def estimate_pairwise(
    cells: PairCells,
    spec: FitSpec,
    rng: np.random.Generator,
    prior: float,
    progress: Callable[[int], object],
) -> Estimate:
    """Bradley–Terry or Davidson (``spec.method``) with ``spec.ci``'s interval."""
    method, level = spec.method, spec.level
    fit = likelihood_fit(cells, method, prior)
    k = cells.n_models
    nan = np.full(k, np.nan)
    if spec.ci == "sandwich":
        stats = cells.stats()
        cov = (sandwich_davidson if method == "davidson" else sandwich_bt)(stats, fit, k)
        se = np.sqrt(np.clip(np.diag(cov)[:k], 0, None))
        lower, upper = normal_interval(fit.theta, se, level)
        return Estimate(fit.theta, lower, upper, fit)
    if spec.ci == "bootstrap":

        def refit(counts: Vector) -> Vector:
            resampled = cells.with_counts(counts)
            stats = resampled.stats()
            round_method = method
            if method == "davidson":
                ties, total = tie_totals(stats)
                if ties >= total:
                    # only ties: nu -> infinity, equal strengths maximise the likelihood
                    return np.zeros(k)
                if ties <= 0:
                    # no tie: nu -> 0 and Davidson's likelihood is Bradley–Terry's on the
                    # decisive battles, so the boundary MLE's strengths are BT's
                    round_method = "bt"
            if round_method == "davidson":
                exists = diagnose_davidson(stats, k).exists
            else:
                exists = diagnose(stats, k).exists
            round_prior = prior if prior or exists else prior_precision()
            return likelihood_fit(resampled, round_method, round_prior, start=fit.theta).theta

        samples = multinomial_resamples(cells.cell_count, spec.rounds, rng, refit, progress)
        lower, upper = percentile_interval(samples, level)
        return Estimate(fit.theta, lower, upper, fit)
    return Estimate(fit.theta, nan, nan, fit)


def estimate_style(
    battles: Battles,
    spec: FitSpec,
    rng: np.random.Generator,
    prior: float,
    plain: Fit,
    progress: Callable[[int], object],
    warn: Callable[[str], None],
) -> Estimate:
    """Bradley–Terry with the style features as covariates, started from the plain fit."""
    level = spec.level
    assert battles.style_a is not None and battles.style_b is not None
    count = battles.count.astype(np.float64)
    design = style_design(battles.style_a, battles.style_b, battles.style_names, count)
    if design.dropped:
        warn(f"style features without variation were left out: {', '.join(design.dropped)}")
    if not design.names:
        raise UserError(
            "no style feature varies across these battles; style control is not possible"
        )
    rows = StyleRows.build(
        battles.n_models,
        battles.model_a,
        battles.model_b,
        battles.outcome,
        count,
        battles.weight,
        design.z,
    )
    k, f = battles.n_models, len(design.names)
    fit = fit_style_bt(rows, prior=prior, tol=TOLERANCE, start=plain.theta)
    beta = np.array([fit.extra[f"beta_{j}"] for j in range(f)])
    params = np.concatenate([fit.theta, beta])
    nan = np.full(k + f, np.nan)
    lower, upper = nan, nan
    if spec.ci == "sandwich":
        cov = sandwich_style(rows, fit)
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        lower, upper = normal_interval(params, se, level)
    elif spec.ci == "bootstrap":

        def refit(draw: Vector) -> Vector:
            resampled = StyleRows(
                k, rows.a, rows.b, rows.y, draw * battles.weight, draw * battles.weight**2, rows.z
            )
            cells = cells_from_arrays(k, rows.a, rows.b, battles.outcome, draw, np.ones(len(draw)))
            round_prior = prior or (
                0.0 if diagnose(cells.stats(), k).exists else prior_precision()
            )
            again = fit_style_bt(resampled, prior=round_prior, tol=TOLERANCE, start=params)
            return np.concatenate([again.theta, [again.extra[f"beta_{j}"] for j in range(f)]])

        samples = multinomial_resamples(count, spec.rounds, rng, refit, progress)
        lower, upper = percentile_interval(samples, level)
    import pandas as pd  # style control's coefficient table (a leaderboard without: no pandas)

    coefficients = pd.DataFrame(
        {
            "feature": list(design.names),
            "coefficient": beta,
            "ci_lower": lower[k:],
            "ci_upper": upper[k:],
        }
    )
    return Estimate(fit.theta, lower[:k], upper[:k], fit, coefficients)


def estimate_elo(
    battles: Battles, spec: FitSpec, rng: np.random.Generator, progress: Callable[[int], object]
) -> Estimate:
    """Online Elo, replayed in timestamp (then file) order; bootstrap over resampled histories."""
    scale, level = spec.scale, spec.level
    if not battles.ordered:
        raise UserError(
            "online Elo replays battles in order, but this input holds aggregated pair counts "
            "with no order; use --method bt or davidson"
        )
    a, b, o, w = battles.model_a, battles.model_b, battles.outcome, battles.weight
    if "tstamp" in battles.meta.columns:
        import pandas as pd  # a table with metadata columns has pandas loaded already

        ts = pd.to_numeric(battles.meta["tstamp"], errors="coerce").to_numpy(np.float64)
        if not np.isnan(ts).all():
            order = np.argsort(np.where(np.isnan(ts), np.inf, ts), kind="stable")
            a, b, o, w = a[order], b[order], o[order], w[order]
            count = battles.count[order]
        else:
            count = battles.count
    else:
        count = battles.count
    if (count != 1).any():
        a, b, o, w = (
            np.repeat(a, count),
            np.repeat(b, count),
            np.repeat(o, count),
            np.repeat(w, count),
        )
    params: dict[str, float] = {
        "k": spec.k_factor,
        "scale": scale.scale,
        "base": scale.base,
        "initial": 0.0,
    }
    wts = None if np.all(w == 1.0) else w
    points = online_elo(battles.n_models, a, b, o, weight=wts, **params)
    ppn = scale.points_per_nat
    theta = points / ppn
    nan = np.full(battles.n_models, np.nan)
    if spec.ci == "bootstrap":
        samples = online_elo_bootstrap(
            battles.n_models,
            a,
            b,
            o,
            rounds=spec.rounds,
            rng=rng,
            weight=wts,
            progress=progress,
            **params,
        )
        lower, upper = percentile_interval(samples / ppn, level)
        return Estimate(theta, lower, upper, None)
    return Estimate(theta, nan, nan, None)
