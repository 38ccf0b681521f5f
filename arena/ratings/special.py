"""The few special functions the ratings use, in numpy and the standard library.

The logistic function and its logarithm, ``logsumexp`` and the normal distribution's
CDF and quantile are all the ratings need from ``scipy.special``; importing it costs a
command-line run 0.1-0.2 s (it pulls ``scipy._lib.array_api_compat``, ``numpy.f2py`` and
``numpy.testing``), more than a whole Bradley–Terry fit on 1.67 M battles. These
versions are numerically as careful as scipy's: the logistic log never takes the log of
a rounded probability, and the normal quantile is Wichura's AS241 (the stdlib's
``statistics.NormalDist``, accurate to about 1e-16 like ``scipy.special.ndtri``).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["expit", "log_expit", "logsumexp", "ndtr", "ndtri"]

Vector = NDArray[np.float64]
_STANDARD_NORMAL = NormalDist()


def expit(x: ArrayLike) -> Vector:
    """The logistic function ``1 / (1 + exp(-x))``, without overflow warnings."""
    z = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


def log_expit(x: ArrayLike) -> Vector:
    """``log(expit(x)) = -log(1 + exp(-x))``, exact for large ``|x|`` in both directions."""
    z = np.asarray(x, dtype=np.float64)
    return np.asarray(-np.logaddexp(0.0, -z))


def logsumexp(a: ArrayLike, axis: int = 0) -> Vector:
    """``log(sum(exp(a), axis))``, computed around the maximum.

    It neither overflows nor underflows; a slice of all ``-inf`` gives ``-inf``.
    """
    x = np.asarray(a, dtype=np.float64)
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - top), axis=axis)) + np.squeeze(top, axis=axis)
    return np.asarray(out)


def ndtr(x: float) -> float:
    """The standard normal CDF at ``x`` (through ``erfc``, accurate in both tails)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def ndtri(p: float) -> float:
    """The standard normal quantile: ``-inf`` at 0, ``inf`` at 1, NaN outside [0, 1]."""
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        return math.nan
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    return _STANDARD_NORMAL.inv_cdf(p)
