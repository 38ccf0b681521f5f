"""Judge and humans: agreement per model pair and per battle, the one rank correlation."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from arena.judge import battle_agreement, pair_agreement, rank_correlation


def battles_frame(rows: list[tuple[str, str, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["model_a", "model_b", "winner", "prompt"])


def test_agreement_on_a_handmade_human_file() -> None:
    judge = battles_frame(
        [
            ("a", "b", "model_a", "p1"),
            ("a", "b", "model_a", "p2"),
            ("b", "a", "tie", "p3"),
            ("a", "c", "model_b", "p1"),
            ("b", "c", "tie", "p1"),
        ]
    )
    human = battles_frame(
        [
            ("b", "a", "model_b", "p1"),  # a beats b on p1: the judge agrees
            ("a", "b", "model_b", " p2 "),  # b beats a on p2 (spaces do not matter): disagrees
            ("a", "b", "model_a", None),  # no prompt: counts for the pair only
            ("c", "a", "model_a", "p1"),  # c beats a on p1: agrees
            ("b", "c", "tie (bothbad)", "p1"),  # a tie is a tie: agrees
            ("c", "d", "model_a", "p1"),  # the judge never saw d
        ]
    )
    pairs = pair_agreement(judge, human)
    assert pairs[
        ["model_x", "model_y", "judge_winner", "human_winner", "agree"]
    ].values.tolist() == [
        ["a", "b", "a", "a", True],
        ["a", "c", "c", "c", True],
        ["b", "c", "tie", "tie", True],
    ]
    assert pairs["human_battles"].tolist() == [3, 1, 1]
    assert battle_agreement(judge, human) == (3, 4)
    assert battle_agreement(judge.drop(columns="prompt"), human) == (0, 0)
    human.loc[2, "winner"] = "model_b"
    human.loc[5, "winner"] = "model_b"
    assert pair_agreement(judge, human)["human_winner"].tolist() == ["b", "c", "tie"]


def test_rank_correlation_is_spearman_on_the_common_models() -> None:
    from scipy import stats

    judge = {"a": 1210.0, "b": 1100.0, "c": 1100.0, "d": 980.0, "e": 1005.0, "judge-only": 1.0}
    human = {"b": 1150.0, "a": 1190.0, "e": 990.0, "c": 1010.0, "d": 1010.0, "human-only": 2.0}
    got = rank_correlation(judge, human)
    assert got.models == ("a", "b", "c", "d", "e")  # the first board's order
    common = list(got.models)
    expected = stats.spearmanr([judge[m] for m in common], [human[m] for m in common]).statistic
    assert got.spearman == pytest.approx(expected)  # ties share their mean rank, as scipy's
    assert got.spearman is not None and 0 < got.spearman < 1
    reverse = {m: -r for m, r in judge.items()}
    assert rank_correlation(judge, reverse).spearman == pytest.approx(-1.0)
    assert rank_correlation(judge, judge).spearman == pytest.approx(1.0)


def test_rank_correlation_is_none_where_it_is_undefined() -> None:
    two = rank_correlation({"a": 1.0, "b": 2.0}, {"b": 5.0, "a": 3.0})
    assert two.spearman is None and two.models == ("a", "b")
    flat = rank_correlation({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 7.0, "b": 7.0, "c": 7.0})
    assert flat.spearman is None and len(flat.models) == 3
    # a model without a finite rating is not a common model
    ratings = {"a": 1.0, "b": 2.0, "c": math.nan, "d": 4.0}
    nan = rank_correlation(ratings, dict.fromkeys("abcd", 1.0))
    assert nan.models == ("a", "b", "d")
    assert rank_correlation({}, {}).spearman is None
