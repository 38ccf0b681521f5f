"""Invariances a correct rating engine must have, checked on random battle tables."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena.battles.table import Battles
from arena.leaderboard import ArenaWarning, compute_leaderboard

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def battle_tables(draw: st.DrawFn) -> Battles:
    k = draw(st.integers(2, 6))
    n = draw(st.integers(3, 60))
    a = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    shift = np.array(draw(st.lists(st.integers(1, k - 1), min_size=n, max_size=n)))
    b = (a + shift) % k
    o = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    return Battles.from_codes([f"model-{i}" for i in range(k)], a, b, o).compact()


def table(b: Battles, **kwargs: object) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArenaWarning)
        return compute_leaderboard(b, **kwargs).table.set_index("model")  # type: ignore[arg-type]


COLS = ["rating", "ci_lower", "ci_upper"]


@SETTINGS
@given(battle_tables(), st.randoms(use_true_random=False))
def test_relabelling_models_permutes_results(b: Battles, rnd: object) -> None:
    names = list(b.models)
    renamed = [f"renamed-{n}" for n in names]
    rnd.shuffle(renamed)  # type: ignore[attr-defined]
    mapping = dict(zip(names, renamed, strict=True))
    relabelled = Battles.from_codes(renamed, b.model_a, b.model_b, b.outcome)
    t1 = table(b).rename(index=mapping)
    t2 = table(relabelled)
    pd.testing.assert_frame_equal(t1.loc[t2.index, COLS], t2[COLS], atol=1e-6, rtol=0)


@SETTINGS
@given(battle_tables())
def test_swapping_sides_with_inverted_outcomes_changes_nothing(b: Battles) -> None:
    inverted = np.array([1, 0, 2, 3], dtype=np.int8)[b.outcome]
    swapped = Battles.from_codes(b.models, b.model_b, b.model_a, inverted)
    for method in ("bt", "davidson"):
        if method == "davidson" and not ((b.outcome >= 2).any() and (b.outcome < 2).any()):
            continue
        t1, t2 = table(b, method=method), table(swapped, method=method)
        pd.testing.assert_frame_equal(t1[COLS], t2.loc[t1.index, COLS], atol=1e-6, rtol=0)


@SETTINGS
@given(battle_tables())
def test_duplicating_every_battle_keeps_ratings_and_narrows_intervals(b: Battles) -> None:
    doubled = Battles.concat([b, b])
    t1, t2 = table(b), table(doubled)
    if any("prior" in w for w in compute_leaderboard(b).warnings):
        return  # with a prior the data/prior balance changes, as it should
    np.testing.assert_allclose(t1["rating"], t2.loc[t1.index, "rating"], atol=1e-6)
    w1 = (t1.ci_upper - t1.ci_lower).to_numpy()
    w2 = (t2.ci_upper - t2.ci_lower).loc[t1.index].to_numpy()
    np.testing.assert_allclose(w2, w1 / np.sqrt(2), rtol=1e-6, atol=1e-6)
    # counts are a faster way to say the same thing
    counted = Battles.from_codes(
        b.models, b.model_a, b.model_b, b.outcome, count=np.full(len(b), 2)
    )
    np.testing.assert_allclose(
        table(counted).loc[t1.index, COLS], t2.loc[t1.index, COLS], atol=1e-6
    )


@SETTINGS
@given(battle_tables(), st.floats(-3000, 3000), st.floats(-3000, 3000))
def test_shifting_the_anchor_shifts_everything_equally(b: Battles, r1: float, r2: float) -> None:
    model = b.models[0]
    t1, t2 = table(b, anchor=(model, r1)), table(b, anchor=(model, r2))
    assert abs(t1["rating"][model] - r1) < 1e-6
    np.testing.assert_allclose(t2[COLS] - t1[COLS], r2 - r1, atol=1e-6)
    assert (t1["rank_ub"] == t2.loc[t1.index, "rank_ub"]).all()


@SETTINGS
@given(battle_tables())
def test_elo_is_zero_sum_and_symmetric(b: Battles) -> None:
    t = table(b, method="elo", ci="none")
    assert abs(t["rating"].mean() - 1000) < 1e-9
    inverted = np.array([1, 0, 2, 3], dtype=np.int8)[b.outcome]
    swapped = Battles.from_codes(b.models, b.model_b, b.model_a, inverted)
    t2 = table(swapped, method="elo", ci="none")
    np.testing.assert_allclose(t["rating"], t2.loc[t.index, "rating"], atol=1e-9)
