"""Davidson's (1970) extension of Bradley–Terry with an explicit tie parameter.

``P(i beats j) = pi_i / D``, ``P(j beats i) = pi_j / D``, ``P(tie) = nu sqrt(pi_i pi_j) / D``
with ``D = pi_i + pi_j + nu sqrt(pi_i pi_j)`` and ``pi = exp(theta)``. Both-bad votes count
as ties. Win/loss odds keep the Bradley–Terry form, so strengths share the arena scale.

Reference: Davidson, R. R. (1970), JASA 65(329), 317–328.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from arena.ratings.bt import Fit, centred_covariance
from arena.ratings.graph import laplacian
from arena.ratings.newton import maximise
from arena.ratings.pairs import PairStats
from arena.ratings.special import logsumexp

__all__ = ["fit_davidson", "sandwich_davidson", "tie_totals"]

Vector = NDArray[np.float64]
Matrix = NDArray[np.float64]


def _probabilities(d: Vector, log_nu: float) -> tuple[Vector, Vector, Vector]:
    half = 0.5 * d
    log_den = logsumexp(np.stack([half, -half, np.full_like(d, log_nu)]), axis=0)
    return np.exp(half - log_den), np.exp(-half - log_den), np.exp(log_nu - log_den)


def _split(stats: PairStats) -> tuple[Vector, Vector, Vector]:
    t = stats.totals
    return t[:, 0], t[:, 1], t[:, 2] + t[:, 3]


def _assemble(n_models: int, stats: PairStats, dd: Vector, de: Vector, ee: float) -> Matrix:
    k = n_models
    out = np.zeros((k + 1, k + 1))
    out[:k, :k] = laplacian(k, stats.lo, stats.hi, dd)
    col = np.bincount(stats.lo, de, k) - np.bincount(stats.hi, de, k)
    out[:k, k] = col
    out[k, :k] = col
    out[k, k] = ee
    return out


def tie_totals(stats: PairStats) -> tuple[float, float]:
    """Weighted number of ties (both-bad included) and of all battles.

    Davidson's tie parameter has a finite, positive MLE only when ``0 < ties < total``:
    without ties ``nu -> 0`` and the likelihood becomes Bradley–Terry's on the decisive
    battles; with only ties ``nu -> infinity`` and equal strengths maximise it.
    """
    t = stats.totals
    return float((t[:, 2] + t[:, 3]).sum()), float(t.sum())


def fit_davidson(
    stats: PairStats,
    n_models: int,
    *,
    prior: float = 0.0,
    tol: float = 1e-10,
    start: Vector | None = None,
) -> Fit:
    """Davidson strengths and tie parameter by Newton's method.

    ``Fit.extra`` holds ``log_nu`` and ``nu``; ``Fit.information`` is ``(K+1, K+1)`` with
    ``log nu`` last. Raises ``ValueError`` when the data have no tie or only ties (the
    tie parameter would be 0 or infinite).
    """
    wins, losses, ties = _split(stats)
    n = wins + losses + ties
    total_ties, total = tie_totals(stats)
    if total_ties <= 0 or total_ties >= total:
        raise ValueError(
            "the Davidson model needs both ties and decisive battles "
            f"(found {total_ties:g} ties among {total:g} battles); use the bt method"
        )
    k = n_models

    def objective(x: Vector) -> float:
        theta, log_nu = x[:k], x[k]
        d = theta[stats.lo] - theta[stats.hi]
        half = 0.5 * d
        log_den = logsumexp(np.stack([half, -half, np.full_like(d, log_nu)]), axis=0)
        ll = float(np.dot(wins - losses, half) + total_ties * log_nu - np.dot(n, log_den))
        return ll - 0.5 * prior * float(np.dot(theta, theta))

    def derivatives(x: Vector) -> tuple[Vector, Matrix]:
        theta, log_nu = x[:k], x[k]
        d = theta[stats.lo] - theta[stats.hi]
        a, b, t = _probabilities(d, log_nu)
        g_d = 0.5 * (wins - losses) - 0.5 * n * (a - b)
        grad = np.empty(k + 1)
        grad[:k] = np.bincount(stats.lo, g_d, k) - np.bincount(stats.hi, g_d, k)
        grad[k] = total_ties - float(np.dot(n, t))
        info = _assemble(
            k,
            stats,
            0.25 * n * (a + b - (a - b) ** 2),
            -0.5 * n * t * (a - b),
            float(np.dot(n, t * (1 - t))),
        )
        if prior:
            grad[:k] -= prior * theta
            info[np.arange(k), np.arange(k)] += prior
        return grad, info

    share = total_ties / total
    x0 = np.zeros(k + 1)
    if start is not None:
        x0[:k] = start[:k] - start[:k].mean()
    x0[k] = np.log(2 * share / (1 - share))
    null = None
    if not prior:
        null = np.zeros(k + 1)
        null[:k] = 1 / np.sqrt(k)
    res = maximise(objective, derivatives, x0, null=null, tol=tol)
    theta = res.params[:k] - res.params[:k].mean()
    log_nu = float(res.params[k])
    return Fit(
        theta,
        res.information,
        res.iterations,
        res.max_step,
        res.max_gradient,
        prior,
        extra={"log_nu": log_nu, "nu": float(np.exp(log_nu))},
    )


def sandwich_davidson(stats: PairStats, fit: Fit, n_models: int) -> Matrix:
    """Sandwich covariance of the centred strengths and ``log nu`` (last coordinate)."""
    d = fit.theta[stats.lo] - fit.theta[stats.hi]
    a, b, t = _probabilities(d, fit.extra["log_nu"])
    q = stats.squares
    q_win, q_loss, q_tie = q[:, 0], q[:, 1], q[:, 2] + q[:, 3]
    diff = a - b
    # per-battle scores (d-part, log-nu part) for each outcome
    sd = ((1 - diff) / 2, (-1 - diff) / 2, -diff / 2)
    se = (-t, -t, 1 - t)
    qs = (q_win, q_loss, q_tie)
    dd = sum(qo * s * s for qo, s in zip(qs, sd, strict=True))
    de = sum(qo * s * e for qo, s, e in zip(qs, sd, se, strict=True))
    ee = float(sum(np.sum(qo * e * e) for qo, e in zip(qs, se, strict=True)))
    meat = _assemble(n_models, stats, np.asarray(dd), np.asarray(de), ee)
    return centred_covariance(fit.information, meat, n_models)
