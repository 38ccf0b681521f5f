"""Drawing the two models of an anonymous battle.

Each model has a sampling weight; a pair ``{i, j}`` is drawn with probability
proportional to ``w_i * w_j`` among the allowed pairs, then its sides are shuffled.
Two preview models (those with a codename) are never paired, so a visitor never meets
two unreleased models at once and can always compare a preview with a known model.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from arena.service.errors import NoModelsAvailable

__all__ = ["Candidate", "allowed_pairs", "sample_pair"]


@dataclass(frozen=True)
class Candidate:
    """A model the sampler may draw.

    Attributes
    ----------
    name:
        The model's name in the store.
    weight:
        Relative sampling weight (> 0).
    preview:
        Whether it is an unreleased model shown under a codename.
    """

    name: str
    weight: float
    preview: bool = False


def allowed_pairs(models: Sequence[Candidate]) -> list[tuple[Candidate, Candidate, float]]:
    """Every unordered pair the sampler may draw, with its weight ``w_i * w_j``."""
    usable = [m for m in models if m.weight > 0]
    pairs = []
    for i, a in enumerate(usable):
        for b in usable[i + 1 :]:
            if a.name == b.name or (a.preview and b.preview):
                continue
            pairs.append((a, b, a.weight * b.weight))
    return pairs


def sample_pair(models: Sequence[Candidate], rng: random.Random) -> tuple[str, str]:
    """Draw ``(side_a, side_b)`` model names as the module docstring describes.

    Raises
    ------
    NoModelsAvailable
        When no allowed pair exists (fewer than two usable models, or only previews).
    """
    pairs = allowed_pairs(models)
    if not pairs:
        raise NoModelsAvailable(
            "no battle can be started right now: fewer than two models are available; "
            "please try again later"
        )
    a, b, _ = rng.choices(pairs, weights=[w for _, _, w in pairs])[0]
    return (a.name, b.name) if rng.random() < 0.5 else (b.name, a.name)
