"""Bradley–Terry, Davidson and the leaderboard on small hand-made data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from arena.battles.table import Battles
from arena.errors import UserError
from arena.leaderboard import ArenaWarning, compute_leaderboard
from arena.ratings.bt import fit_bt, sandwich_bt
from arena.ratings.davidson import fit_davidson
from arena.ratings.intervals import rank_upper_bound
from arena.ratings.pairs import cells_from_arrays


def battles(rows: list[tuple[str, str, int]], **kwargs: object) -> Battles:
    a, b, o = zip(*rows, strict=True)
    return Battles.from_names(np.array(a), np.array(b), np.array(o), **kwargs)


def ratings(b: Battles, **kwargs: object) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArenaWarning)
        lb = compute_leaderboard(b, **kwargs)  # type: ignore[arg-type]
    return lb.table.set_index("model")["rating"]


def test_two_models_recover_log_odds() -> None:
    # 30 wins to 10: P = 3/4, so the gap is 400 log10(3) points
    rows = [("x", "y", 0)] * 30 + [("x", "y", 1)] * 10
    r = ratings(battles(rows), ci="none")
    assert r["x"] - r["y"] == pytest.approx(400 * np.log10(3), abs=1e-6)
    assert (r["x"] + r["y"]) / 2 == pytest.approx(1000)


def test_ties_are_half_wins() -> None:
    # one win each way plus two ties is an even record
    rows = [("x", "y", 0), ("x", "y", 1), ("x", "y", 2), ("y", "x", 3)]
    r = ratings(battles(rows), ci="none")
    assert r["x"] == pytest.approx(r["y"])
    # 1 win + 2 ties against 1 loss: score 2 of 4 -> equal; add one tie-win imbalance
    r2 = ratings(battles([("x", "y", 0), ("x", "y", 0), ("x", "y", 1), ("x", "y", 2)]), ci="none")
    # x scores 2.5 of 4: odds 2.5 / 1.5
    assert r2["x"] - r2["y"] == pytest.approx(400 * np.log10(2.5 / 1.5), abs=1e-6)


def test_weights_act_like_repetitions() -> None:
    rows = [
        ("x", "y", 0),
        ("x", "y", 1),
        ("y", "z", 0),
        ("z", "y", 0),
        ("x", "z", 0),
        ("z", "x", 0),
    ]
    weighted = battles(rows, weight=[3, 1, 2, 1, 1, 1])
    repeated = battles([rows[0]] * 3 + [rows[1]] + [rows[2]] * 2 + rows[3:])
    assert ratings(weighted, ci="none").to_dict() == pytest.approx(
        ratings(repeated, ci="none").to_dict()
    )


def test_undefeated_model_gets_finite_rating_and_named_warning() -> None:
    rows = [("champ", "x", 0)] * 5 + [
        ("x", "y", 0),
        ("y", "x", 0),
        ("y", "z", 0),
        ("z", "y", 2),
        ("x", "z", 1),
    ]
    b = battles(rows)
    seen: list[str] = []
    with pytest.warns(ArenaWarning, match="champ"):
        lb = compute_leaderboard(b, on_warning=seen.append)
    assert np.isfinite(lb.table[["rating", "ci_lower", "ci_upper"]].to_numpy()).all()
    assert lb.table.iloc[0]["model"] == "champ"
    assert seen and "champ" in seen[0] and lb.warnings == tuple(seen)
    assert lb.params["prior_sd_points"] is not None


def test_never_winning_model_is_named() -> None:
    rows = [("loser", "x", 1)] * 4 + [("x", "y", 0), ("y", "x", 0)]
    with pytest.warns(ArenaWarning, match="loser"):
        lb = compute_leaderboard(battles(rows))
    assert lb.table.iloc[-1]["model"] == "loser"
    assert np.isfinite(lb.table["rating"]).all()


def test_disconnected_groups_are_named_and_finite() -> None:
    rows = [("a", "b", 0), ("b", "a", 0), ("c", "d", 0), ("d", "c", 2)]
    with pytest.warns(ArenaWarning, match="2 groups"):
        lb = compute_leaderboard(battles(rows), ci="bootstrap", rounds=20)
    vals = lb.table[["rating", "ci_lower", "ci_upper"]].to_numpy()
    assert np.isfinite(vals).all()


def test_bt_converges_to_reported_tolerance() -> None:
    rng = np.random.default_rng(1)
    k, n = 30, 5000
    true = rng.normal(0, 1, k)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    p = 1 / (1 + np.exp(true[b] - true[a]))
    o = (rng.random(n) > p).astype(int)
    cells = cells_from_arrays(k, a, b, o, np.ones(n), np.ones(n))
    fit = fit_bt(cells.stats(), k, tol=1e-12)
    assert fit.max_step <= 1e-12
    assert fit.max_gradient <= 1e-8
    assert fit.iterations < 20
    assert np.corrcoef(fit.theta, true)[0, 1] > 0.95


def test_sandwich_matches_bootstrap_spread() -> None:
    rng = np.random.default_rng(2)
    k, n = 8, 20000
    true = np.linspace(-1, 1, k)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    p = 1 / (1 + np.exp(true[b] - true[a]))
    o = (rng.random(n) > p).astype(int)
    b_ = Battles.from_codes([f"m{i}" for i in range(k)], a, b, o)
    sand = compute_leaderboard(b_, ci="sandwich").table.set_index("model")
    boot = compute_leaderboard(b_, ci="bootstrap", rounds=300, seed=3).table.set_index("model")
    width_s = sand.ci_upper - sand.ci_lower
    width_b = boot.ci_upper - boot.ci_lower
    assert np.allclose(width_s, width_b[width_s.index], rtol=0.2)
    # sandwich on well-specified data is close to the model-based interval
    cells = cells_from_arrays(k, a, b, o, np.ones(n), np.ones(n))
    fit = fit_bt(cells.stats(), k)
    cov = sandwich_bt(cells.stats(), fit, k)
    model_based = np.linalg.pinv(fit.information)
    assert np.allclose(np.diag(cov), np.diag(model_based), rtol=0.1)


def test_bootstrap_is_reproducible_with_seed() -> None:
    rows = [("x", "y", 0), ("y", "z", 1), ("z", "x", 2), ("x", "z", 0), ("y", "x", 0)] * 10
    b = battles(rows)
    t1 = compute_leaderboard(b, ci="bootstrap", rounds=30, seed=7).table
    t2 = compute_leaderboard(b, ci="bootstrap", rounds=30, seed=7).table
    t3 = compute_leaderboard(b, ci="bootstrap", rounds=30, seed=8).table
    pd.testing.assert_frame_equal(t1, t2)
    assert not t1.ci_lower.equals(t3.ci_lower)


def test_rank_upper_bound() -> None:
    lower = np.array([10.0, 8.0, 1.0, 0.5])
    upper = np.array([12.0, 11.0, 9.0, 2.0])
    # model 2 (upper 9) is below model 0 (lower 10); model 3 (upper 2) is below models 0 and 1
    assert rank_upper_bound(lower, upper).tolist() == [1, 1, 2, 3]


def test_davidson_recovers_tie_parameter() -> None:
    rng = np.random.default_rng(4)
    k, n, nu = 6, 60000, 0.8
    true = np.linspace(-0.8, 0.8, k)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    pa, pb = np.exp(true[a]), np.exp(true[b])
    den = pa + pb + nu * np.sqrt(pa * pb)
    u = rng.random(n)
    o = np.where(u < pa / den, 0, np.where(u < (pa + pb) / den, 1, 2))
    cells = cells_from_arrays(k, a, b, o, np.ones(n), np.ones(n))
    fit = fit_davidson(cells.stats(), k)
    assert fit.extra["nu"] == pytest.approx(nu, rel=0.05)
    assert np.allclose(fit.theta, true - true.mean(), atol=0.05)
    lb = compute_leaderboard(
        Battles.from_codes([f"m{i}" for i in range(k)], a, b, o), method="davidson"
    )
    assert lb.extras["nu"] == pytest.approx(fit.extra["nu"])
    assert (lb.table.ci_lower < lb.table.rating).all() and (
        lb.table.rating < lb.table.ci_upper
    ).all()


def test_davidson_without_ties_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="needs both ties and decisive"):
        b = battles([("x", "y", 0), ("y", "x", 0)])
        cells = cells_from_arrays(2, b.model_a, b.model_b, b.outcome, b.count, b.weight)
        fit_davidson(cells.stats(), 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "glicko"}, "unknown method"),
        ({"ci": "jackknife"}, "unknown interval"),
        ({"method": "elo", "ci": "sandwich"}, "sandwich intervals"),
        ({"anchor": ("nobody", 1000.0)}, "anchor model 'nobody'"),
        ({"anchor": ("xx", 1000.0)}, "did you mean x"),
        ({"style_control": True}, "style control needs"),
        ({"ci": "bootstrap", "rounds": 1}, "at least 2"),
    ],
)
def test_bad_options_are_user_errors(kwargs: dict[str, object], message: str) -> None:
    b = battles([("x", "y", 0), ("y", "x", 0)])
    with pytest.raises(UserError, match=message):
        compute_leaderboard(b, **kwargs)  # type: ignore[arg-type]


def test_elo_refuses_unordered_counts() -> None:
    b = battles([("x", "y", 0), ("y", "x", 0)], count=[3, 2], ordered=False)
    with pytest.raises(UserError, match="aggregated pair counts"):
        compute_leaderboard(b, method="elo", ci="none")


def test_elo_bootstrap_interval_contains_point() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    o = rng.integers(0, 3, n)
    lb = compute_leaderboard(
        Battles.from_codes(list("wxyz"), a, b, o), method="elo", ci="bootstrap", rounds=50
    )
    t = lb.table
    assert (t.ci_lower <= t.ci_upper).all()
    assert lb.params["k"] == 4.0
