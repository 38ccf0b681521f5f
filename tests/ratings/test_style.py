"""Style control recovers a planted style effect and the ratings underneath it."""

from __future__ import annotations

import numpy as np
import pytest

from arena.battles.table import Battles
from arena.leaderboard import compute_leaderboard
from arena.ratings.style import style_design

NAMES = ("tokens", "headers", "list_items", "bold")


def synthetic(n: int = 40000, seed: int = 0) -> tuple[Battles, np.ndarray, float]:
    """Battles where longer answers win more often, and the 'verbose' model writes longer."""
    rng = np.random.default_rng(seed)
    k = 6
    true = np.linspace(-0.6, 0.6, k)
    verbosity = np.array([3.0, 0.5, 1.0, 1.0, 1.0, 0.5])  # model 0 is weak but verbose
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    fa = np.column_stack(
        [rng.gamma(4, 100 * verbosity[a]), rng.poisson(2, n), rng.poisson(3, n), rng.poisson(1, n)]
    )
    fb = np.column_stack(
        [rng.gamma(4, 100 * verbosity[b]), rng.poisson(2, n), rng.poisson(3, n), rng.poisson(1, n)]
    )
    design = style_design(fa, fb, NAMES, np.ones(n))
    beta_len = 0.5
    eta = true[a] - true[b] + beta_len * design.z[:, 0]
    u = rng.random(n)
    p = 1 / (1 + np.exp(-eta))
    o = np.where(u < p, 0, 1)
    tie = rng.random(n) < 0.1
    o = np.where(tie, 2, o)
    battles = Battles.from_codes(
        [f"m{i}" for i in range(k)], a, b, o, style_a=fa, style_b=fb, style_names=NAMES
    )
    return battles, true, beta_len


def test_style_control_recovers_length_effect_and_true_ratings() -> None:
    battles, true, _ = synthetic()
    lb = compute_leaderboard(battles, style_control=True)
    coef = lb.style_coefficients
    assert coef is not None
    tokens = coef.set_index("feature").loc["tokens"]
    # ties dilute the effect (half wins), so compare loosely but it must be clearly there
    assert 0.3 < tokens.coefficient < 0.6
    assert tokens.ci_lower < tokens.coefficient < tokens.ci_upper
    others = coef.set_index("feature").drop(index="tokens")
    assert (others.ci_lower < 0.05).all() and (others.ci_upper > -0.05).all()
    t = lb.table.set_index("model")
    controlled = (t.rating - t.rating.mean()).loc[[f"m{i}" for i in range(6)]].to_numpy()
    plain = (t.rating_plain - t.rating_plain.mean()).loc[[f"m{i}" for i in range(6)]].to_numpy()
    expected = 400 / np.log(10) * (true - true.mean())
    # the verbose weak model is inflated without control, not with it
    assert plain[0] - expected[0] > 40
    assert abs(controlled[0] - expected[0]) < 25
    assert {"rating_plain", "rank_plain", "rank_change"} <= set(lb.table.columns)
    assert (lb.table.rank_change == lb.table.rank_plain - lb.table.rank_ub).all()


def test_style_bootstrap_interval() -> None:
    battles, _, _ = synthetic(n=6000, seed=1)
    lb = compute_leaderboard(battles, style_control=True, ci="bootstrap", rounds=20)
    assert lb.style_coefficients is not None
    assert (lb.style_coefficients.ci_lower < lb.style_coefficients.ci_upper).all()
    assert (lb.table.ci_lower <= lb.table.ci_upper).all()


def test_constant_feature_is_dropped_with_warning() -> None:
    battles, _, _ = synthetic(n=3000)
    assert battles.style_a is not None and battles.style_b is not None
    sa, sb = battles.style_a.copy(), battles.style_b.copy()
    sa[:, 3] = sb[:, 3] = 2.0
    flat = Battles.from_codes(
        battles.models,
        battles.model_a,
        battles.model_b,
        battles.outcome,
        style_a=sa,
        style_b=sb,
        style_names=NAMES,
    )
    with pytest.warns(UserWarning, match="bold"):
        lb = compute_leaderboard(flat, style_control=True)
    assert lb.style_coefficients is not None
    assert "bold" not in set(lb.style_coefficients.feature)
