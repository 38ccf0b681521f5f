from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arena.battles.matrices import count_matrix, predicted_win_matrix, win_rate_matrix
from arena.battles.table import Battles, Outcome

A, B, TIE, BAD = Outcome.A, Outcome.B, Outcome.TIE, Outcome.BOTH_BAD


@pytest.fixture
def small() -> Battles:
    # x beats y twice (once from each side), y beats x once, one tie x-y;
    # x-z: one both-bad (counted 3 times); y and z never met.
    return Battles.from_names(
        ["x", "y", "y", "x", "z"],
        ["y", "x", "x", "y", "x"],
        [A, B, A, TIE, BAD],
        count=[1, 1, 1, 1, 3],
    )


def test_count_matrix(small: Battles) -> None:
    m = count_matrix(small)
    assert list(m.index) == list(m.columns) == ["x", "y", "z"]
    assert m["y"]["x"] == m["x"]["y"] == 4
    assert m["z"]["x"] == m["x"]["z"] == 3
    assert m.loc["y", "z"] == 0
    assert (np.diag(m.to_numpy()) == 0).all()
    assert (m.dtypes == np.int64).all()
    # each model's row adds up to the battles it played
    assert list(m.sum(axis=1)) == list(small.battles_per_model())


def test_win_rate_matrix(small: Battles) -> None:
    w = win_rate_matrix(small)
    assert w.loc["x", "y"] == pytest.approx((2 + 0.5) / 4)
    assert w.loc["y", "x"] == pytest.approx((1 + 0.5) / 4)
    assert w["z"]["x"] == w["x"]["z"] == pytest.approx(0.5)  # both-bad is half a win
    assert np.isnan(w["z"]["y"]) and np.isnan(w["y"]["z"])  # never met
    assert np.isnan(np.diag(w.to_numpy())).all()


def test_win_rate_ignores_which_side_a_model_was_on(small: Battles) -> None:
    swapped_outcome = np.select(
        [small.outcome == A, small.outcome == B], [B, A], default=small.outcome
    )
    swapped = Battles.from_codes(
        small.models, small.model_b, small.model_a, swapped_outcome, count=small.count
    )
    pd.testing.assert_frame_equal(win_rate_matrix(swapped), win_rate_matrix(small))
    pd.testing.assert_frame_equal(count_matrix(swapped), count_matrix(small))


def test_win_rates_of_a_pair_add_up_to_one() -> None:
    rng = np.random.default_rng(3)
    n, k = 5_000, 12
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    battles = Battles.from_codes(
        [f"m{i}" for i in range(k)], a, b, rng.integers(0, 4, n), count=rng.integers(1, 5, n)
    )
    w = win_rate_matrix(battles).to_numpy()
    off = ~np.eye(k, dtype=bool)
    np.testing.assert_allclose((w + w.T)[off], 1.0)


def test_order_picks_and_orders_models(small: Battles) -> None:
    m = count_matrix(small, order=["z", "x"])
    assert list(m.index) == list(m.columns) == ["z", "x"]
    assert m.loc["z", "x"] == 3
    w = win_rate_matrix(small, order=["y", "x", "z"])
    assert list(w.columns) == ["y", "x", "z"]
    assert w.loc["y", "x"] == pytest.approx(0.375)


def test_order_with_unknown_or_repeated_model_is_rejected(small: Battles) -> None:
    with pytest.raises(ValueError, match="not in the data: nope"):
        win_rate_matrix(small, order=["x", "nope"])
    with pytest.raises(ValueError, match="more than once"):
        count_matrix(small, order=["x", "x"])


def test_predicted_win_matrix() -> None:
    ratings = pd.Series({"top": 1400.0, "mid": 1000.0, "low": 600.0})
    p = predicted_win_matrix(ratings)
    assert list(p.index) == ["top", "mid", "low"]
    assert p.loc["top", "mid"] == pytest.approx(10 / 11)  # 400 points = odds of 10 to 1
    assert p.loc["mid", "top"] == pytest.approx(1 / 11)
    assert p.loc["top", "low"] == pytest.approx(100 / 101)
    assert np.isnan(np.diag(p.to_numpy())).all()
    values = p.to_numpy()
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose((values + values.T)[off], 1.0)


def test_predicted_win_matrix_scale_order_and_extremes() -> None:
    ratings = pd.Series({"a": 0.0, "b": 1.0, "c": 1e6})
    p = predicted_win_matrix(ratings, scale=1.0, base=np.e, order=["c", "b", "a"])
    assert list(p.columns) == ["c", "b", "a"]
    assert p.loc["b", "a"] == pytest.approx(1 / (1 + np.exp(-1)))
    assert p.loc["c", "a"] == 1.0 and p.loc["a", "c"] == 0.0  # no overflow, no NaN
    nan = predicted_win_matrix(pd.Series({"a": 0.0, "b": np.nan}))
    assert np.isnan(nan["b"]["a"])


def test_predicted_win_matrix_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="scale"):
        predicted_win_matrix(pd.Series({"a": 1.0}), scale=0)
    with pytest.raises(ValueError, match="base"):
        predicted_win_matrix(pd.Series({"a": 1.0}), base=1.0)
    with pytest.raises(ValueError, match="more than once"):
        predicted_win_matrix(pd.Series([1.0, 2.0], index=["a", "a"]))
