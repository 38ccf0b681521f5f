"""Battles in, leaderboard out: the one function analysts and the CLI call.

:func:`compute_leaderboard` chooses the model (Bradley–Terry, Davidson or online Elo),
fits it, computes intervals, anchors the scale and assembles a :class:`Leaderboard`
record with everything needed to reproduce it. The maths lives in :mod:`arena.ratings`.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from arena.battles.table import Battles
from arena.errors import UserError
from arena.ratings.bt import Fit, centred_covariance, fit_bt, sandwich_bt
from arena.ratings.davidson import fit_davidson, sandwich_davidson, tie_totals
from arena.ratings.elo import online_elo, online_elo_bootstrap
from arena.ratings.graph import GraphDiagnosis, diagnose, diagnose_davidson
from arena.ratings.intervals import (
    multinomial_resamples,
    normal_interval,
    percentile_interval,
    rank_upper_bound,
)
from arena.ratings.pairs import PairCells, cells_from_arrays, model_tallies
from arena.ratings.scale import RatingScale
from arena.ratings.special import ndtr, ndtri
from arena.ratings.style import StyleRows, fit_style_bt, sandwich_style, style_design
from arena.records import CI_KINDS, METHODS, Leaderboard

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CI_KINDS", "METHODS", "ArenaWarning", "compute_leaderboard"]


#: Standard deviation (rating points) of the weak prior used only when the maximum
#: likelihood ratings do not exist (undefeated / winless models, disconnected groups).
PRIOR_SD_POINTS = 1000.0
#: Newton tolerance on the largest step, natural-log units (about 2e-8 rating points).
TOLERANCE = 1e-10

#: Values of the ``ci_flag`` column: why a model's interval is not (only) the data's own.
#: Empty when the sandwich or bootstrap interval stands as computed.
CI_FLAGS: dict[str, str] = {
    "unbounded above": "never lost nor tied against the models outside its group: the data "
    "give no upper bound, the interval is the prior's",
    "unbounded below": "never won nor tied against the models outside its group: the data "
    "give no lower bound, the interval is the prior's",
    "unbounded": "its rating is not bounded by the data on either side (between unbounded "
    "groups, or along Davidson's tie order): the interval is the prior's",
    "unlinked": "no battle links its group to the other models: its place relative to them "
    "comes from the prior",
    "no variation": "every battle of this model had the same outcome, so the data cannot "
    "measure the spread of its outcomes; the interval assumes the largest possible spread "
    "(the model-based, Fisher-information interval)",
}

Vector = NDArray[np.float64]


class ArenaWarning(UserWarning):
    """A result the user should read with care (e.g. ratings that needed a prior)."""


@dataclass(frozen=True)
class _Estimate:
    theta: Vector  # centred natural-log strengths
    lower: Vector  # centred interval in natural-log units (NaN when none)
    upper: Vector
    fit: Fit | None
    coefficients: pd.DataFrame | None = None


def _check_options(method: str, ci: str, rounds: int, level: float, style_control: bool) -> None:
    if method not in METHODS:
        raise UserError(f"unknown method '{method}'; expected one of {', '.join(METHODS)}")
    if ci not in CI_KINDS:
        raise UserError(f"unknown interval kind '{ci}'; expected one of {', '.join(CI_KINDS)}")
    if ci == "bootstrap" and rounds < 2:
        raise UserError(f"--rounds must be at least 2 for a bootstrap interval, got {rounds}")
    if not 0 < level < 1:
        raise UserError(f"confidence level must be between 0 and 1, got {level}")
    if method == "elo" and ci == "sandwich":
        raise UserError(
            "sandwich intervals are defined for the bt and davidson fits; "
            "use --ci bootstrap or --ci none with --method elo"
        )
    if method == "elo" and style_control:
        raise UserError(
            "style control needs a likelihood fit; use --method bt with --style-control"
        )
    if method == "davidson" and style_control:
        raise UserError("style control is implemented for --method bt only")


def _anchor_index(battles: Battles, anchor: tuple[str, float] | None) -> int | None:
    if anchor is None:
        return None
    name, value = anchor
    if not math.isfinite(value):
        raise UserError(f"anchor rating for '{name}' must be a finite number, got {value}")
    try:
        return battles.models.index(name)
    except ValueError:
        close = difflib.get_close_matches(name, battles.models, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"anchor model '{name}' is not among the rated models{hint}") from None


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


def _warn(messages: list[str], text: str) -> None:
    messages.append(text)
    warnings.warn(text, ArenaWarning, stacklevel=3)


def _likelihood_fit(
    cells: PairCells, method: str, prior: float, start: Vector | None = None
) -> Fit:
    stats = cells.stats()
    fitter = fit_davidson if method == "davidson" else fit_bt
    try:
        return fitter(stats, cells.n_models, prior=prior, tol=TOLERANCE, start=start)
    except RuntimeError:
        if prior:
            raise
        # numerically on the edge of existence: the weak prior makes the optimum unique
        return fitter(stats, cells.n_models, prior=_prior_precision(), tol=TOLERANCE, start=start)


def _estimate_pairwise(
    battles: Battles,
    method: str,
    ci: str,
    rounds: int,
    rng: np.random.Generator,
    level: float,
    prior: float,
    progress: _Progress,
) -> _Estimate:
    cells = cells_from_arrays(
        battles.n_models,
        battles.model_a,
        battles.model_b,
        battles.outcome,
        battles.count,
        battles.weight,
    )
    fit = _likelihood_fit(cells, method, prior)
    k = battles.n_models
    nan = np.full(k, np.nan)
    if ci == "sandwich":
        stats = cells.stats()
        cov = (sandwich_davidson if method == "davidson" else sandwich_bt)(stats, fit, k)
        se = np.sqrt(np.clip(np.diag(cov)[:k], 0, None))
        lower, upper = normal_interval(fit.theta, se, level)
        return _Estimate(fit.theta, lower, upper, fit)
    if ci == "bootstrap":

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
            round_prior = prior if prior or exists else _prior_precision()
            return _likelihood_fit(resampled, round_method, round_prior, start=fit.theta).theta

        samples = multinomial_resamples(cells.cell_count, rounds, rng, refit, progress)
        lower, upper = percentile_interval(samples, level)
        return _Estimate(fit.theta, lower, upper, fit)
    return _Estimate(fit.theta, nan, nan, fit)


def _interval_flags(
    diag: GraphDiagnosis | None, tallies: NDArray[np.float64], n_models: int
) -> NDArray[np.object_]:
    """The ``ci_flag`` of each model (see :data:`CI_FLAGS`).

    Without a maximum-likelihood estimate the models the data cannot place get a flag: every
    strongly connected group of the scored-against graph except the main body of the data
    (the largest group, when it is strictly the largest) is "unbounded above" when nobody
    outside scored against it, "unbounded below" when it scored against nobody outside,
    "unbounded" in between; groups with no battle to the main body are "unlinked"; under
    Davidson's tie order every model is "unbounded". Otherwise, a model whose battles all
    had the same outcome (only wins, only losses or only ties) is "no variation".

    Only flagged models have their interval widened (:func:`_widen`); the others keep the
    data's own: their battles place them, and widening them for the centring on the
    average of all models would let one unbounded newcomer blur every other interval.
    """
    flags = np.full(n_models, "", dtype=object)
    kinds = (tallies > 0).sum(axis=1)
    flags[kinds <= 1] = "no variation"
    if diag is None or diag.exists:
        return flags
    if diag.tie_order:
        flags[:] = "unbounded"
        return flags
    sizes = sorted((len(c) for c in diag.components), reverse=True)
    main: tuple[int, ...] = ()
    if len(sizes) == 1 or sizes[0] > sizes[1]:
        main = next(c for c in diag.components if len(c) == sizes[0])
    above = {i for g in diag.dominant for i in g}
    below = {i for g in diag.dominated for i in g}
    main_group = next((set(g) for g in diag.groups if main and main[0] in g), set())
    for component in diag.components:
        if component == main:
            continue
        for i in component:
            if (len(diag.groups) > 1 and i not in main_group) or (i in above and i in below):
                flags[i] = "unlinked"
            elif i in above:
                flags[i] = "unbounded above"
            elif i in below:
                flags[i] = "unbounded below"
            else:
                flags[i] = "unbounded"
    return flags


def _widen(
    theta: Vector,
    lower: Vector,
    upper: Vector,
    fit: Fit,
    members: NDArray[np.bool_],
    flags: NDArray[np.object_],
    level: float,
) -> tuple[Vector, Vector]:
    """Widen the intervals of ``members`` so that they never claim more than the data hold.

    1. Hull with the model-based interval: the inverse of the fit's information, centred.
       With the fallback prior that is the Laplace approximation of the posterior; without
       it the Fisher-information covariance, whose per-battle outcome variance
       ``p (1 - p)`` is the largest any outcome in [0, 1] with mean ``p`` can have.
    2. With the prior, a side the likelihood does not bound (``flags``) is the prior's own:
       for "unbounded above" the upper ``level`` quantile of the prior of the centred
       rating, normal with sd ``sqrt((1 - 1/K) / prior)``, truncated below at the interval's
       lower end (where the likelihood stops being flat the posterior is about the prior);
       likewise below; "unbounded" and "unlinked" take the prior's central interval on both
       sides. The Laplace approximation alone would understate that side, since the
       posterior is skewed towards the side the data leave open.
    """
    if not members.any() or np.isnan(lower).all():
        return lower, upper
    k = len(theta)
    cov = centred_covariance(fit.information, fit.information, k)
    se = np.sqrt(np.clip(np.diag(cov)[:k], 0, None))
    floor_lower, floor_upper = normal_interval(theta, se, level)
    lower = np.where(members, np.fmin(lower, floor_lower), lower)
    upper = np.where(members, np.fmax(upper, floor_upper), upper)
    if not fit.prior:
        return lower, upper
    sd = math.sqrt((1 - 1 / k) / fit.prior)
    tail = (1 - level) / 2
    for i, flag in enumerate(flags):
        if flag == "unbounded above":
            upper[i] = max(upper[i], sd * float(ndtri(1 - tail * ndtr(-lower[i] / sd))))
        elif flag == "unbounded below":
            lower[i] = min(lower[i], -sd * float(ndtri(1 - tail * ndtr(upper[i] / sd))))
        elif flag in ("unbounded", "unlinked"):
            lower[i] = min(lower[i], sd * float(ndtri(tail)))
            upper[i] = max(upper[i], sd * float(ndtri(1 - tail)))
    return lower, upper


def _widen_elo(
    battles: Battles,
    est: _Estimate,
    k_nats: float,
    played: Vector,
    wins: Vector,
    losses: Vector,
    ties: Vector,
) -> tuple[_Estimate, NDArray[np.object_]]:
    """Online Elo's bootstrap where it cannot measure a spread: the reach of the update rule.

    Online Elo has no likelihood to fall back on. Where Bradley–Terry's would flag a model
    (:func:`_interval_flags`: no maximum-likelihood estimate, or all its battles alike,
    where every resample replays the same outcomes and the percentile interval collapses),
    its interval is widened to what any outcomes could have done: each battle moves a
    rating by less than ``K * weight`` points (``k_nats``: K in natural-log units) from
    the initial rating.
    """
    cells = cells_from_arrays(
        battles.n_models,
        battles.model_a,
        battles.model_b,
        battles.outcome,
        battles.count,
        battles.weight,
    )
    diag = diagnose(cells.stats(), battles.n_models)
    flags = _interval_flags(diag, np.column_stack([wins, losses, ties]), battles.n_models)
    members = flags != ""
    if not members.any():
        return est, flags
    max_weight = float(battles.weight.max()) if len(battles.weight) else 1.0
    reach = k_nats * max_weight * played
    lower = np.where(members, np.fmin(est.lower, -reach), est.lower)
    upper = np.where(members, np.fmax(est.upper, reach), est.upper)
    return _Estimate(est.theta, lower, upper, est.fit, est.coefficients), flags


def _prior_precision() -> float:
    """Precision of the fallback prior: sd of PRIOR_SD_POINTS on the 400-point, base-10 scale."""
    return float((RatingScale().points_per_nat / PRIOR_SD_POINTS) ** 2)


def _estimate_style(
    battles: Battles,
    ci: str,
    rounds: int,
    rng: np.random.Generator,
    level: float,
    prior: float,
    plain: Fit,
    progress: _Progress,
    messages: list[str],
) -> _Estimate:
    assert battles.style_a is not None and battles.style_b is not None
    count = battles.count.astype(np.float64)
    design = style_design(battles.style_a, battles.style_b, battles.style_names, count)
    if design.dropped:
        _warn(
            messages, f"style features without variation were left out: {', '.join(design.dropped)}"
        )
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
    if ci == "sandwich":
        cov = sandwich_style(rows, fit)
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        lower, upper = normal_interval(params, se, level)
    elif ci == "bootstrap":
        total = int(count.sum())
        p = count / count.sum()
        samples = []
        for _ in range(rounds):
            draw = rng.multinomial(total, p).astype(np.float64)
            resampled = StyleRows(
                k, rows.a, rows.b, rows.y, draw * battles.weight, draw * battles.weight**2, rows.z
            )
            cells = cells_from_arrays(k, rows.a, rows.b, battles.outcome, draw, np.ones(len(draw)))
            round_prior = prior or (
                0.0 if diagnose(cells.stats(), k).exists else _prior_precision()
            )
            refit = fit_style_bt(resampled, prior=round_prior, tol=TOLERANCE, start=params)
            samples.append(
                np.concatenate([refit.theta, [refit.extra[f"beta_{j}"] for j in range(f)]])
            )
            progress(1)
        lower, upper = percentile_interval(np.vstack(samples), level)
    import pandas as pd  # style control's coefficient table (a leaderboard without: no pandas)

    coefficients = pd.DataFrame(
        {
            "feature": list(design.names),
            "coefficient": beta,
            "ci_lower": lower[k:],
            "ci_upper": upper[k:],
        }
    )
    return _Estimate(fit.theta, lower[:k], upper[:k], fit, coefficients)


def _estimate_elo(
    battles: Battles,
    ci: str,
    rounds: int,
    rng: np.random.Generator,
    level: float,
    scale: RatingScale,
    k_factor: float,
    progress: _Progress,
) -> _Estimate:
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
        "k": k_factor,
        "scale": scale.scale,
        "base": scale.base,
        "initial": 0.0,
    }
    wts = None if np.all(w == 1.0) else w
    points = online_elo(battles.n_models, a, b, o, weight=wts, **params)
    ppn = scale.points_per_nat
    theta = points / ppn
    nan = np.full(battles.n_models, np.nan)
    if ci == "bootstrap":
        samples = online_elo_bootstrap(
            battles.n_models,
            a,
            b,
            o,
            rounds=rounds,
            rng=rng,
            weight=wts,
            progress=progress,
            **params,
        )
        lower, upper = percentile_interval(samples / ppn, level)
        return _Estimate(theta, lower, upper, None)
    return _Estimate(theta, nan, nan, None)


def _per_model_results(battles: Battles) -> tuple[Vector, Vector, Vector, Vector]:
    """Per model: wins, losses, ties (incl. both bad) and battles, weighted by count."""
    t = model_tallies(
        battles.n_models, battles.model_a, battles.model_b, battles.outcome, battles.count
    )
    return t[:, 0], t[:, 1], t[:, 2], t.sum(axis=1)


def compute_leaderboard(
    battles: Battles,
    *,
    method: str = "bt",
    ci: str = "sandwich",
    rounds: int = 100,
    seed: int = 0,
    level: float = 0.95,
    anchor: tuple[str, float] | None = None,
    style_control: bool = False,
    scale: RatingScale | None = None,
    k_factor: float = 4.0,
    progress: bool = False,
    inputs: Sequence[dict[str, str]] = (),
    filters: dict[str, Any] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> Leaderboard:
    """Rate the models of ``battles`` and return a reproducible :class:`Leaderboard`.

    Parameters
    ----------
    battles:
        The (already filtered) battles.
    method:
        ``"bt"`` (Bradley–Terry MLE, ties as half wins), ``"davidson"`` (explicit tie
        parameter) or ``"elo"`` (online Elo in timestamp / file order).
    ci:
        ``"sandwich"`` (robust normal interval; bt and davidson), ``"bootstrap"``
        (percentile interval over ``rounds`` resamples of the battles) or ``"none"``.
        Where the data cannot bound a model's rating (no maximum-likelihood estimate, or
        all its battles alike) its interval is widened to what the data and prior
        honestly allow and the table's ``ci_flag`` column says why (:data:`CI_FLAGS`,
        :func:`_interval_flags`, :func:`_widen`). Online Elo's bootstrap gets the same flags
        and, for flagged models, the reach of its update rule (:func:`_widen_elo`).
    rounds, seed:
        Bootstrap rounds and the seed of its random generator.
    level:
        Confidence level of the intervals (0.95).
    anchor:
        ``(model, rating)``: shift the scale so that this model has this rating. Without
        it the average model sits at ``scale.offset`` (online Elo: the initial rating).
    style_control:
        Fit Bradley–Terry with the battles' style features as covariates; the table then
        also has ``rating_plain, rank_plain, rank_change`` from the plain fit.
    scale:
        The rating scale (400 points, base 10, offset 1000 by default).
    k_factor:
        Online Elo K-factor.
    progress:
        Show a progress bar on stderr for bootstrap rounds.
    inputs:
        Fingerprints of the input files, recorded in the result.
    filters:
        The filters that produced ``battles``, recorded in the result's parameters.
    on_warning:
        Also called with each warning's text (the CLI prints them).
    """
    scale = scale or RatingScale()
    _check_options(method, ci, rounds, level, style_control)
    if len(battles) == 0 or battles.n_battles == 0:
        raise UserError("there are no battles to rate")
    if battles.n_models < 2:
        raise UserError(f"at least two models are needed to rate, found {battles.n_models}")
    if style_control and not battles.has_style:
        raise UserError(
            "style control needs per-side style features: answers (conversation_a/b) "
            "or style columns in the input"
        )
    anchor_idx = _anchor_index(battles, anchor)
    messages: list[str] = []
    rng = np.random.default_rng(seed)
    prior = 0.0
    diagnosis_text = ""
    diag: GraphDiagnosis | None = None
    with threadpool_limits(limits=1):
        if method != "elo":
            cells = cells_from_arrays(
                battles.n_models,
                battles.model_a,
                battles.model_b,
                battles.outcome,
                battles.count,
                battles.weight,
            )
            stats = cells.stats()
            if method == "davidson":
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
            if not diag.exists:
                prior = _prior_precision()
                diagnosis_text = diag.describe(battles.models)
                _warn(
                    messages,
                    "maximum-likelihood ratings do not exist for these battles: "
                    f"{diagnosis_text}. Ratings are kept finite by a weak prior "
                    f"(normal, sd {PRIOR_SD_POINTS:g} points on the 400-point scale), and "
                    "their intervals are at least as wide as its posterior's (see the "
                    "ci_flag column); read them with care.",
                )
        total_rounds = rounds if ci == "bootstrap" else 0
        bar = _Progress(progress, total_rounds * (2 if style_control else 1), "bootstrap")
        try:
            if method == "elo":
                est = _estimate_elo(battles, ci, rounds, rng, level, scale, k_factor, bar)
                plain = None
            else:
                plain = _estimate_pairwise(battles, method, ci, rounds, rng, level, prior, bar)
                est = plain
                if style_control:
                    assert plain.fit is not None
                    est = _estimate_style(
                        battles, ci, rounds, rng, level, prior, plain.fit, bar, messages
                    )
        finally:
            bar.close()

    wins, losses, ties_won, played = _per_model_results(battles)
    flags = np.full(battles.n_models, "", dtype=object)
    if method == "elo" and ci == "bootstrap":
        est, flags = _widen_elo(
            battles, est, k_factor / scale.points_per_nat, played, wins, losses, ties_won
        )
    if method != "elo" and ci != "none" and est.fit is not None:
        flags = _interval_flags(
            diag, np.column_stack([wins, losses, ties_won]), battles.n_models
        )
        members = flags != ""
        lower_w, upper_w = _widen(
            est.theta, est.lower, est.upper, est.fit, members, flags, level
        )
        est = _Estimate(est.theta, lower_w, upper_w, est.fit, est.coefficients)
        if style_control and plain is not None and plain.fit is not None:
            pl_w, pu_w = _widen(
                plain.theta, plain.lower, plain.upper, plain.fit, members, flags, level
            )
            plain = _Estimate(plain.theta, pl_w, pu_w, plain.fit)

    ppn = scale.points_per_nat
    base_offset = 0.0 if method == "elo" else scale.offset
    initial = scale.offset
    rating = (initial if method == "elo" else base_offset) + ppn * est.theta
    shift = 0.0
    if anchor is not None and anchor_idx is not None:
        shift = anchor[1] - rating[anchor_idx]
    rating = rating + shift
    centre_to_points = (initial if method == "elo" else base_offset) + shift
    lower = centre_to_points + ppn * est.lower
    upper = centre_to_points + ppn * est.upper
    have_ci = not np.isnan(lower).all()
    rank_ub = rank_upper_bound(lower, upper) if have_ci else rank_upper_bound(rating, rating)
    columns: dict[str, np.ndarray] = {
        "rank_ub": np.asarray(rank_ub),
        "model": np.asarray(list(battles.models), dtype=object),
        "rating": np.asarray(rating, np.float64),
        "ci_lower": np.asarray(lower, np.float64),
        "ci_upper": np.asarray(upper, np.float64),
        "battles": np.rint(played).astype(np.int64),
        "wins": np.rint(wins).astype(np.int64),
        "losses": np.rint(losses).astype(np.int64),
        "ties": np.rint(ties_won).astype(np.int64),
        "ci_flag": np.asarray([str(f) for f in flags], dtype=object),
    }
    if style_control and plain is not None:
        plain_rating = base_offset + ppn * plain.theta
        if anchor_idx is not None and anchor is not None:
            plain_rating += anchor[1] - plain_rating[anchor_idx]
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
    columns = {name: values[order] for name, values in columns.items()}

    fit = est.fit
    if fit is not None and fit.prior and not prior:
        prior = fit.prior
        _warn(
            messages,
            "the fit did not converge without regularisation; ratings use a weak prior "
            f"(normal, sd {PRIOR_SD_POINTS:g} points on the 400-point scale)",
        )
    params: dict[str, Any] = {
        "method": method,
        "ci": ci,
        "level": level,
        "rounds": rounds if ci == "bootstrap" else None,
        "seed": seed if ci == "bootstrap" else None,
        "anchor": {"model": anchor[0], "rating": anchor[1]} if anchor else None,
        "scale": scale.scale,
        "base": scale.base,
        "offset": scale.offset,
        "ties": "half a win to each side (both-bad counted as a tie)",
        "style_control": style_control,
        "filters": filters or {},
    }
    if method == "elo":
        params.update(
            {"k": k_factor, "initial": scale.offset, "order": "timestamp, then file order"}
        )
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
    for text in messages:
        if on_warning is not None:
            on_warning(text)
    return Leaderboard(
        columns=columns,
        method=method,
        params=params,
        n_battles=battles.n_battles,
        n_models=battles.n_models,
        data_sha256=battles.sha256(style=style_control),
        inputs=tuple(inputs),
        style_coefficients=est.coefficients,
        extras=extras,
        warnings=tuple(messages),
    )
