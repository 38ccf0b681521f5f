"""How far a judge agrees with humans: rank correlation, model pairs, single battles.

Three measures, from the coarsest to the finest:

- :func:`rank_correlation`, Spearman's rho of two leaderboards' ratings on the models both
  rate: the one rank correlation of the project (``arena judge``'s report and the web
  app's judge leaderboard both call it);
- :func:`pair_agreement`, per model pair both judged, whether the majority winners match;
- :func:`battle_agreement`, per human vote on a prompt the judge saw, whether the judge
  gave the same outcome.

Pure functions over frames and arrays; nothing here reads or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "RankAgreement",
    "battle_agreement",
    "pair_agreement",
    "rank_correlation",
]


def _average_ranks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ranks from 1, tied values sharing the mean of their ranks (as Spearman's rho needs)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse.reshape(-1)]


def _spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman's rank correlation of paired values: the Pearson correlation of their ranks.

    Ties share the mean of their ranks (as :func:`scipy.stats.spearmanr`). Pairs with a
    non-finite value are left out.

    Returns
    -------
    float
        rho in [-1, 1]; NaN with fewer than three pairs, or when either side ranks all
        its values equal (a correlation is then undefined).

    Raises
    ------
    ValueError
        ``x`` and ``y`` differ in length.
    """
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    b = np.asarray(y, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"rank correlation: {a.size} values against {b.size}; expected pairs")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < 3:
        return math.nan
    ra, rb = _average_ranks(a), _average_ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    scale = math.sqrt(float(ra @ ra) * float(rb @ rb))
    if scale == 0.0:
        return math.nan
    return float(np.clip(float(ra @ rb) / scale, -1.0, 1.0))


@dataclass(frozen=True)
class RankAgreement:
    """How two leaderboards' rankings agree.

    Attributes
    ----------
    spearman:
        Spearman's rho of the two ratings on :attr:`models`; None with fewer than three
        common models or when either ranking is flat.
    models:
        The models both rate, in the order of the first leaderboard.
    """

    spearman: float | None
    models: tuple[str, ...]


def rank_correlation(first: Mapping[str, float], second: Mapping[str, float]) -> RankAgreement:
    """Spearman's rho of two leaderboards (model -> rating) on the models both rate.

    A model counts as rated when its rating is finite. The order of :attr:`RankAgreement.models`
    is ``first``'s.
    """
    common = [
        m
        for m, r in first.items()
        if m in second and math.isfinite(float(r)) and math.isfinite(float(second[m]))
    ]
    rho = _spearman([first[m] for m in common], [second[m] for m in common])
    return RankAgreement(None if math.isnan(rho) else rho, tuple(common))


def _normalise_prompt(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    joined = " ".join(text.split())
    return joined or None


def _oriented(frame: pd.DataFrame) -> pd.DataFrame:
    """Battles as ``x, y, outcome, n``: ``x < y`` by name, outcome ``x | y | tie``.

    Both kinds of tie (``tie``, ``tie (bothbad)``) are ties; ``n`` is the row's count.
    """
    a = frame["model_a"].astype(str).to_numpy()
    b = frame["model_b"].astype(str).to_numpy()
    flip = a > b
    winner = frame["winner"].astype(str).str.strip().str.lower().to_numpy()
    outcome = np.where(
        winner == "model_a",
        np.where(flip, "y", "x"),
        np.where(winner == "model_b", np.where(flip, "x", "y"), "tie"),
    )
    out = pd.DataFrame(
        {
            "x": np.where(flip, b, a),
            "y": np.where(flip, a, b),
            "outcome": outcome,
            "n": frame["count"].to_numpy() if "count" in frame else np.ones(len(frame), int),
        }
    )
    if "prompt" in frame:
        out["prompt"] = [_normalise_prompt(p) for p in frame["prompt"]]
    return out


def _majorities(frame: pd.DataFrame) -> pd.DataFrame:
    """Per pair ``x, y``: battles and the majority winner (``x``'s or ``y``'s name, or tie)."""
    o = _oriented(frame)
    o["margin"] = np.where(o["outcome"] == "x", 1, np.where(o["outcome"] == "y", -1, 0)) * o["n"]
    g = o.groupby(["x", "y"], sort=True).agg(battles=("n", "sum"), margin=("margin", "sum"))
    g = g.reset_index()
    g["winner"] = np.where(g["margin"] > 0, g["x"], np.where(g["margin"] < 0, g["y"], "tie"))
    return g[["x", "y", "battles", "winner"]]


def pair_agreement(judge: pd.DataFrame, human: pd.DataFrame) -> pd.DataFrame:
    """Per model pair judged by both, whether the judge's majority winner is the humans'.

    Prompt-independent: all battles of a pair count, whatever their prompts. The majority
    winner of a side is the model with more wins over the other (ties count for neither),
    or ``tie`` when they won as often; two ties agree.

    Parameters
    ----------
    judge, human:
        Battles with ``model_a, model_b, winner`` (and ``count``, when rows aggregate).

    Returns
    -------
    pandas.DataFrame
        ``model_x, model_y, judge_battles, judge_winner, human_battles, human_winner,
        agree``, one row per pair present in both, sorted by names.
    """
    j = _majorities(judge).rename(columns={"battles": "judge_battles", "winner": "judge_winner"})
    h = _majorities(human).rename(columns={"battles": "human_battles", "winner": "human_winner"})
    both = j.merge(h, on=["x", "y"], how="inner").rename(columns={"x": "model_x", "y": "model_y"})
    both["agree"] = both["judge_winner"] == both["human_winner"]
    columns = ["model_x", "model_y", "judge_battles", "judge_winner", "human_battles"]
    return both[[*columns, "human_winner", "agree"]].reset_index(drop=True)


def battle_agreement(judge: pd.DataFrame, human: pd.DataFrame) -> tuple[int, int]:
    """Human votes on a prompt the judge judged, and how many of them the judge matched.

    A human battle matches a judge battle when both have the same two models (either
    side) and the same first user turn (``prompt``, compared with whitespace collapsed).
    It agrees when the outcomes are the same, ties included (both kinds of tie are ties).

    Returns
    -------
    tuple[int, int]
        ``(agreeing, matched)``; ``matched`` counts human battles (each with every judge
        battle on its prompt and pair), 0 when no human vote carries a judged prompt.
    """
    if "prompt" not in judge or "prompt" not in human:
        return 0, 0
    j = _oriented(judge).dropna(subset=["prompt"])
    h = _oriented(human).dropna(subset=["prompt"])
    if j.empty or h.empty:
        return 0, 0
    merged = h.merge(j, on=["x", "y", "prompt"], suffixes=("_human", "_judge"))
    weights = merged["n_human"].to_numpy()
    agree = (merged["outcome_human"] == merged["outcome_judge"]).to_numpy()
    return int(weights[agree].sum()), int(weights.sum())
