"""Style control: Bradley–Terry with per-battle style covariates.

``logit P(A beats B) = theta_A - theta_B + beta . z`` where ``z`` holds, for each style
feature (answer length, headers, list items, bold), the normalised side difference
``(f_A - f_B) / (f_A + f_B + 1)`` standardised over the battles. ``beta`` measures how
much voters reward each feature; ``theta`` are the ratings with that effect removed
(LMArena's "style control", Li et al. 2024). Ties count as half a win, as in plain BT.

Unlike plain BT the likelihood does not reduce to per-pair counts (every battle has its
own covariates), so each Newton iteration is a pass over the battles. That pass (the
log-likelihood, its gradient and the information matrix together) is a few dozen numpy
operations over the battles (:func:`_style_pass`). A compiled numba loop doing the same
was timed at about the same speed per pass (0.25-0.35 s on 1.67 M battles either way),
so it never paid for the half second that loading numba costs a process (perf/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from arena.ratings.bt import Fit, centred_covariance
from arena.ratings.newton import maximise
from arena.ratings.special import expit, log_expit

__all__ = ["StyleDesign", "StyleRows", "fit_style_bt", "sandwich_style", "style_design"]

Vector = NDArray[np.float64]
Matrix = NDArray[np.float64]

_Y = np.array([1.0, 0.0, 0.5, 0.5])


def _style_pass(
    a: NDArray[np.int64],
    b: NDArray[np.int64],
    z: Matrix,
    nw: Vector,
    nwy: Vector,
    x: Vector,
    k: int,
) -> tuple[float, Vector, Matrix]:
    """Log-likelihood, gradient and information matrix at ``x``, in one pass over the battles.

    ``nw`` is ``count * weight`` and ``nwy`` is ``nw * y`` (``y`` the score of side A: 1,
    0 or 1/2). The log-likelihood ``sum nw (y log p + (1 - y) log(1 - p))`` is computed as
    ``sum nw log p - sum nw (1 - y) e`` with ``log p = log_expit(e)``, which is exact and
    overflow-free for any margin ``e``.
    """
    f = z.shape[1]
    e = x[a] - x[b]
    e += z @ x[k:]
    log_p = log_expit(e)
    ll = float(nw @ log_p - (nw - nwy) @ e)
    p = np.exp(log_p)
    q = nw * p
    r = nwy - q  # nw (y - p)
    grad = np.empty(k + f)
    grad[:k] = np.bincount(a, r, k) - np.bincount(b, r, k)
    grad[k:] = r @ z
    q *= 1.0 - p  # the information weight nw p (1 - p)
    off = np.bincount(a * k + b, q, k * k).reshape(k, k)
    off += off.T
    info = np.empty((k + f, k + f))
    info[:k, :k] = -off
    info[np.arange(k), np.arange(k)] += off.sum(axis=1)
    wz = q[:, None] * z
    cross = np.empty((k, f))
    for j in range(f):
        cross[:, j] = np.bincount(a, wz[:, j], k) - np.bincount(b, wz[:, j], k)
    info[:k, k:] = cross
    info[k:, :k] = cross.T
    info[k:, k:] = z.T @ wz
    return ll, grad, info


@dataclass(frozen=True)
class StyleDesign:
    """Standardised style covariates.

    Attributes
    ----------
    z:
        ``(n, k)`` standardised normalised differences, one column per kept feature.
    names:
        Names of the kept features.
    dropped:
        Features dropped because they do not vary over the battles.
    """

    z: Matrix
    names: tuple[str, ...]
    dropped: tuple[str, ...]


def style_design(
    style_a: Matrix, style_b: Matrix, names: tuple[str, ...], count: Vector
) -> StyleDesign:
    """Normalised differences ``(a - b) / (a + b + 1)``, standardised (count-weighted)."""
    diff = (style_a - style_b) / (style_a + style_b + 1.0)
    w = count / count.sum()
    mean = w @ diff
    std = np.sqrt(w @ (diff - mean) ** 2)
    keep = std > 1e-12
    z = (diff[:, keep] - mean[keep]) / std[keep]
    return StyleDesign(
        np.ascontiguousarray(z),
        tuple(n for n, k in zip(names, keep, strict=True) if k),
        tuple(n for n, k in zip(names, keep, strict=True) if not k),
    )


@dataclass(frozen=True)
class StyleRows:
    """Per-battle arrays of a style-controlled fit (rows are not aggregated)."""

    n_models: int
    a: NDArray[np.int64]
    b: NDArray[np.int64]
    y: Vector
    nw: Vector  # count * weight
    nw2: Vector  # count * weight**2
    z: Matrix

    @classmethod
    def build(
        cls,
        n_models: int,
        a: NDArray[np.integer],
        b: NDArray[np.integer],
        outcome: NDArray[np.integer],
        count: Vector,
        weight: Vector,
        z: Matrix,
    ) -> StyleRows:
        """Collect the arrays (one row per battle row)."""
        return cls(
            n_models,
            np.asarray(a, np.int64),
            np.asarray(b, np.int64),
            _Y[np.asarray(outcome, np.int64)],
            count * weight,
            count * weight**2,
            z,
        )

    def _matrix(self, w: Vector, pair_key: NDArray[np.int64]) -> Matrix:
        k, f = self.n_models, self.z.shape[1]
        out = np.empty((k + f, k + f))
        off = np.bincount(pair_key, weights=w, minlength=k * k).reshape(k, k)
        off = off + off.T
        out[:k, :k] = -off
        out[np.arange(k), np.arange(k)] += off.sum(axis=1)
        wz = w[:, None] * self.z
        cross = np.empty((k, f))
        for j in range(f):
            cross[:, j] = np.bincount(self.a, wz[:, j], k) - np.bincount(self.b, wz[:, j], k)
        out[:k, k:] = cross
        out[k:, :k] = cross.T
        out[k:, k:] = self.z.T @ wz
        return out


def fit_style_bt(
    rows: StyleRows, *, prior: float = 0.0, tol: float = 1e-10, start: Vector | None = None
) -> Fit:
    """Style-controlled Bradley–Terry by Newton's method.

    ``Fit.theta`` are the controlled strengths; the style coefficients are the last
    ``k`` parameters, returned in ``Fit.extra`` as ``beta_<i>`` (natural-log odds per
    standard deviation of the feature) and at the end of ``Fit.information``.
    """
    k, f = rows.n_models, rows.z.shape[1]
    z = np.ascontiguousarray(rows.z, dtype=np.float64)
    nw = np.ascontiguousarray(rows.nw, dtype=np.float64)
    nwy = nw * rows.y
    # Newton asks for the objective at a candidate and, once it is accepted, for the
    # derivatives at the same point: one pass computes all three and is remembered.
    last: list[Any] = [None, 0.0, None, None]

    def evaluate(x: Vector) -> tuple[float, Vector, Matrix]:
        if last[0] is None or not np.array_equal(last[0], x):
            ll, grad, info = _style_pass(rows.a, rows.b, z, nw, nwy, x, k)
            last[:] = [x.copy(), ll, grad, info]
        return last[1], last[2].copy(), last[3].copy()

    def objective(x: Vector) -> float:
        return evaluate(x)[0] - 0.5 * prior * float(np.dot(x[:k], x[:k]))

    def derivatives(x: Vector) -> tuple[Vector, Matrix]:
        _, grad, info = evaluate(x)
        if prior:
            grad[:k] -= prior * x[:k]
            info[np.arange(k), np.arange(k)] += prior
        return grad, info

    x0 = np.zeros(k + f)
    if start is not None:
        x0[: len(start)] = start
        x0[:k] -= x0[:k].mean()
    null = None
    if not prior:
        null = np.zeros(k + f)
        null[:k] = 1 / np.sqrt(k)
    res = maximise(objective, derivatives, x0, null=null, tol=tol)
    theta = res.params[:k] - res.params[:k].mean()
    extra = {f"beta_{j}": float(v) for j, v in enumerate(res.params[k:])}
    return Fit(theta, res.information, res.iterations, res.max_step, res.max_gradient, prior, extra)


def sandwich_style(rows: StyleRows, fit: Fit) -> Matrix:
    """Sandwich covariance of centred strengths followed by the style coefficients."""
    k, f = rows.n_models, rows.z.shape[1]
    beta = np.array([fit.extra[f"beta_{j}"] for j in range(f)])
    p = expit(fit.theta[rows.a] - fit.theta[rows.b] + rows.z @ beta)
    meat = rows._matrix(rows.nw2 * (rows.y - p) ** 2, rows.a * k + rows.b)
    return centred_covariance(fit.information, meat, k)
