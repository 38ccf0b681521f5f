"""Laplacian assembly and the existence of maximum-likelihood ratings.

The Bradley–Terry MLE exists (finite, unique up to a shift) exactly when the directed
"scored against" graph is strongly connected: an edge i -> j whenever i won or tied
against j (Zermelo 1929; Ford 1957). Otherwise some group of models won or tied every
battle against the rest and its ratings run off to infinity. :func:`diagnose` names the
models concerned so the caller can warn and regularise.

Davidson's model needs that same graph (a tie links both ways: a tie becomes improbable
as the gap grows, so it pins the gap) and two more things, checked by
:func:`diagnose_davidson`: both ties and decisive battles (else ``nu`` is 0 or infinite),
and no "tie order" along which the gaps and ``nu`` can grow together (see there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from arena.ratings.pairs import PairStats, wsum

__all__ = [
    "GraphDiagnosis",
    "diagnose",
    "diagnose_davidson",
    "laplacian",
    "strong_components",
    "weak_components",
]


def weak_components(
    n: int, rows: NDArray[np.integer], cols: NDArray[np.integer]
) -> tuple[int, NDArray[np.int32]]:
    """Connected components of the graph with edges ``rows[i] -- cols[i]`` (direction ignored).

    Returns the number of components and each node's label (``0..count-1``, numbered by
    their smallest node). Union–find over the distinct edges: the graphs here have one node
    per model, so plain Python beats importing ``scipy.sparse.csgraph`` (0.1 s).
    """
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in _distinct_edges(n, rows, cols):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = [find(x) for x in range(n)]
    return _relabel(roots)


def strong_components(
    n: int, rows: NDArray[np.integer], cols: NDArray[np.integer]
) -> tuple[int, NDArray[np.int32]]:
    """Strongly connected components of the directed graph ``rows[i] -> cols[i]``.

    Returns the number of components and each node's label (``0..count-1``, numbered by
    their smallest node). Tarjan's algorithm, iterative (no recursion limit).
    """
    succ: list[list[int]] = [[] for _ in range(n)]
    for a, b in _distinct_edges(n, rows, cols):
        succ[a].append(b)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    comp = [-1] * n
    stack: list[int] = []
    counter = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work: list[tuple[int, int]] = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, i = work[-1]
            if i < len(succ[v]):
                work[-1] = (v, i + 1)
                w = succ[v][i]
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp[w] = v
                    if w == v:
                        break
    return _relabel(comp)


def _distinct_edges(
    n: int, rows: NDArray[np.integer], cols: NDArray[np.integer]
) -> list[tuple[int, int]]:
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    if len(r) and (min(int(r.min()), int(c.min())) < 0 or max(int(r.max()), int(c.max())) >= n):
        raise ValueError(f"edge endpoints must lie in 0..{n - 1}")
    keys = np.unique(r * n + c)
    return list(zip((keys // n).tolist(), (keys % n).tolist(), strict=True))


def _relabel(roots: list[int]) -> tuple[int, NDArray[np.int32]]:
    seen: dict[int, int] = {}
    labels = [seen.setdefault(r, len(seen)) for r in roots]
    return len(seen), np.asarray(labels, dtype=np.int32)


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
    components:
        Strongly connected components of the scored-against graph (one when ``exists``).
    tie_order:
        Davidson only: models ordered from the top of a "tie order" (see
        :func:`diagnose_davidson`), empty when there is none.
    """

    exists: bool
    groups: tuple[tuple[int, ...], ...]
    dominant: tuple[tuple[int, ...], ...]
    dominated: tuple[tuple[int, ...], ...]
    components: tuple[tuple[int, ...], ...] = ()
    tie_order: tuple[int, ...] = ()

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
        if self.tie_order:
            parts.append(
                "the decisive battles follow one strict order ("
                + " > ".join(models[i] for i in self.tie_order[:limit])
                + (" > ..." if len(self.tie_order) > limit else "")
                + ") with ties only between close models, so under Davidson's model the gaps "
                "and the tie parameter can grow together without bound"
            )
        return "; ".join(parts)


def diagnose(stats: PairStats, n_models: int, *, ties_link: bool = True) -> GraphDiagnosis:
    """Check whether the MLE exists and, if not, which models are responsible.

    With ``ties_link`` (Bradley–Terry, ties as half wins; Davidson too) a tie links both
    ways; ``ties_link=False`` links by decisive battles only (the graph of who beat whom).
    For Davidson use :func:`diagnose_davidson`, which adds that model's own condition.
    """
    t = stats.totals
    tied = (t[:, 2] + t[:, 3]) if ties_link else np.zeros(len(t))
    lo_scores = t[:, 0] + tied > 0  # lo won (or tied) against hi
    hi_scores = t[:, 1] + tied > 0
    rows = np.concatenate([stats.lo[lo_scores], stats.hi[hi_scores]])
    cols = np.concatenate([stats.hi[lo_scores], stats.lo[hi_scores]])
    n_weak, weak = weak_components(n_models, rows, cols)
    n_strong, strong = strong_components(n_models, rows, cols)

    def grouped(
        labels: NDArray[np.int32], wanted: set[int] | None = None
    ) -> tuple[tuple[int, ...], ...]:
        out: dict[int, list[int]] = {}
        for model, label in enumerate(labels.tolist()):
            if wanted is None or label in wanted:
                out.setdefault(label, []).append(model)
        return tuple(tuple(v) for v in sorted(out.values(), key=lambda g: (len(g), g)))

    if n_strong == 1:
        return GraphDiagnosis(True, grouped(weak), (), (), grouped(strong))
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
        False,
        grouped(weak),
        grouped(strong, dominant),
        grouped(strong, dominated),
        grouped(strong),
    )


def diagnose_davidson(stats: PairStats, n_models: int) -> GraphDiagnosis:
    """Whether Davidson's MLE exists (finite strengths and a finite ``nu > 0``).

    Along a direction ``(v, a)`` (strengths ``+ t v``, ``log nu + t a``) every term of the
    log-likelihood has an asymptotic slope ``<= 0``; the log-likelihood is concave, so the
    MLE fails to exist exactly when some non-trivial direction keeps every slope at 0:

    * ``a < 0`` (``nu -> 0``) when there is no tie, ``a > 0`` with ``v = 0`` when every
      battle is a tie: the caller checks those counts (:func:`fit_davidson` refuses them);
    * ``a = 0``: winners never below losers and tied models level, which is Bradley–Terry's
      condition with ties linking both ways (:func:`diagnose` with ``ties_link=True``), so
      a model with only wins and ties has finite strength as long as it tied someone;
    * ``a > 0`` (scale it to ``a = 1/2``): every decisive battle won by a model at least 1
      above the loser and every tie between models at most 1 apart. These are difference
      constraints, feasible exactly when the graph with an edge winner -> loser of length
      -1 and tie edges of length +1 both ways has no negative cycle (Bellman–Ford). Any
      cycle of decisive results (A beat B, B beat C, C beat A; or a pair with wins both
      ways) already rules it out, so real data never get this far; two models with one win
      and one tie between them are the smallest case: ``P(win) = P(tie) -> 1/2`` is only
      reached in the limit.

    The returned diagnosis lists, for the last case, the models in ``tie_order`` from the
    top of the order down.
    """
    base = diagnose(stats, n_models, ties_link=True)
    if not base.exists:
        return base
    t = stats.totals
    lo_won, hi_won = t[:, 0] > 0, t[:, 1] > 0
    tied = t[:, 2] + t[:, 3] > 0
    winners = np.concatenate([stats.lo[lo_won], stats.hi[hi_won]])
    losers = np.concatenate([stats.hi[lo_won], stats.lo[hi_won]])
    n_strong, _ = strong_components(n_models, winners, losers)
    if n_strong < n_models:  # a cycle of decisive results: no tie order
        return base
    # Bellman–Ford from a virtual source joined to every model by length 0
    src = np.concatenate([winners, stats.lo[tied], stats.hi[tied]])
    dst = np.concatenate([losers, stats.hi[tied], stats.lo[tied]])
    length = np.concatenate(
        [np.full(len(winners), -1.0), np.ones(2 * int(tied.sum()))]
    )
    dist = np.zeros(n_models)
    for _ in range(n_models + 1):
        relaxed = dist.copy()
        np.minimum.at(relaxed, dst, dist[src] + length)
        if np.array_equal(relaxed, dist):
            # feasible: v = dist satisfies every constraint, so the spread is a recession
            order = tuple(int(i) for i in np.argsort(-dist, kind="stable"))
            return GraphDiagnosis(False, base.groups, (), (), base.components, order)
        dist = relaxed
    return base  # a negative cycle: the constraints cannot all hold, the MLE exists
