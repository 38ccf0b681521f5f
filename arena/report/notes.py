"""Plain-language notes on a leaderboard: how many votes, why ranks are shared, what it takes.

A leaderboard of a handful of votes shows every model at nearly the same score with wide
intervals, all at rank 1. That is correct, but a reader needs the reason and a sense of
how far off a meaningful ranking is. The projection used is the textbook one: the width
of a confidence interval shrinks as ``1 / sqrt(n)``, so an interval of half-width ``w``
after ``n`` votes becomes ``T`` after about ``n * (w / T) ** 2`` votes, with the votes
spread over the models as they are now.

Style control fits one coefficient per style feature on top of the ratings; with too few
votes the fit can explain every vote by style alone (4 votes once gave 2612 vs -612 with
zero-width intervals). :func:`style_control_minimum` is the floor the web app applies:
:data:`VOTES_PER_PARAMETER` votes per fitted parameter (the usual events-per-variable
rule of thumb for logistic models, Peduzzi et al. 1996).
"""

from __future__ import annotations

import math

import numpy as np

from arena.records import Leaderboard

__all__ = [
    "TARGET_HALF_WIDTH",
    "VOTES_PER_PARAMETER",
    "rank_note",
    "style_control_minimum",
    "style_control_refusal",
    "votes_needed",
]

#: Interval half-width (rating points) at which ranks start to mean something: models
#: 50 points apart (the better one wins about 57 % of the time) then stop overlapping.
TARGET_HALF_WIDTH = 25.0
#: Style control needs this many votes per fitted parameter.
VOTES_PER_PARAMETER = 10


def style_control_minimum(n_models: int, n_features: int) -> int:
    """Votes style control needs: :data:`VOTES_PER_PARAMETER` x (ratings + style coefficients).

    The parameters are ``n_models - 1`` free ratings (one is fixed by the scale's
    centring) and one coefficient per style feature.
    """
    return VOTES_PER_PARAMETER * (max(n_models - 1, 1) + max(n_features, 0))


def style_control_refusal(n_votes: int, n_models: int, n_features: int) -> str | None:
    """Why style control is not shown for so few votes, or None when there are enough."""
    needed = style_control_minimum(n_models, n_features)
    if n_votes >= needed:
        return None
    return (
        f"Style control needs at least {needed:,} votes here ({VOTES_PER_PARAMETER} per "
        f"fitted parameter: {max(n_models - 1, 1)} model ratings + {n_features} style "
        f"coefficients) and there {'is' if n_votes == 1 else 'are'} {n_votes:,}. With fewer, "
        "the fit can explain the votes by answer style alone and its scores and intervals "
        "mean nothing. Turn style control off, or come back after more votes."
    )


def _half_widths(lb: Leaderboard) -> np.ndarray:
    rating = lb.column("rating").astype(np.float64)
    lower = lb.column("ci_lower").astype(np.float64)
    upper = lb.column("ci_upper").astype(np.float64)
    half = (upper - lower) / 2
    ok = np.isfinite(half) & np.isfinite(rating) & (half > 0)
    return np.asarray(half[ok])


def votes_needed(n_votes: int, half_width: float, target: float = TARGET_HALF_WIDTH) -> int:
    """Votes for intervals of half-width ``half_width`` after ``n_votes`` to shrink to ``target``.

    ``n * (w / T) ** 2`` rounded up (``w`` shrinks as ``1 / sqrt(n)``); ``n_votes`` when
    the intervals are already that narrow.
    """
    if n_votes <= 0 or not math.isfinite(half_width) or half_width <= target:
        return max(n_votes, 0)
    return math.ceil(n_votes * (half_width / target) ** 2)


def rank_note(lb: Leaderboard, n_votes: int | None = None, *, noun: str = "votes") -> str:
    """One paragraph: how many votes, whether ranks are shared and why, and what it takes.

    Always says how many votes (``n_votes``, default the leaderboard's battles) the
    table rests on; when models share a rank it explains that intervals overlap, and
    when the typical (median) interval is wider than :data:`TARGET_HALF_WIDTH` it
    projects the votes needed to narrow it.
    """
    n = lb.n_battles if n_votes is None else n_votes
    ranks = lb.column("rank_ub") if "rank_ub" in lb.column_names else np.empty(0)
    shared = len(ranks) > 1 and len(set(ranks.tolist())) < len(ranks)
    text = f"{n:,} {noun} between {lb.n_models} models."
    half = _half_widths(lb)
    if not len(half):
        untold = " No intervals were computed, so ranks cannot be told apart."
        return text + (untold if shared else "")
    typical = float(np.median(half))
    if shared:
        text += (
            f" Models share a rank when their 95% intervals overlap (typical interval here "
            f"±{typical:.0f} points): a model ranks above another only when its whole "
            "interval is above the other's."
        )
    if typical > TARGET_HALF_WIDTH:
        need = votes_needed(n, typical)
        text += (
            f" Intervals narrow as 1/√{noun}: to tell apart models 50 points apart (about a "
            f"57% win rate) they must shrink to about ±{TARGET_HALF_WIDTH:.0f}, roughly "
            f"{need:,} {noun} in all at the current spread over models"
            f" ({need - n:,} more)."
        )
    return text
