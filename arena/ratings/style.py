"""Style control: Bradley–Terry with per-battle style covariates.

``logit P(A beats B) = theta_A - theta_B + beta . z`` where ``z`` holds, for each style
feature (answer length, headers, list items, bold), the normalised side difference
``(f_A - f_B) / (f_A + f_B + 1)`` standardised over the battles. ``beta`` measures how
much voters reward each feature; ``theta`` are the ratings with that effect removed
(LMArena's "style control", Li et al. 2024). Ties count as half a win, as in plain BT.

Unlike plain BT the likelihood does not reduce to per-pair counts (every battle has its
own covariates), so each Newton iteration is a pass over the battles. That pass (the
log-likelihood, its gradient and the information matrix together) is one compiled numba
loop: numpy would need a dozen temporaries of the battles' length per iteration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from arena.ratings.bt import Fit, centred_covariance
from arena.ratings.newton import maximise

__all__ = ["StyleDesign", "StyleRows", "fit_style_bt", "sandwich_style", "style_design"]

Vector = NDArray[np.float64]
Matrix = NDArray[np.float64]

_Y = np.array([1.0, 0.0, 0.5, 0.5])
_kernel: Any = None


def _compiled() -> Any:
    """The numba kernel of one pass over the battles, compiled (or loaded) on first use.

    ``style_pass(a, b, z, nw, y, x, k, grad, info)`` returns the log-likelihood at ``x``
    and, when ``grad`` is non-empty, adds the gradient into ``grad`` and, when ``info``
    is non-empty, the information matrix (upper triangle of the style block only) into
    ``info``. Logistic terms are computed in the overflow-free form.
    """
    global _kernel
    if _kernel is None:
        import numba

        @numba.njit(cache=True, nogil=True)
        def style_pass(
            a: Any, b: Any, z: Any, nw: Any, y: Any, x: Any, k: int, grad: Any, info: Any
        ) -> float:
            f = z.shape[1]
            want_grad = grad.shape[0] > 0
            want_info = info.shape[0] > 0
            ll = 0.0
            for i in range(a.shape[0]):
                ai = a[i]
                bi = b[i]
                e = x[ai] - x[bi]
                for j in range(f):
                    e += z[i, j] * x[k + j]
                if e >= 0.0:
                    t = np.exp(-e)
                    l1 = np.log1p(t)
                    log_p = -l1
                    log_q = -e - l1
                    p = 1.0 / (1.0 + t)
                else:
                    t = np.exp(e)
                    l1 = np.log1p(t)
                    log_p = e - l1
                    log_q = -l1
                    p = t / (1.0 + t)
                ll += nw[i] * (y[i] * log_p + (1.0 - y[i]) * log_q)
                if want_grad:
                    r = nw[i] * (y[i] - p)
                    grad[ai] += r
                    grad[bi] -= r
                    for j in range(f):
                        grad[k + j] += z[i, j] * r
                if want_info:
                    w = nw[i] * p * (1.0 - p)
                    info[ai, ai] += w
                    info[bi, bi] += w
                    info[ai, bi] -= w
                    info[bi, ai] -= w
                    for j in range(f):
                        wz = w * z[i, j]
                        info[ai, k + j] += wz
                        info[bi, k + j] -= wz
                        for m in range(j, f):
                            info[k + j, k + m] += wz * z[i, m]
            return ll

        _kernel = style_pass
    return _kernel


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
    kernel = _compiled()
    z = np.ascontiguousarray(rows.z, dtype=np.float64)
    nw = np.ascontiguousarray(rows.nw, dtype=np.float64)
    y = np.ascontiguousarray(rows.y, dtype=np.float64)
    # Newton asks for the objective at a candidate and, once it is accepted, for the
    # derivatives at the same point: one pass computes all three and is remembered.
    last: list[Any] = [None, 0.0, None, None]

    def evaluate(x: Vector) -> tuple[float, Vector, Matrix]:
        if last[0] is None or not np.array_equal(last[0], x):
            grad = np.zeros(k + f)
            info = np.zeros((k + f, k + f))
            ll = float(kernel(rows.a, rows.b, z, nw, y, x, k, grad, info))
            upper = np.triu(info[k:, k:])
            info[k:, k:] = upper + np.triu(upper, 1).T
            info[k:, :k] = info[:k, k:].T
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
