"""Intervals that never claim more than the data hold: the ``ci_flag`` column.

Where the data cannot bound a model's rating (no maximum-likelihood estimate, or all its
battles alike) the sandwich or bootstrap interval would be too narrow, or undefined.
:func:`interval_flags` says which models and why (:data:`CI_FLAGS`); :func:`widen` and
:func:`widen_elo` widen their intervals to what the data and the prior honestly allow.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from arena.battles.table import Battles
from arena.leaderboard.estimate import Estimate
from arena.ratings.bt import Fit, centred_covariance
from arena.ratings.graph import GraphDiagnosis, diagnose
from arena.ratings.intervals import normal_interval
from arena.ratings.pairs import cells_from_arrays
from arena.ratings.special import ndtr, ndtri

__all__ = ["CI_FLAGS", "interval_flags", "widen", "widen_elo"]

Vector = NDArray[np.float64]

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


def interval_flags(
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

    Only flagged models have their interval widened (:func:`widen`); the others keep the
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


def widen(
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


def widen_elo(
    battles: Battles, est: Estimate, k_nats: float, tallies: NDArray[np.float64]
) -> tuple[Estimate, NDArray[np.object_]]:
    """Online Elo's bootstrap where it cannot measure a spread: the reach of the update rule.

    Online Elo has no likelihood to fall back on. Where Bradley–Terry's would flag a model
    (:func:`interval_flags`: no maximum-likelihood estimate, or all its battles alike,
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
    flags = interval_flags(diag, tallies[:, :3], battles.n_models)
    played = tallies.sum(axis=1)
    members = flags != ""
    if not members.any():
        return est, flags
    max_weight = float(battles.weight.max()) if len(battles.weight) else 1.0
    reach = k_nats * max_weight * played
    lower = np.where(members, np.fmin(est.lower, -reach), est.lower)
    upper = np.where(members, np.fmax(est.upper, reach), est.upper)
    return Estimate(est.theta, lower, upper, est.fit, est.coefficients), flags
