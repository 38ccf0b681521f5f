"""Laplacian assembly and the existence of maximum-likelihood ratings.

The Bradley–Terry MLE exists (finite, unique up to a shift) exactly when the directed
"scored against" graph is strongly connected: an edge i -> j whenever i won or tied
against j (Zermelo 1929; Ford 1957). Otherwise some group of models won or tied every
battle against the rest and its ratings run off to infinity. :func:`diagnose` names the
models concerned so the caller can warn and regularise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
from numpy.typing import NDArray

from arena.ratings.pairs import PairStats, wsum

__all__ = ["GraphDiagnosis", "diagnose", "laplacian"]


def laplacian(
    n: int, lo: NDArray[np.int64], hi: NDArray[np.int64], w: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Dense weighted graph Laplacian ``sum_w w (e_lo - e_hi)(e_lo - e_hi)^T``."""
    off = wsum(lo * n + hi, w, n * n).reshape(n, n)
    off = off + off.T
    deg = off.sum(axis=1)
    out = -off
    out[np.diag_indices(n)] += deg
    return out


@dataclass(frozen=True)
class GraphDiagnosis:
    """Why maximum-likelihood ratings may not exist.

    Attributes
    ----------
    exists:
        True when the scored-against graph is strongly connected.
    groups:
        Weakly connected groups of models (more than one means no battle links them).
    dominant:
        Groups that won or tied every battle against models outside them.
    dominated:
        Groups that lost every battle against models outside them.
    """

    exists: bool
    groups: tuple[tuple[int, ...], ...]
    dominant: tuple[tuple[int, ...], ...]
    dominated: tuple[tuple[int, ...], ...]

    def describe(self, models: Sequence[str], limit: int = 8, *, ties_link: bool = True) -> str:
        """One paragraph naming the models concerned (for a warning)."""

        def names(group: tuple[int, ...]) -> str:
            shown = [models[i] for i in group[:limit]]
            more = f" and {len(group) - limit} more" if len(group) > limit else ""
            return ", ".join(shown) + more

        parts = []
        if len(self.groups) > 1:
            listed = "; ".join("{" + names(g) + "}" for g in self.groups[:limit])
            parts.append(
                f"the battles fall into {len(self.groups)} groups with no battle between them "
                f"({listed}), so ratings in different groups are not comparable"
            )
        top = [g for g in self.dominant if len(g) < len(models)]
        if top:
            parts.append(
                "never lost a battle to a model outside their group: "
                + "; ".join(names(g) for g in top[:limit])
            )
        bottom = [g for g in self.dominated if len(g) < len(models)]
        if bottom:
            parts.append(
                ("never won or tied a battle" if ties_link else "never won a battle")
                + " against a model outside their group: "
                + "; ".join(names(g) for g in bottom[:limit])
            )
        return "; ".join(parts)


def diagnose(stats: PairStats, n_models: int, *, ties_link: bool = True) -> GraphDiagnosis:
    """Check whether the MLE exists and, if not, which models are responsible.

    With ``ties_link`` (Bradley–Terry, ties as half wins) a tie links both ways. For the
    Davidson model ties do not pin the strength gap (a larger gap and a larger tie
    parameter can trade off), so only decisive battles link: pass ``ties_link=False``.
    """
    t = stats.totals
    tied = (t[:, 2] + t[:, 3]) if ties_link else np.zeros(len(t))
    lo_scores = t[:, 0] + tied > 0  # lo won (or tied) against hi
    hi_scores = t[:, 1] + tied > 0
    rows = np.concatenate([stats.lo[lo_scores], stats.hi[hi_scores]])
    cols = np.concatenate([stats.hi[lo_scores], stats.lo[hi_scores]])
    graph = scipy.sparse.coo_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(n_models, n_models)
    ).tocsr()
    n_weak, weak = scipy.sparse.csgraph.connected_components(
        graph, directed=True, connection="weak"
    )
    n_strong, strong = scipy.sparse.csgraph.connected_components(
        graph, directed=True, connection="strong"
    )

    def grouped(
        labels: NDArray[np.int32], wanted: set[int] | None = None
    ) -> tuple[tuple[int, ...], ...]:
        out: dict[int, list[int]] = {}
        for model, label in enumerate(labels.tolist()):
            if wanted is None or label in wanted:
                out.setdefault(label, []).append(model)
        return tuple(tuple(v) for v in sorted(out.values(), key=lambda g: (len(g), g)))

    if n_strong == 1:
        return GraphDiagnosis(True, grouped(weak), (), ())
    # condensation: which strong components have edges coming in / going out
    src, dst = strong[rows], strong[cols]
    cross = src != dst
    has_out = set(src[cross].tolist())
    has_in = set(dst[cross].tolist())
    labels = set(range(n_strong))
    dominant = labels - has_in  # nobody outside scored against them
    dominated = labels - has_out  # they scored against nobody outside
    if n_weak > 1:
        # within a weak group that is itself strongly connected there is nothing to report
        singletons = {
            int(strong[g[0]]) for g in grouped(weak) if len(set(strong[list(g)].tolist())) == 1
        }
        dominant -= singletons
        dominated -= singletons
    return GraphDiagnosis(
        False, grouped(weak), grouped(strong, dominant), grouped(strong, dominated)
    )
