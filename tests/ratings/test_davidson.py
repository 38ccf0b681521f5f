"""Davidson's model against independent fits, its existence condition and its edge cases."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from arena.battles.table import Battles
from arena.errors import UserError
from arena.leaderboard import ArenaWarning, compute_leaderboard
from arena.ratings.graph import diagnose_davidson
from arena.ratings.pairs import cells_from_arrays

PPN = 400 / np.log(10)

#: 15 battles: "top" has only wins and ties, the others beat each other in cycles.
FIFTEEN = (
    [("top", "a", 0)] * 3
    + [("top", "b", 2)] * 2
    + [("top", "c", 0)]
    + [("a", "b", 0)] * 2
    + [("b", "a", 0)]
    + [("b", "c", 0)] * 2
    + [("c", "a", 0)] * 2
    + [("a", "c", 2)]
    + [("b", "c", 1)]
)


def battles(rows: list[tuple[str, str, int]]) -> Battles:
    a, b, o = zip(*rows, strict=True)
    return Battles.from_names(np.array(a), np.array(b), np.array(o))


def scipy_davidson(rows: list[tuple[str, str, int]]) -> tuple[dict[str, float], float]:
    """The Davidson MLE written out from its definition and maximised by BFGS."""
    names = sorted({m for r in rows for m in r[:2]})
    index = {m: i for i, m in enumerate(names)}
    a = np.array([index[r[0]] for r in rows])
    b = np.array([index[r[1]] for r in rows])
    o = np.array([r[2] for r in rows])
    k = len(names)

    def negative_log_likelihood(x: np.ndarray) -> float:
        theta, log_nu = x[:k], x[k]
        d = theta[a] - theta[b]
        log_den = np.logaddexp(np.logaddexp(d / 2, -d / 2), log_nu)
        ll = np.where(o == 0, d / 2, np.where(o == 1, -d / 2, log_nu)) - log_den
        return float(-ll.sum())

    res = minimize(negative_log_likelihood, np.zeros(k + 1), method="BFGS", options={"gtol": 1e-9})
    assert np.max(np.abs(res.jac)) < 1e-5  # at the optimum (BFGS may stop on rounding)
    theta = res.x[:k] - res.x[:k].mean()
    return {m: 1000 + PPN * t for m, t in zip(names, theta, strict=True)}, float(np.exp(res.x[k]))


def evalica_davidson(rows: list[tuple[str, str, int]]) -> tuple[dict[str, float], float]:
    """evalica's Newman fit: Davidson's model with ``nu = 2 v`` (Newman 2023)."""
    import evalica

    code = {0: evalica.Winner.X, 1: evalica.Winner.Y, 2: evalica.Winner.Draw}
    res = evalica.newman(
        [r[0] for r in rows],
        [r[1] for r in rows],
        [code[r[2]] for r in rows],
        tolerance=1e-13,
        limit=1_000_000,
    )
    s = np.log(res.scores.to_numpy(dtype=float))
    s -= s.mean()
    return dict(zip(res.scores.index, 1000 + PPN * s, strict=True)), 2 * float(res.v)


def ours(rows: list[tuple[str, str, int]], **kwargs: object) -> tuple[pd.DataFrame, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ArenaWarning)  # no prior, no warning
        lb = compute_leaderboard(battles(rows), method="davidson", **kwargs)  # type: ignore[arg-type]
    return lb.table.set_index("model"), lb


def synthetic_wins_and_ties(seed: int = 11) -> list[tuple[str, str, int]]:
    """Davidson data on 8 models where the strongest one's losses are recorded as ties."""
    rng = np.random.default_rng(seed)
    k, n, nu = 8, 600, 0.7
    true = np.linspace(-1.2, 1.8, k)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    pa, pb = np.exp(true[a]), np.exp(true[b])
    den = pa + pb + nu * np.sqrt(pa * pb)
    u = rng.random(n)
    o = np.where(u < pa / den, 0, np.where(u < (pa + pb) / den, 1, 2))
    top = k - 1
    o = np.where((a == top) & (o == 1), 2, o)
    o = np.where((b == top) & (o == 0), 2, o)
    return [(f"m{x}", f"m{y}", int(z)) for x, y, z in zip(a, b, o, strict=True)]


@pytest.mark.parametrize(
    "rows", [FIFTEEN, synthetic_wins_and_ties()], ids=["15 battles", "600 synthetic"]
)
def test_only_wins_and_ties_has_a_finite_mle_equal_to_independent_fits(
    rows: list[tuple[str, str, int]],
) -> None:
    table, lb = ours(rows, ci="sandwich")
    top = "top" if rows is FIFTEEN else "m7"
    assert table["losses"][top] == 0 and table["ties"][top] > 0
    assert lb.params["prior_sd_points"] is None  # type: ignore[attr-defined]
    assert (table.ci_flag == "").all()
    ref, nu = scipy_davidson(rows)
    for model, rating in ref.items():
        assert table.loc[model, "rating"] == pytest.approx(rating, abs=1e-3)
    assert lb.extras["nu"] == pytest.approx(nu, rel=1e-5)  # type: ignore[attr-defined]
    peer, peer_nu = evalica_davidson(rows)
    for model, rating in peer.items():
        assert table.loc[model, "rating"] == pytest.approx(rating, abs=1e-3)
    assert lb.extras["nu"] == pytest.approx(peer_nu, rel=1e-5)  # type: ignore[attr-defined]


def test_bootstrap_uses_the_same_existence_check() -> None:
    # every resample where "top" keeps a tie has a finite MLE: no round needs the prior,
    # so the bootstrap centre sits near the MLE instead of being pulled by the prior
    table, _ = ours(FIFTEEN, ci="bootstrap", rounds=200, seed=1)
    assert (table.ci_lower < table.rating).all() and (table.rating < table.ci_upper).all()


def test_one_win_and_one_tie_has_no_mle_and_says_why() -> None:
    # P(win) = P(tie) -> 1/2 only as the gap and nu grow together: the "tie order"
    rows = [("x", "y", 0), ("x", "y", 2)]
    b = battles(rows)
    cells = cells_from_arrays(2, b.model_a, b.model_b, b.outcome, b.count, b.weight)
    diag = diagnose_davidson(cells.stats(), 2)
    assert not diag.exists and diag.tie_order == (0, 1)
    # the likelihood really keeps rising along that direction
    lls = []
    for t in (1.0, 5.0, 10.0, 20.0):
        d, log_nu = 2 * t, t
        den = np.logaddexp(np.logaddexp(d / 2, -d / 2), log_nu)
        lls.append((d / 2 - den) + (log_nu - den))
    assert all(x < y for x, y in itertools.pairwise(lls))
    with pytest.warns(ArenaWarning, match="tie parameter can grow together"):
        lb = compute_leaderboard(b, method="davidson")
    assert set(lb.table.ci_flag) == {"unbounded"}


@pytest.mark.parametrize(
    ("rows", "exists"),
    [
        (FIFTEEN, True),
        ([("x", "y", 0), ("y", "z", 0), ("z", "x", 0), ("x", "y", 2)], True),
        ([("x", "y", 0), ("y", "x", 0), ("z", "x", 0), ("z", "y", 0), ("x", "y", 2)], False),
        ([("x", "y", 0), ("y", "z", 0), ("x", "z", 2)], True),  # the tie spans the order
        ([("x", "y", 0), ("y", "z", 0), ("x", "y", 2)], False),  # neighbours tie: tie order
        ([("x", "y", 0), ("y", "x", 0), ("c", "d", 2), ("c", "d", 0), ("d", "c", 0)], False),
    ],
    ids=["fifteen", "cycle", "undefeated z", "tie across", "tie order", "two groups"],
)
def test_existence_check(rows: list[tuple[str, str, int]], exists: bool) -> None:
    b = battles(rows)
    cells = cells_from_arrays(b.n_models, b.model_a, b.model_b, b.outcome, b.count, b.weight)
    assert diagnose_davidson(cells.stats(), b.n_models).exists is exists
    if exists:  # an independent optimiser finds the same finite optimum
        table, _ = ours(rows, ci="none")
        for model, rating in scipy_davidson(rows)[0].items():
            assert table.loc[model, "rating"] == pytest.approx(rating, abs=1e-3)


@pytest.mark.parametrize(
    "rows",
    [
        [("x", "y", 0), ("y", "x", 0)],  # no tie
        [("x", "y", 2), ("y", "x", 3)],  # only ties
        [("x", "y", 0)],  # one battle
    ],
    ids=["no ties", "only ties", "one battle"],
)
def test_davidson_without_a_tie_parameter_is_a_user_error(rows: list[tuple[str, str, int]]) -> None:
    with pytest.raises(UserError, match=r"needs both ties and decisive battles.*--method bt"):
        compute_leaderboard(battles(rows), method="davidson")


def test_bootstrap_with_rare_ties_survives_resamples_without_ties() -> None:
    rng = np.random.default_rng(3)
    rows = [("a", "b", int(rng.random() < 0.4)) for _ in range(80)] + [("a", "c", 0)] * 5
    rows += [("c", "b", 0)] * 5 + [("c", "a", 0)] * 3 + [("b", "c", 0)] * 2 + [("a", "b", 2)]
    # one tie in 96 battles: about e^-1 = 37 % of the rounds resample no tie at all
    table, _ = ours(rows, ci="bootstrap", rounds=60, seed=0)
    assert np.isfinite(table[["ci_lower", "ci_upper"]].to_numpy()).all()
    assert (table.ci_lower < table.rating).all() and (table.rating < table.ci_upper).all()
    # those rounds take the boundary MLE (nu -> 0), i.e. Bradley–Terry on the decisive
    # battles: the interval stays close to the Bradley–Terry bootstrap's
    bt = compute_leaderboard(battles(rows), ci="bootstrap", rounds=60, seed=0).table
    bt = bt.set_index("model")
    width = table.ci_upper - table.ci_lower
    assert np.allclose(width, (bt.ci_upper - bt.ci_lower)[width.index], rtol=0.5)
