"""Pairwise model-by-model matrices: battle counts, observed and predicted win rates.

These are the tables behind the usual arena heatmaps. They are computed from the
integer codes of a :class:`~arena.battles.table.Battles` table with :func:`numpy.bincount`
over flattened pair indices, so 3 million battles between 300 models take well under a
second. Rows and columns are labelled by model name (index name ``"model"``, columns
name ``"opponent"``); every function takes an optional ``order`` to pick and order the
models shown, e.g. by rating.

They live beside the battle table rather than in :mod:`arena.ratings`, which takes and
returns plain arrays only (a layer contract in pyproject.toml): these are pandas tables
labelled by model name, read off a :class:`Battles` record.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from arena.battles.table import Battles, Outcome

__all__ = ["count_matrix", "predicted_win_matrix", "win_rate_matrix"]


def _pair_totals(battles: Battles, weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sum ``weights`` per (side A model, side B model) pair into a ``(k, k)`` array."""
    k = battles.n_models
    flat = battles.model_a.astype(np.int64) * k + battles.model_b.astype(np.int64)
    totals = np.bincount(flat, weights=weights, minlength=k * k)
    return np.asarray(totals, dtype=np.float64).reshape(k, k)


def _symmetric_counts(battles: Battles) -> NDArray[np.float64]:
    """Count battles between each unordered pair, whichever side each model was on.

    A self-battle (same model on both sides) is counted once on the diagonal.
    """
    by_side = _pair_totals(battles, battles.count.astype(np.float64))
    return by_side + by_side.T - np.diag(np.diag(by_side))


def _labelled(
    values: NDArray[np.float64], models: Sequence[str], order: Sequence[str] | None
) -> pd.DataFrame:
    """Label ``values`` by ``models``, keeping and ordering the models in ``order``.

    Raises
    ------
    ValueError
        If ``order`` repeats a model or names one that is not in ``models``.
    """
    index = pd.Index(list(models), name="model")
    frame = pd.DataFrame(values, index=index, columns=pd.Index(list(models), name="opponent"))
    if order is None:
        return frame
    wanted = [str(m) for m in order]
    if len(set(wanted)) != len(wanted):
        raise ValueError("order lists a model more than once")
    unknown = [m for m in wanted if m not in set(models)]
    if unknown:
        shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise ValueError(f"order names models that are not in the data: {shown}")
    return frame.loc[wanted, wanted]


def count_matrix(battles: Battles, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Count the battles between each pair of models (symmetric, ``int64``).

    Rows are counted with their multiplicity ``count`` and regardless of which side each
    model was shown on; weights are ignored. Pairs that never met have 0.

    Parameters
    ----------
    battles:
        The battle table.
    order:
        Models to show, in this order (default: all, in ``battles.models`` order).
    """
    counts = np.rint(_symmetric_counts(battles))
    return _labelled(counts, battles.models, order).astype(np.int64)


def win_rate_matrix(battles: Battles, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Compute the observed rate at which the row model beat the column model.

    A win scores 1, a tie or a both-bad vote 0.5 for each side, counted with ``count``
    (weights are ignored, so this is what voters saw). Side-agnostic: X beating Y counts
    the same whether X was on side A or B. Cells of pairs that never met, and the
    diagonal, are NaN. Where defined, ``W[x, y] + W[y, x] == 1``.

    Parameters
    ----------
    battles:
        The battle table.
    order:
        Models to show, in this order (default: all, in ``battles.models`` order).
    """
    count = battles.count.astype(np.float64)
    outcome = battles.outcome
    score_a = np.where(outcome == Outcome.A, 1.0, np.where(outcome == Outcome.B, 0.0, 0.5))
    points = _pair_totals(battles, count * score_a)  # side A's points, at [a, b]
    points += _pair_totals(battles, count * (1.0 - score_a)).T  # side B's points, at [b, a]
    totals = _symmetric_counts(battles)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(totals > 0, points / np.where(totals > 0, totals, 1.0), np.nan)
    np.fill_diagonal(rates, np.nan)
    return _labelled(rates, battles.models, order)


def predicted_win_matrix(
    ratings: pd.Series,
    *,
    scale: float = 400.0,
    base: float = 10.0,
    order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Predict the probability that the row model beats the column one from ratings.

    ``P(row beats col) = 1 / (1 + base ** ((r_col - r_row) / scale))``, i.e. the
    Bradley-Terry / Elo logistic curve on the rating scale the leaderboard used. Computed
    as a hyperbolic tangent, so huge rating gaps give 0 or 1 without overflow warnings.
    The diagonal is NaN; a model with a NaN rating gets a NaN row and column.

    Parameters
    ----------
    ratings:
        Ratings indexed by model name (e.g. ``lb.table.set_index("model")["rating"]``).
    scale, base:
        The leaderboard's rating scale: ``scale`` points mean odds of ``base`` to 1.
    order:
        Models to show, in this order (default: the order of ``ratings``).

    Raises
    ------
    ValueError
        If ``scale`` is not positive, ``base`` is not positive and different from 1, or a
        model appears twice in ``ratings``.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if not (base > 0 and base != 1):
        raise ValueError(f"base must be positive and different from 1, got {base}")
    models = [str(m) for m in ratings.index]
    if len(set(models)) != len(models):
        raise ValueError("ratings has a model more than once")
    r = ratings.to_numpy(dtype=np.float64)
    logit = (r[:, None] - r[None, :]) * (np.log(base) / scale)
    probs = 0.5 * (1.0 + np.tanh(0.5 * logit))
    np.fill_diagonal(probs, np.nan)
    return _labelled(probs, models, order)
