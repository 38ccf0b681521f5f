"""The engine against published figures and reference implementations on real votes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from arena.battles.table import Battles
from arena.leaderboard import compute_leaderboard
from arena.ratings.bt import fit_bt
from arena.ratings.elo import online_elo
from arena.ratings.pairs import cells_from_arrays

MIXTRAL = ("mixtral-8x7b-instruct-v0.1", 1114.0)


def _ratings(lb_table: pd.DataFrame) -> pd.Series:
    return lb_table.set_index("model")["rating"]


def test_online_elo_equals_evalica_golden(llmfao: Battles, llmfao_golden: pd.DataFrame) -> None:
    golden = llmfao_golden[llmfao_golden.algorithm == "elo"].set_index("item")["score"]
    lb = compute_leaderboard(llmfao, method="elo", ci="none")
    ours = _ratings(lb.table)
    assert set(ours.index) == set(golden.index)
    assert np.max(np.abs(ours[golden.index] - golden)) <= 1e-6


def test_bt_ranking_agrees_with_evalica_golden(
    llmfao: Battles, llmfao_golden: pd.DataFrame
) -> None:
    golden = llmfao_golden[llmfao_golden.algorithm == "bradley_terry"].set_index("item")["score"]
    lb = compute_leaderboard(llmfao, method="bt", ci="none")
    ours = _ratings(lb.table)[golden.index]
    # same order (evalica reports strengths exp(theta) normalised; ranks must agree)
    assert list(ours.sort_values(ascending=False).index) == list(
        golden.sort_values(ascending=False).index
    )
    rho = spearmanr(ours.to_numpy(), golden.to_numpy()).statistic
    assert rho == pytest.approx(1.0)


def test_arena_counts_match_published_leaderboard(arena_counts: Battles) -> None:
    assert arena_counts.n_battles == 1_670_250
    assert arena_counts.n_models == 129
    lb = compute_leaderboard(arena_counts, anchor=MIXTRAL)
    ratings = _ratings(lb.table)
    assert ratings["mixtral-8x7b-instruct-v0.1"] == pytest.approx(1114.0)
    assert abs(ratings["chatgpt-4o-latest"] - 1313.55) <= 2.0
    assert lb.table.iloc[0]["model"] == "chatgpt-4o-latest"


def test_bt_equals_choix_dense_ilsr(
    arena_counts_frame: pd.DataFrame, arena_counts: Battles
) -> None:
    choix = pytest.importorskip(
        "choix", reason="choix is a dev dependency (pip install -e '.[dev]')"
    )
    df = arena_counts_frame
    names = list(arena_counts.models)
    index = {m: i for i, m in enumerate(names)}
    k = len(names)
    a = df.model_a.map(index).to_numpy()
    b = df.model_b.map(index).to_numpy()
    half = 0.5 * (df.tie + df.tie_bothbad).to_numpy()
    comparisons = np.zeros((k, k))
    np.add.at(comparisons, (a, b), df.wins_a.to_numpy() + half)  # ties expanded to half wins
    np.add.at(comparisons, (b, a), df.wins_b.to_numpy() + half)
    theirs = choix.ilsr_pairwise_dense(comparisons, tol=1e-13, max_iter=100_000)
    theirs = theirs - theirs.mean()
    b_ = arena_counts
    cells = cells_from_arrays(k, b_.model_a, b_.model_b, b_.outcome, b_.count, b_.weight)
    ours = fit_bt(cells.stats(), k).theta
    assert np.max(np.abs(ours - theirs)) <= 1e-6
    # and on the rating scale
    assert np.max(np.abs(400 / np.log(10) * (ours - theirs))) <= 1e-6


def test_elo_order_follows_timestamps_then_file_order() -> None:
    a = np.array(["x", "y", "x"])
    b = np.array(["y", "x", "y"])
    outcome = np.array([0, 0, 1])
    import pandas as pd

    in_file_order = Battles.from_names(a, b, outcome)
    shuffled = Battles.from_names(
        a[[2, 0, 1]],
        b[[2, 0, 1]],
        outcome[[2, 0, 1]],
        meta=pd.DataFrame({"tstamp": [3.0, 1.0, 2.0]}),
    )
    r1 = _ratings(compute_leaderboard(in_file_order, method="elo", ci="none").table)
    r2 = _ratings(compute_leaderboard(shuffled, method="elo", ci="none").table)
    assert r1.to_dict() == pytest.approx(r2.to_dict())
    direct = online_elo(2, np.array([0, 1, 0]), np.array([1, 0, 1]), outcome)
    assert r1["x"] == pytest.approx(direct[0])
