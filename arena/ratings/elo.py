"""Online Elo ratings, updated battle by battle in order.

Each battle moves both ratings by ``K * weight * (score - expected)`` where ``score`` is
1, 0 or 1/2 (ties and both-bad) and ``expected = 1 / (1 + base ** ((r_other - r) / scale))``.
The loop is inherently sequential, so it runs compiled instead of as Python bytecode
(0.02 s for 1.67 M battles against about 1 s in Python): the C extension
``arena.ratings._elo`` (``_elo.c``, built by ``pip install``; it loads in microseconds),
or where it could not be built the same loop through numba, cached on disk after the
first call, which costs a process 0.5-0.7 s to load (perf/RESULTS.md). :func:`preload`
starts that load in a background thread, so that a command can read its battles
meanwhile (much of numba's load is LLVM work through ctypes, outside the interpreter
lock).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["c_kernel", "kernel", "numba_kernel", "online_elo", "online_elo_bootstrap"]

Vector = NDArray[np.float64]

_SCORE = np.array([1.0, 0.0, 0.5, 0.5])
_kernel: Any = None
_kernel_lock = threading.Lock()


def preload() -> threading.Thread:
    """Load the compiled kernel (numba and its cached machine code) in a daemon thread.

    The kernel is also called once on one battle, with the argument types
    :func:`online_elo` uses, so the machine code is ready when the real call comes.
    """

    def load() -> None:
        one = np.zeros(1, np.int64)
        kernel()(one, one, np.zeros(1), np.zeros(1), np.zeros(1), 400.0, 10.0)

    thread = threading.Thread(target=load, name="load online Elo kernel", daemon=True)
    thread.start()
    return thread


def kernel() -> Any:
    """The loop :func:`online_elo` runs: :func:`c_kernel`, else :func:`numba_kernel`."""
    global _kernel
    with _kernel_lock:
        if _kernel is None:
            _kernel = c_kernel() or numba_kernel()
        return _kernel


def c_kernel() -> Any | None:
    """The C version of the loop (``_elo.c``, built by ``pip install``), or None if not built.

    ``elo_loop(a, b, score, kw, ratings, scale, base)`` updates ``ratings`` in place; it
    checks its arguments' types, shapes and indices (a bad call is a ``TypeError`` or
    ``ValueError``, never a crash).
    """
    try:
        from arena.ratings._elo import elo_loop
    except ImportError:  # no C compiler at install time
        return None
    return elo_loop


@functools.cache
def numba_kernel() -> Any:
    """The numba version of the loop (the fallback; also what the C one is tested against)."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def elo_loop(
        a: Any, b: Any, score: Any, kw: Any, ratings: Any, scale: float, base: float
    ) -> None:
        log_base = np.log(base)
        for i in range(a.shape[0]):
            ia = a[i]
            ib = b[i]
            ra = ratings[ia]
            rb = ratings[ib]
            ea = 1.0 / (1.0 + np.exp(log_base * (rb - ra) / scale))
            delta = kw[i] * (score[i] - ea)
            ratings[ia] = ra + delta
            ratings[ib] = rb - delta

    return elo_loop


def online_elo(
    n_models: int,
    model_a: NDArray[np.integer],
    model_b: NDArray[np.integer],
    outcome: NDArray[np.integer],
    *,
    weight: Vector | None = None,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    initial: float = 1000.0,
) -> Vector:
    """Final online Elo ratings after replaying the battles in the given order.

    Parameters
    ----------
    n_models:
        Number of models.
    model_a, model_b, outcome:
        Battles in order; outcome 0 side A wins, 1 side B wins, 2 tie, 3 both bad.
    weight:
        Per-battle weight multiplying K (default 1).
    k, scale, base, initial:
        K-factor, logistic scale and base, starting rating.
    """
    ratings = np.full(n_models, float(initial))
    kw = (
        np.full(len(model_a), float(k))
        if weight is None
        else float(k) * np.asarray(weight, np.float64)
    )
    kernel()(
        np.ascontiguousarray(model_a, np.int64),
        np.ascontiguousarray(model_b, np.int64),
        _SCORE[np.asarray(outcome, np.int64)],
        kw,
        ratings,
        float(scale),
        float(base),
    )
    return ratings


def online_elo_bootstrap(
    n_models: int,
    model_a: NDArray[np.integer],
    model_b: NDArray[np.integer],
    outcome: NDArray[np.integer],
    *,
    rounds: int,
    rng: np.random.Generator,
    weight: Vector | None = None,
    progress: Any = None,
    **params: float,
) -> NDArray[np.float64]:
    """Online Elo on ``rounds`` bootstrap resamples of the battles.

    Each round draws as many battles as there are, with replacement, and replays them
    in their original (chronological) order, so the resampled history stays a history.
    Returns a ``(rounds, n_models)`` array.
    """
    n = len(model_a)
    out = np.empty((rounds, n_models))
    a = np.asarray(model_a, np.int64)
    b = np.asarray(model_b, np.int64)
    o = np.asarray(outcome, np.int64)
    w = None if weight is None else np.asarray(weight, np.float64)
    for r in range(rounds):
        idx = np.sort(rng.integers(0, n, size=n))
        out[r] = online_elo(
            n_models, a[idx], b[idx], o[idx], weight=None if w is None else w[idx], **params
        )
        if progress is not None:
            progress(1)
    return out
