"""Damped Newton ascent for the concave log-likelihoods of paired-comparison models.

Bradley–Terry, Davidson and style-controlled Bradley–Terry are all concave in their
parameters and invariant to adding a constant to every model strength. Newton's method
with a backtracking line search converges quadratically to the exact optimum in a
handful of iterations; the invariant direction is handled by adding a rank-one term to
the information matrix (the gradient is orthogonal to it, so the step is too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["NewtonResult", "maximise"]

Vector = NDArray[np.float64]
Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class NewtonResult:
    """Outcome of :func:`maximise`.

    Attributes
    ----------
    params:
        The maximiser.
    information:
        Negative Hessian of the objective at ``params`` (without the rank-one term).
    iterations:
        Newton iterations taken.
    max_step:
        Largest absolute parameter change in the last iteration.
    max_gradient:
        Largest absolute gradient entry at ``params``.
    """

    params: Vector
    information: Matrix
    iterations: int
    max_step: float
    max_gradient: float


def solve_information(information: Matrix, rhs: Vector, null: Vector | None) -> Vector:
    """Solve ``information @ x = rhs`` with ``x`` orthogonal to the unit vector ``null``.

    ``information`` may be singular along ``null`` (the shift invariance of ratings);
    adding ``c * null null^T`` makes it positive definite without changing the solution
    when ``rhs`` is orthogonal to ``null``.
    """
    a = information.copy()
    if null is not None:
        c = max(float(np.mean(np.diag(information))), 1e-12)
        a += c * np.outer(null, null)
    try:
        # Cholesky as the positive-definiteness check (numpy has no triangular solve;
        # LAPACK's LU on a matrix this size costs the same as the two triangular solves)
        np.linalg.cholesky(a)
        return np.asarray(np.linalg.solve(a, rhs))
    except np.linalg.LinAlgError:
        # not positive definite numerically (e.g. a disconnected design): least squares
        return np.asarray(np.linalg.lstsq(a, rhs, rcond=None)[0])


def maximise(
    objective: Callable[[Vector], float],
    derivatives: Callable[[Vector], tuple[Vector, Matrix]],
    start: Vector,
    *,
    null: Vector | None = None,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> NewtonResult:
    """Maximise a concave ``objective`` by damped Newton steps.

    Parameters
    ----------
    objective:
        The function to maximise (log-likelihood plus log-prior).
    derivatives:
        Returns ``(gradient, information)`` where ``information`` is the negative Hessian.
    start:
        Starting parameters.
    null:
        Unit vector of a direction along which the objective is constant, or None.
    tol:
        Convergence tolerance on the largest parameter change of a full Newton step.
    max_iter:
        Iteration cap; exceeding it raises :class:`RuntimeError`.

    Returns
    -------
    NewtonResult
    """
    params = np.array(start, dtype=np.float64)
    value = objective(params)
    for iteration in range(1, max_iter + 1):
        grad, info = derivatives(params)
        step = solve_information(info, grad, null)
        max_step = float(np.max(np.abs(step))) if step.size else 0.0
        if not np.isfinite(max_step):
            raise RuntimeError("Newton step is not finite; the data may be degenerate")
        t = 1.0
        while True:
            candidate = params + t * step
            new_value = objective(candidate)
            # accept any non-decrease (allowing for rounding once near the optimum)
            if new_value >= value - 1e-12 * max(1.0, abs(value)) or t < 1e-10:
                break
            t *= 0.5
        params, value = candidate, new_value
        if max_step * t <= tol:
            grad, info = derivatives(params)
            return NewtonResult(
                params=params,
                information=info,
                iterations=iteration,
                max_step=max_step * t,
                max_gradient=float(np.max(np.abs(grad))) if grad.size else 0.0,
            )
    raise RuntimeError(f"Newton iteration did not converge to {tol:g} within {max_iter} iterations")
