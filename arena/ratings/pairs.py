"""Battles reduced to per-pair sufficient statistics.

Bradley–Terry and Davidson likelihoods depend on the data only through, for each
unordered pair of models and each outcome, the (weighted) number of battles. Reducing
1.67 M battle rows to a few thousand cells makes every fit and every bootstrap round
cost microseconds per pair instead of per battle.

Orientation: every pair is stored as ``(lo, hi)`` with ``lo < hi``; outcome codes are
relative to that orientation: 0 ``lo`` wins, 1 ``hi`` wins, 2 tie, 3 both bad.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["PairCells", "PairStats", "cells_from_arrays", "model_tallies", "wsum"]

#: Above this many (pair, outcome) bins a dense ``bincount`` would waste memory.
_DENSE_BIN_LIMIT = 8_000_000


def _ordered_bins(
    n_models: int,
    model_a: NDArray[np.integer],
    model_b: NDArray[np.integer],
    outcome: NDArray[np.integer],
    count: NDArray[np.floating],
) -> NDArray[np.float64]:
    """Count-weighted battles per (side A, side B, outcome) as an ``(n, n, 4)`` array.

    One ``bincount`` on the key ``(a * n + b) * 4 + outcome``, built in place in int32:
    four elementwise passes over the battles and the count, a few milliseconds for
    millions of rows. (These loops used to be numba
    kernels; loading numba and its cached machine code costs about half a second per
    process, a hundred times the numpy passes; see perf/RESULTS.md.)
    """
    # keys stay below 4 n^2 <= _DENSE_BIN_LIMIT (callers check), so int32 holds them
    key: NDArray[np.int32] = np.array(model_a, dtype=np.int32)  # a copy, changed in place
    key *= n_models
    key += np.asarray(model_b, dtype=np.int32)
    key *= 4
    key += np.asarray(outcome, dtype=np.int32)
    cnt = np.asarray(count)
    size = 4 * n_models * n_models
    binned: NDArray[np.float64]
    if cnt.dtype.kind in "iu" and cnt.size and int(cnt.min()) == 1 == int(cnt.max()):
        binned = np.bincount(key, minlength=size).astype(np.float64)
    else:
        binned = np.asarray(
            np.bincount(key, weights=cnt.astype(np.float64, copy=False), minlength=size),
            dtype=np.float64,
        )
    return binned.reshape(n_models, n_models, 4)


def model_tallies(
    n_models: int,
    model_a: NDArray[np.integer],
    model_b: NDArray[np.integer],
    outcome: NDArray[np.integer],
    count: NDArray[np.integer] | NDArray[np.floating],
) -> NDArray[np.float64]:
    """Per model, the (count-weighted) ``[wins, losses, ties]`` as an ``(n_models, 3)`` array.

    Ties and both-bad votes are ties. Up to :data:`_DENSE_BIN_LIMIT` bins, one pass
    (:func:`_ordered_bins`) summed over each side; beyond it, one ``bincount`` per side
    on ``model * 3 + column``.
    """
    if 4 * n_models * n_models <= _DENSE_BIN_LIMIT:
        bins = _ordered_bins(n_models, model_a, model_b, outcome, np.asarray(count))
        as_a = bins.sum(axis=1)  # (n, 4) by side-A model
        as_b = bins.sum(axis=0)  # (n, 4) by side-B model
        out = np.empty((n_models, 3))
        out[:, 0] = as_a[:, 0] + as_b[:, 1]
        out[:, 1] = as_a[:, 1] + as_b[:, 0]
        out[:, 2] = as_a[:, 2] + as_a[:, 3] + as_b[:, 2] + as_b[:, 3]
        return out
    o = np.asarray(outcome, dtype=np.int64)
    cnt = np.asarray(count, dtype=np.float64)
    col_a = np.array([0, 1, 2, 2])[o]
    col_b = np.array([1, 0, 2, 2])[o]
    size = 3 * n_models
    tallies = np.bincount(np.asarray(model_a, np.int64) * 3 + col_a, cnt, size) + np.bincount(
        np.asarray(model_b, np.int64) * 3 + col_b, cnt, size
    )
    return np.asarray(tallies, dtype=np.float64).reshape(n_models, 3)


@dataclass(frozen=True)
class PairStats:
    """Weighted outcome totals per unordered pair.

    Attributes
    ----------
    lo, hi:
        Model codes of each pair, ``lo < hi``.
    totals:
        ``(P, 4)`` sums of ``count * weight`` per outcome (lo wins, hi wins, tie, both bad).
    squares:
        ``(P, 4)`` sums of ``count * weight**2`` per outcome (for the sandwich "meat").
    """

    lo: NDArray[np.int64]
    hi: NDArray[np.int64]
    totals: NDArray[np.float64]
    squares: NDArray[np.float64]

    @property
    def n(self) -> NDArray[np.float64]:
        """Weighted number of battles per pair."""
        return np.asarray(self.totals.sum(axis=1), dtype=np.float64)

    @property
    def lo_score(self) -> NDArray[np.float64]:
        """Weighted wins of ``lo`` with ties and both-bad counted as half a win."""
        t = self.totals
        return t[:, 0] + 0.5 * (t[:, 2] + t[:, 3])


@dataclass(frozen=True)
class PairCells:
    """Battles grouped into cells of identical (pair, outcome, weight).

    Cells are the unit of bootstrap resampling: drawing ``n_battles`` battles with
    replacement is a multinomial draw over cells with probabilities ``count / total``.

    Attributes
    ----------
    n_models:
        Number of models.
    lo, hi:
        Pair of each distinct pair index.
    cell_pair:
        Pair index of each cell.
    cell_outcome:
        Outcome code of each cell (relative to ``lo``/``hi``).
    cell_count:
        Number of battles in each cell.
    cell_weight:
        Per-battle weight of each cell.
    """

    n_models: int
    lo: NDArray[np.int64]
    hi: NDArray[np.int64]
    cell_pair: NDArray[np.int64]
    cell_outcome: NDArray[np.int64]
    cell_count: NDArray[np.float64]
    cell_weight: NDArray[np.float64]

    def with_counts(self, counts: NDArray[np.float64]) -> PairCells:
        """The same cells with other battle counts (a bootstrap resample of them)."""
        return dataclasses.replace(self, cell_count=counts)

    @property
    def n_pairs(self) -> int:
        """Number of distinct unordered pairs."""
        return len(self.lo)

    @property
    def n_battles(self) -> float:
        """Total number of battles."""
        return float(self.cell_count.sum())

    def stats(self, counts: NDArray[np.float64] | None = None) -> PairStats:
        """Per-pair outcome totals, optionally with resampled cell counts."""
        c = self.cell_count if counts is None else counts
        key = self.cell_pair * 4 + self.cell_outcome
        size = 4 * self.n_pairs
        totals = wsum(key, c * self.cell_weight, size)
        squares = wsum(key, c * self.cell_weight**2, size)
        return PairStats(self.lo, self.hi, totals.reshape(-1, 4), squares.reshape(-1, 4))


def cells_from_arrays(
    n_models: int,
    model_a: NDArray[np.integer],
    model_b: NDArray[np.integer],
    outcome: NDArray[np.integer],
    count: NDArray[np.integer] | NDArray[np.floating],
    weight: NDArray[np.floating],
) -> PairCells:
    """Group battle rows into :class:`PairCells`.

    Parameters
    ----------
    n_models:
        Number of models (codes are ``0 .. n_models - 1``).
    model_a, model_b:
        Model codes on each side (must differ).
    outcome:
        0 side A wins, 1 side B wins, 2 tie, 3 both bad.
    count:
        Multiplicity of each row.
    weight:
        Per-battle weight of each row.
    """
    cnt = np.asarray(count, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    unit = bool(np.all(w == 1.0))
    if unit and 4 * n_models * n_models <= _DENSE_BIN_LIMIT:
        bins = _ordered_bins(n_models, model_a, model_b, outcome, np.asarray(count))
        # fold (a, b) onto (lo, hi) = (min, max): seen from the other side, "A wins" (0)
        # and "B wins" (1) swap places, ties do not
        folded = np.triu(bins.transpose(2, 0, 1), 1)  # (4, n, n), lo < hi only
        lower = np.triu(bins[:, :, [1, 0, 2, 3]].transpose(2, 1, 0), 1)
        binned = (folded + lower).transpose(1, 2, 0).ravel()
        cell_keys = np.flatnonzero(binned)
        pair_keys, cell_pair = np.unique(cell_keys // 4, return_inverse=True)
        return PairCells(
            n_models=n_models,
            lo=(pair_keys // n_models).astype(np.int64),
            hi=(pair_keys % n_models).astype(np.int64),
            cell_pair=np.asarray(cell_pair, dtype=np.int64),
            cell_outcome=(cell_keys % 4).astype(np.int64),
            cell_count=binned[cell_keys],
            cell_weight=np.ones(len(cell_keys)),
        )

    a = np.asarray(model_a, dtype=np.int64)
    b = np.asarray(model_b, dtype=np.int64)
    o = np.asarray(outcome, dtype=np.int64)
    swap = a > b
    lo = np.where(swap, b, a)
    hi = np.where(swap, a, b)
    # swapping sides swaps "A wins" (0) and "B wins" (1); ties are symmetric
    o = np.where(swap & (o < 2), 1 - o, o)
    pair_key = lo * n_models + hi
    if unit:
        keys, inverse = np.unique(pair_key * 4 + o, return_inverse=True)
        cell_counts = np.bincount(inverse, weights=cnt)
        cell_pair_key = keys // 4
        cell_outcome = keys % 4
        pair_keys, cell_pair = np.unique(cell_pair_key, return_inverse=True)
        cell_weight = np.ones(len(keys))
    else:
        # weighted battles: one cell per row (rows with different weights are not exchangeable)
        keep = cnt > 0
        pair_keys, cell_pair = np.unique(pair_key[keep], return_inverse=True)
        cell_outcome = o[keep]
        cell_counts = np.asarray(cnt[keep], dtype=np.float64)
        cell_weight = w[keep]

    return PairCells(
        n_models=n_models,
        lo=(pair_keys // n_models).astype(np.int64),
        hi=(pair_keys % n_models).astype(np.int64),
        cell_pair=np.asarray(cell_pair, dtype=np.int64),
        cell_outcome=np.asarray(cell_outcome, dtype=np.int64),
        cell_count=np.asarray(cell_counts, dtype=np.float64),
        cell_weight=np.asarray(cell_weight, dtype=np.float64),
    )


def wsum(
    index: NDArray[np.integer], weights: NDArray[np.floating], size: int
) -> NDArray[np.float64]:
    """Sum ``weights`` by ``index`` into an array of ``size`` floats (typed ``bincount``)."""
    return np.bincount(index, weights=weights, minlength=size).astype(np.float64, copy=False)
