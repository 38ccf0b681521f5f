"""Battles from several sources (live votes, imported public battles) rated together.

Ratings of two sets of battles land on one scale only when battles link them: some
model must have battles in both (a *bridging* model, e.g. a public model the operator
also serves), or at least a chain of battles must connect every live model to the
imported ones. Otherwise a live model's score says nothing about where it stands
among the public models, however many votes it has. :func:`combine_sources` stacks the
sources and checks exactly that (weak connectivity of the battle graph), so the
leaderboard can say so instead of printing incomparable numbers side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arena.battles.table import Battles

__all__ = ["SOURCE_CHOICES", "SourceCheck", "combine_sources"]

#: The leaderboard's source switch: live votes only, imported battles only, or both.
SOURCE_CHOICES: tuple[str, ...] = ("live", "imported", "all")


@dataclass(frozen=True)
class SourceCheck:
    """Live and imported battles stacked, and whether they share one scale.

    Attributes
    ----------
    battles:
        Both sources together (None when both are empty).
    n_live, n_imported:
        Battles of each source.
    bridges:
        Models with battles in both sources.
    unlinked:
        Live models with no chain of battles to any imported model: their ratings are
        not on the imported battles' scale.
    """

    battles: Battles | None
    n_live: int
    n_imported: int
    bridges: tuple[str, ...]
    unlinked: tuple[str, ...]

    @property
    def linked(self) -> bool:
        """Whether every live model is connected to the imported ones (or one side is empty)."""
        return not self.unlinked

    def message(self, limit: int = 6) -> str | None:
        """Why the live models are not on the public scale, or None when they are."""
        if self.linked:
            return None
        shown = ", ".join(self.unlinked[:limit])
        more = f" and {len(self.unlinked) - limit} more" if len(self.unlinked) > limit else ""
        return (
            f"No bridging model: {shown}{more} never met, directly or through other models, "
            "any model of the imported battles, so their scores are not on the imported "
            "scale and cannot be compared with it. Add a model that is in the imported "
            "battles (under the same name) to the arena, so live votes link the two."
        )


def _components(battles: Battles) -> np.ndarray:
    from arena.ratings.graph import weak_components

    _, labels = weak_components(battles.n_models, battles.model_a, battles.model_b)
    return labels


def combine_sources(live: Battles | None, imported: Battles | None) -> SourceCheck:
    """Stack live and imported battles and find the live models the imported ones cannot reach.

    Either side may be None (no battles). Only the imported battles' own models are
    "public": a live model is linked when its connected component of the combined
    battle graph holds at least one model that has imported battles.
    """
    n_live = 0 if live is None else live.n_battles
    n_imported = 0 if imported is None else imported.n_battles
    parts = [b for b in (live, imported) if b is not None and len(b)]
    if not parts:
        return SourceCheck(None, 0, 0, (), ())
    combined = Battles.concat(parts)
    if live is None or imported is None or not n_live or not n_imported:
        return SourceCheck(combined, n_live, n_imported, (), ())
    public = set(imported.models)
    bridges = tuple(m for m in live.models if m in public)
    labels = _components(combined)
    index = {m: i for i, m in enumerate(combined.models)}
    reached = {int(labels[index[m]]) for m in public}
    unlinked = tuple(m for m in live.models if int(labels[index[m]]) not in reached)
    return SourceCheck(combined, n_live, n_imported, bridges, unlinked)
