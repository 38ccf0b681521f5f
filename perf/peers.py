"""Adapters that run the peer rating libraries on the same battle DataFrame as ours.

Every adapter takes a pandas DataFrame with string columns ``model_a``, ``model_b`` and
``winner`` (one of ``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``) -- the FastChat /
LMArena log layout -- and returns the ratings as a ``pd.Series`` indexed by model name,
on the Elo scale (400 points per factor of 10 in odds) with whatever centre the peer uses
(the benchmark re-centres before comparing). Confidence bounds, when the peer computes
them, are attached as ``series.attrs["ci_lower"]`` / ``series.attrs["ci_upper"]``
(``pd.Series`` on the same index).

The adapters only *call* the peers' public code, installed from PyPI (see
``perf/requirements-peers.txt``); nothing of the peers is copied here. Each converts the
DataFrame the way that peer's own documentation / notebooks do, and that conversion is
part of what the benchmark times, exactly as ``from_frame`` is for ours.

A peer that is not importable raises :class:`PeerUnavailable` ("not installed ...") so the
benchmark can report it and go on.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import math
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

#: Elo points per natural-log unit of strength: 400 / ln 10.
ELO_PER_NAT = 400.0 / math.log(10.0)

WINNER_LABELS = ("model_a", "model_b", "tie", "tie (bothbad)")


class PeerUnavailable(RuntimeError):
    """The peer library (or one of its runtime dependencies) cannot be imported."""


#: peer name -> (module that must import, PyPI distribution name)
PEERS: dict[str, tuple[str, str]] = {
    "arena-rank": ("arena_rank.models.bradley_terry", "arena-rank"),
    "evalica": ("evalica", "evalica"),
    "choix": ("choix", "choix"),
    "fastchat": ("fastchat.serve.monitor.elo_analysis", "fschat"),
}


def _import(peer: str) -> Any:
    module, dist = PEERS[peer]
    try:
        return importlib.import_module(module)
    except Exception as exc:  # ImportError, or a dependency that fails at import time
        raise PeerUnavailable(
            f"not installed ({dist}: {type(exc).__name__}: {exc})".replace("\n", " ")
        ) from exc


def peer_status() -> dict[str, str]:
    """``{peer: version}`` for importable peers, ``{peer: "not installed (...)"}`` otherwise."""
    out: dict[str, str] = {}
    for peer, (_, dist) in PEERS.items():
        try:
            _import(peer)
        except PeerUnavailable as exc:
            out[peer] = str(exc)
            continue
        out[peer] = importlib.metadata.version(dist)
    return out


def dependency_versions() -> dict[str, str]:
    """Versions of the peers' notable runtime dependencies that are installed."""
    out = {}
    for dist in ("jax", "jaxlib", "optax", "jaxtyping", "scikit-learn", "scipy"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[dist] = importlib.metadata.version(dist)
    return out


def _series(values: Any, index: Sequence[str] | pd.Index, **attrs: Any) -> pd.Series:
    s = pd.Series(np.asarray(values, dtype=np.float64), index=pd.Index(list(index), name="model"))
    s.name = "rating"
    for k, v in attrs.items():
        s.attrs[k] = v
    return s


def _codes(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Index]:
    """Shared integer codes for both sides + outcome codes 0..3 (glue for choix)."""
    n = len(df)
    codes, names = pd.factorize(pd.concat([df["model_a"], df["model_b"]], ignore_index=True))
    outcome = pd.Categorical(df["winner"], categories=list(WINNER_LABELS)).codes
    if (outcome < 0).any():
        raise ValueError("unexpected winner label")
    return codes[:n], codes[n:], np.asarray(outcome), pd.Index(names)


# --------------------------------------------------------------------------- arena-rank
@contextlib.contextmanager
def _start_method(method: str | None) -> Iterator[None]:
    """Temporarily make ``method`` the default multiprocessing start method."""
    if method is None:
        yield
        return
    before = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method(method, force=True)
    try:
        yield
    finally:
        multiprocessing.set_start_method(before, force=True)


def arena_rank_bt(
    df: pd.DataFrame,
    ci: str = "sandwich",
    rounds: int = 100,
    seed: int = 0,
    n_jobs: int = -1,
    start_method: str | None = "spawn",
) -> pd.Series:
    """arena-rank ``BradleyTerry`` (JAX, L-BFGS) with ``ci`` in sandwich|bootstrap|none.

    ``PairDataset.from_pandas`` aggregates identical (A, B, outcome) rows; its default
    outcome map scores ``tie`` and ``tie (bothbad)`` as 0.5. The bootstrap
    (``ci="bootstrap"``) draws multinomial counts and refits each round in a
    ``multiprocessing.Pool`` of ``n_jobs`` worker processes (-1: all CPUs). The pool is
    created with ``start_method`` (default ``"spawn"``): with Linux's default ``fork`` the
    workers forked from a process where JAX's threads are running deadlock (observed
    here: workers idle forever), which is the hazard JAX itself warns about. ``None``
    keeps the interpreter's current start method.
    """
    _import("arena-rank")
    from arena_rank.models.bradley_terry import BradleyTerry
    from arena_rank.utils.data_utils import PairDataset

    ds = PairDataset.from_pandas(df)
    model = BradleyTerry(n_competitors=len(ds.competitors))
    if ci == "none":
        model.fit(ds)
        scale = model.alpha
        ratings = np.asarray(model.params["ratings"]) * scale + model.init_rating
        return _series(ratings, ds.competitors)
    with _start_method(start_method if ci == "bootstrap" else None):
        res = model.compute_ratings_and_cis(
            ds, ci_method=ci, num_bootstrap=rounds, seed=seed, n_jobs=n_jobs
        )
    idx = res["competitors"]
    return _series(
        res["ratings"],
        idx,
        ci_lower=_series(res["rating_lower"], idx),
        ci_upper=_series(res["rating_upper"], idx),
    )


def style_diff_features(
    df: pd.DataFrame,
    features: Sequence[str],
    offset: float = 0.0,
    suffixes: tuple[str, str] = ("_a", "_b"),
) -> pd.DataFrame:
    """Per-battle normalised style differences ``(a - b) / (a + b + offset)`` (0 for 0/0).

    ``offset=0`` is LMArena's definition; ours uses ``offset=1``. arena-rank's contextual
    model takes ready-made feature columns, so this glue is timed as part of its run.
    """
    out = {}
    for f in features:
        a = df[f + suffixes[0]].to_numpy(np.float64)
        b = df[f + suffixes[1]].to_numpy(np.float64)
        s = a + b + offset
        out[f] = np.divide(a - b, s, out=np.zeros_like(s), where=s != 0)
    return pd.DataFrame(out, index=df.index)


def arena_rank_style_bt(
    df: pd.DataFrame,
    features: Sequence[str] = ("tokens", "headers", "list_items", "bold"),
    reweighted: bool = False,
    reg: float | None = None,
    offset: float = 0.0,
) -> pd.Series:
    """arena-rank ``ContextualBradleyTerry`` point fit (style control).

    Features: :func:`style_diff_features` (with ``offset``) of the per-side
    ``<feature>_a``/``<feature>_b`` columns, standardised by
    ``ContextualPairDataset.from_pandas``. ``reweighted=False`` is plain maximum
    likelihood (arena-rank's default weights battles by inverse pair frequency). ``reg``
    overrides arena-rank's L2 penalty on the style coefficients (its default: 1.0 on a
    mean log-likelihood, which shrinks them strongly). Coefficients in ``attrs["coeffs"]``.
    """
    _import("arena-rank")
    from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry
    from arena_rank.utils.data_utils import ContextualPairDataset

    feats = style_diff_features(df, features, offset=offset)
    frame = pd.concat([df[["model_a", "model_b", "winner"]], feats], axis=1)
    ds = ContextualPairDataset.from_pandas(frame, list(features), reweighted=reweighted)
    kw = {} if reg is None else {"reg": reg}
    model = ContextualBradleyTerry(len(ds.competitors), len(features), **kw)
    model.fit(ds)
    ratings = np.asarray(model.params["ratings"]) * model.alpha + model.init_rating
    coeffs = dict(zip(features, np.asarray(model.params["coeffs"]).tolist(), strict=True))
    return _series(ratings, ds.competitors, coeffs=coeffs)


# --------------------------------------------------------------------------- evalica
def _evalica_winners(df: pd.DataFrame) -> pd.Series:
    import evalica

    w = evalica.Winner
    return df["winner"].map(
        {"model_a": w.X, "model_b": w.Y, "tie": w.Draw, "tie (bothbad)": w.Draw}
    )


def evalica_bt(df: pd.DataFrame, tolerance: float = 1e-6, limit: int = 100) -> pd.Series:
    """evalica ``bradley_terry`` (Rust MM iterations; a tie counts half a win each side).

    evalica returns strengths ``exp(theta)``; converted here to ``400 log10``.
    ``tolerance``/``limit`` are evalica's convergence settings (its defaults).
    """
    evalica = _import("evalica")
    res = evalica.bradley_terry(
        df["model_a"], df["model_b"], _evalica_winners(df), tolerance=tolerance, limit=limit
    )
    scores = res.scores
    return _series(ELO_PER_NAT * np.log(scores.to_numpy()), scores.index, iterations=res.iterations)


def evalica_elo(df: pd.DataFrame, k: float = 4.0) -> pd.Series:
    """evalica ``elo`` (Rust online Elo, rows in DataFrame order, K=4, init 1000)."""
    evalica = _import("evalica")
    res = evalica.elo(df["model_a"], df["model_b"], _evalica_winners(df), k=k)
    return _series(res.scores.to_numpy(), res.scores.index)


# --------------------------------------------------------------------------- choix
def choix_ilsr(df: pd.DataFrame, max_iter: int = 1000, tol: float = 1e-8) -> pd.Series:
    """choix ``ilsr_pairwise_dense`` on the dense win matrix (a tie = half a win each).

    ``comp_mat[i, j]`` = wins of i over j; built from the DataFrame with numpy (timed).
    """
    choix = _import("choix")
    a, b, o, names = _codes(df)
    k = len(names)
    w_ab = np.select([o == 0, o == 1], [1.0, 0.0], 0.5)  # score of side A
    mat = np.bincount(a * k + b, weights=w_ab, minlength=k * k)
    mat += np.bincount(b * k + a, weights=1.0 - w_ab, minlength=k * k)
    params = choix.ilsr_pairwise_dense(mat.reshape(k, k), alpha=0.0, max_iter=max_iter, tol=tol)
    return _series(ELO_PER_NAT * params, names)


# --------------------------------------------------------------------------- FastChat
def fastchat_bt(df: pd.DataFrame) -> pd.Series:
    """FastChat (PyPI fschat 0.2.36) ``compute_elo_mle_with_tie``.

    Dense one-hot design (each battle duplicated so a tie = one win each way) fitted with
    scikit-learn ``LogisticRegression(fit_intercept=False)`` (lbfgs, its defaults).
    Newer FastChat (GitHub head, ``compute_mle_elo``) aggregates rows first; PyPI does not.
    """
    ea = _import("fastchat")
    return _series_from(ea.compute_elo_mle_with_tie(df))


def fastchat_bootstrap(df: pd.DataFrame, rounds: int = 100, seed: int = 0) -> pd.Series:
    """FastChat ``get_bootstrap_result(battles, compute_elo_mle_with_tie, rounds)``.

    Each round resamples the battle rows (``DataFrame.sample(frac=1, replace=True)``,
    seeded through numpy's global RNG) and refits. Returned ratings are the bootstrap
    medians (what the LMArena leaderboard showed), bounds the 2.5 / 97.5 % quantiles.
    It draws a tqdm progress bar; set ``TQDM_DISABLE=1`` before tqdm is imported to hide it.
    """
    ea = _import("fastchat")
    np.random.seed(seed)
    boot = ea.get_bootstrap_result(df, ea.compute_elo_mle_with_tie, num_round=rounds)
    med = boot.quantile(0.5)
    return _series(
        med.to_numpy(),
        med.index,
        ci_lower=_series_from(boot.quantile(0.025)),
        ci_upper=_series_from(boot.quantile(0.975)),
        rounds=rounds,
    )


def fastchat_elo(df: pd.DataFrame, k: float = 4.0) -> pd.Series:
    """FastChat ``compute_elo`` (pure-Python online Elo, rows in DataFrame order, K=4)."""
    ea = _import("fastchat")
    return _series_from(pd.Series(ea.compute_elo(df, K=k)))


def _series_from(s: pd.Series | dict[str, float]) -> pd.Series:
    s = pd.Series(s)
    return _series(s.to_numpy(), [str(i) for i in s.index])


#: name -> adapter, for ad-hoc use (``python -c "from perf.peers import ADAPTERS"``).
ADAPTERS: dict[str, Callable[..., pd.Series]] = {
    "arena-rank bt": arena_rank_bt,
    "arena-rank style bt": arena_rank_style_bt,
    "evalica bt": evalica_bt,
    "evalica elo": evalica_elo,
    "choix ilsr": choix_ilsr,
    "fastchat bt": fastchat_bt,
    "fastchat bootstrap": fastchat_bootstrap,
    "fastchat elo": fastchat_elo,
}
