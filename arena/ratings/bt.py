"""Bradley–Terry maximum likelihood on per-pair statistics, with sandwich covariance.

Model: ``P(i beats j) = 1 / (1 + exp(theta_j - theta_i))``. Ties and both-bad votes count
as half a win to each side (the LMArena convention), so a pair's log-likelihood is
``S log p + (N - S) log(1 - p)`` with ``S`` the half-tie score of the first model.
The optimum is found by Newton's method to a reported tolerance, not stopped after a
fixed number of iterations.

References
----------
Bradley & Terry (1952), Biometrika 39; Chiang et al. (2024), "Chatbot Arena", ICML.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from arena.ratings.graph import laplacian
from arena.ratings.newton import maximise
from arena.ratings.pairs import PairStats, wsum
from arena.ratings.special import expit, log_expit

__all__ = ["Fit", "centred_covariance", "fit_bt", "sandwich_bt"]

Vector = NDArray[np.float64]
Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class Fit:
    """A fitted paired-comparison model.

    Attributes
    ----------
    theta:
        Natural-log strengths, centred to mean zero.
    information:
        Negative Hessian of the penalised log-likelihood at the optimum (all parameters).
    iterations, max_step, max_gradient:
        Convergence report of the Newton iteration.
    prior:
        Precision of the Gaussian prior on ``theta`` (0 for the plain MLE).
    extra:
        Further fitted parameters (Davidson: ``log_nu``), after ``theta`` in ``information``.
    """

    theta: Vector
    information: Matrix
    iterations: int
    max_step: float
    max_gradient: float
    prior: float
    extra: dict[str, float] = field(default_factory=dict)


def _bt_pieces(stats: PairStats, theta: Vector) -> tuple[Vector, Vector, Vector]:
    d = theta[stats.lo] - theta[stats.hi]
    return d, expit(d), stats.n


def fit_bt(
    stats: PairStats,
    n_models: int,
    *,
    prior: float = 0.0,
    tol: float = 1e-10,
    start: Vector | None = None,
) -> Fit:
    """Bradley–Terry strengths maximising the (optionally penalised) likelihood.

    Parameters
    ----------
    stats:
        Per-pair outcome totals.
    n_models:
        Number of models.
    prior:
        Precision ``lambda`` of an N(0, 1/lambda) prior on each strength; 0 gives the
        plain MLE, which exists only when the comparison graph is strongly connected.
    tol:
        Convergence tolerance on the largest Newton step (natural-log units).
    start:
        Starting strengths (e.g. a previous fit, to speed up bootstrap rounds).
    """
    s, n = stats.lo_score, stats.n

    def objective(theta: Vector) -> float:
        d = theta[stats.lo] - theta[stats.hi]
        ll = float(np.dot(s, log_expit(d)) + np.dot(n - s, log_expit(-d)))
        return ll - 0.5 * prior * float(np.dot(theta, theta))

    def derivatives(theta: Vector) -> tuple[Vector, Matrix]:
        _, p, _ = _bt_pieces(stats, theta)
        r = s - n * p
        grad = wsum(stats.lo, r, n_models) - wsum(stats.hi, r, n_models)
        info = laplacian(n_models, stats.lo, stats.hi, n * p * (1 - p))
        if prior:
            grad -= prior * theta
            info[np.diag_indices(n_models)] += prior
        return grad, info

    null = None if prior else np.full(n_models, 1 / np.sqrt(n_models))
    x0 = np.zeros(n_models) if start is None else start - start.mean()
    res = maximise(objective, derivatives, x0, null=null, tol=tol)
    theta = res.params - res.params.mean()
    return Fit(theta, res.information, res.iterations, res.max_step, res.max_gradient, prior)


def centred_covariance(bread: Matrix, meat: Matrix, n_models: int) -> Matrix:
    """Sandwich ``A^+ B A^+`` restricted to mean-zero strengths.

    ``bread`` may be singular along the all-ones direction of the first ``n_models``
    coordinates (the ratings' shift invariance); the result is the covariance of the
    centred strengths (ratings relative to the average model), followed by any extra
    parameters.
    """
    k = bread.shape[0]
    u = np.zeros(k)
    u[:n_models] = 1 / np.sqrt(n_models)
    c = max(float(np.mean(np.diag(bread))), 1e-12)
    a = bread + c * np.outer(u, u)
    try:
        inv = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(a)
    proj = np.eye(k) - np.outer(u, u)
    left = proj @ inv
    cov = left @ meat @ left.T
    return np.asarray(0.5 * (cov + cov.T))


def sandwich_bt(stats: PairStats, fit: Fit, n_models: int) -> Matrix:
    """Robust (sandwich) covariance of the centred Bradley–Terry strengths.

    Bread: the observed information; meat: the sum over battles of the outer products of
    per-battle scores ``w (y - p) (e_i - e_j)``, with ``y`` = 1, 0 or 1/2 for a tie. Robust
    to misspecification such as ties that are not really half wins (Huber 1967; the
    LMArena leaderboard's default interval).
    """
    _, p, _ = _bt_pieces(stats, fit.theta)
    q = stats.squares
    meat_w = q[:, 0] * (1 - p) ** 2 + q[:, 1] * p**2 + (q[:, 2] + q[:, 3]) * (0.5 - p) ** 2
    meat = laplacian(n_models, stats.lo, stats.hi, meat_w)
    return centred_covariance(fit.information, meat, n_models)
