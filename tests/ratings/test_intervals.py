"""Intervals that never mislead: where the data cannot bound a rating, the interval says so."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_expit

from arena.battles.table import Battles
from arena.leaderboard import CI_FLAGS, PRIOR_SD_POINTS, ArenaWarning, compute_leaderboard

PPN = 400 / np.log(10)


def battles(rows: list[tuple[str, str, int]]) -> Battles:
    a, b, o = zip(*rows, strict=True)
    return Battles.from_names(np.array(a), np.array(b), np.array(o))


def table(rows: list[tuple[str, str, int]], **kwargs: object) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArenaWarning)
        lb = compute_leaderboard(battles(rows), **kwargs)  # type: ignore[arg-type]
    return lb.table.set_index("model")


def exact_posterior_interval(wins: int, level: float = 0.95) -> tuple[float, float]:
    """Central interval of the champion's centred rating, two models, ``wins`` to 0.

    Under the fallback prior (independent normals, sd PRIOR_SD_POINTS) the gap ``d`` has
    prior N(0, 2 sd^2) and likelihood sigmoid(d)^wins; the centred rating is d / 2.
    """
    sd = PRIOR_SD_POINTS / PPN
    d = np.linspace(-60, 80, 400_001)
    log_post = wins * log_expit(d) - d**2 / (4 * sd**2)
    w = np.exp(log_post - log_post.max())
    cdf = np.cumsum(w) / w.sum()
    tail = (1 - level) / 2
    points = 1000 + PPN * d / 2
    return float(points[np.searchsorted(cdf, tail)]), float(points[np.searchsorted(cdf, 1 - tail)])


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
def test_undefeated_model_gets_an_honest_wide_flagged_interval(ci: str) -> None:
    rows = [("champ", "x", 0)] * 30
    t = table(rows, ci=ci, rounds=50)
    champ, x = t.loc["champ"], t.loc["x"]
    assert champ.ci_flag == "unbounded above" and x.ci_flag == "unbounded below"
    # not the old +/-44: the upper side reaches far into what only the prior limits
    assert champ.ci_upper - champ.rating > 600 and champ.rating - champ.ci_lower > 300
    lo, hi = exact_posterior_interval(30)
    # conservative below (the posterior is skewed up), and most of the way up
    assert champ.ci_lower <= lo
    assert champ.ci_upper >= lo + 0.9 * (hi - lo)
    # nothing is "separated" on 30 battles that only the prior keeps finite
    assert (t.rank_ub == 1).all()


def test_one_added_tie_narrows_the_interval_instead_of_swinging_it() -> None:
    without = table([("champ", "x", 0)] * 30).loc["champ"]
    with_tie = table([("champ", "x", 0)] * 30 + [("champ", "x", 2)]).loc["champ"]
    assert with_tie.ci_flag == ""  # the tie makes the MLE exist
    # more data, a narrower interval, inside the one before
    assert without.ci_lower <= with_tie.ci_lower < with_tie.ci_upper <= without.ci_upper
    assert abs(with_tie.rating - without.rating) < 200


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
@pytest.mark.parametrize(
    ("rows", "flag"),
    [
        ([("a", "b", 2)] * 4 + [("b", "c", 3)] * 4, "no variation"),  # all ties
        ([("a", "b", 2)], "no variation"),  # a single tie
        ([("a", "b", 0)], None),  # a single battle: unbounded above / below
    ],
    ids=["all ties", "single tie", "single battle"],
)
def test_degenerate_data_never_give_zero_width(
    rows: list[tuple[str, str, int]], flag: str | None, ci: str
) -> None:
    t = table(rows, ci=ci, rounds=30)
    width = t.ci_upper - t.ci_lower
    # at least the Fisher interval of one battle per model: +/- z * 2 / sqrt(n) nats / 2
    assert (width > 2 * 1.96 * PPN * 0.5 / np.sqrt(t.battles) * 0.99).all()
    assert (t.ci_flag != "").all()
    if flag is not None:
        assert set(t.ci_flag) == {flag}
    assert set(t.ci_flag) <= set(CI_FLAGS)


def test_single_tie_gets_the_fisher_interval() -> None:
    # one tie: equal ratings; Fisher information of the gap 1/4, so its sd is 2 nats and
    # each centred rating (half the gap) has sd 1 nat
    t = table([("a", "b", 2)])
    assert t.loc["a", "rating"] == pytest.approx(1000)
    assert t["ci_upper"]["a"] - 1000 == pytest.approx(1.959964 * PPN, rel=1e-6)


def test_well_measured_models_keep_their_sandwich_interval() -> None:
    rng = np.random.default_rng(0)
    rows = [("a", "b", int(rng.integers(0, 3))) for _ in range(300)]
    rows += [("b", "c", int(rng.integers(0, 3))) for _ in range(300)]
    rows += [("newcomer", "a", 0)] * 3  # undefeated on three battles
    t = table(rows)
    assert t.loc["newcomer", "ci_flag"] == "unbounded above"
    assert (t.drop(index="newcomer").ci_flag == "").all()
    # the others stay narrow: their battles bound them
    assert ((t.ci_upper - t.ci_lower).drop(index="newcomer") < 150).all()
    assert t["ci_upper"]["newcomer"] - t["ci_lower"]["newcomer"] > 800


def test_disconnected_groups_are_unlinked_and_wide() -> None:
    rows = [("a", "b", 0), ("b", "a", 0), ("a", "b", 2)] * 5 + [("c", "d", 0), ("d", "c", 0)] * 2
    t = table(rows)
    assert set(t.ci_flag) == {"unlinked"}
    assert ((t.ci_upper - t.ci_lower) > 1000).all()


@pytest.mark.parametrize(
    "rows",
    [[("a", "b", 0)], [("a", "b", 2)], [("a", "b", 2)] * 5 + [("b", "c", 3)] * 5],
    ids=["single battle", "single tie", "all ties"],
)
def test_elo_bootstrap_never_collapses_where_every_resample_is_the_same(
    rows: list[tuple[str, str, int]],
) -> None:
    t = table(rows, method="elo", ci="bootstrap", rounds=20)
    assert (t.ci_flag != "").all()
    # what any outcomes could do: K = 4 points per battle either way from 1000
    assert np.allclose(t.ci_lower, 1000 - 4 * t.battles)
    assert np.allclose(t.ci_upper, 1000 + 4 * t.battles)
    assert ((t.ci_lower <= t.rating) & (t.rating <= t.ci_upper)).all()


def test_elo_bootstrap_of_varied_data_is_untouched() -> None:
    rng = np.random.default_rng(1)
    rows = [("a", "b", int(rng.integers(0, 3))) for _ in range(200)]
    rows += [("b", "c", int(rng.integers(0, 3))) for _ in range(200)]
    t = table(rows, method="elo", ci="bootstrap", rounds=20)
    assert (t.ci_flag == "").all()
    assert ((t.ci_upper - t.ci_lower) < 4 * t.battles).all()
