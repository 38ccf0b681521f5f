"""Pair-sampling policies: probabilities on constructed fits, draws, records, the refresh cache."""

from __future__ import annotations

import math
import random
import threading
from collections import Counter

import numpy as np
import pytest

from arena.errors import UserError
from arena.service import NoModelsAvailable
from arena.service.sampling import (
    AdaptiveSettings,
    Candidate,
    PairUncertainty,
    UncertaintyCache,
    adaptive_scores,
    draw_pair,
    inverse_probability_weights,
    pair_probabilities,
)

PPN = 400 / math.log(10)  # rating points per natural-log unit


def fit(points: dict[str, float], sd_points: dict[str, float]) -> PairUncertainty:
    """A constructed fit: ratings and independent standard errors, in rating points."""
    names = tuple(points)
    theta = np.array([points[m] for m in names]) / PPN
    cov = np.diag([(sd_points[m] / PPN) ** 2 for m in names])
    return PairUncertainty(names, theta, cov, n_votes=1234)


def probs_by_pair(
    models: list[Candidate], policy: str, uncertainty: PairUncertainty | None, **settings: float
) -> dict[frozenset[str], float]:
    pairs, probs = pair_probabilities(
        models, policy, uncertainty, AdaptiveSettings(**settings) if settings else None
    )
    return {frozenset((a.name, b.name)): float(p) for (a, b), p in zip(pairs, probs, strict=True)}


FIVE = [Candidate(m, 1.0) for m in ("a", "b", "c", "d", "e")]
#: Ratings 40 points apart, all settled except "c", whose interval spans its neighbours.
SETTLED = {"a": 1080.0, "b": 1040.0, "c": 1000.0, "d": 960.0, "e": 920.0}


def test_weighted_is_proportional_to_the_product_of_weights() -> None:
    models = [Candidate("a", 1.0), Candidate("b", 2.0), Candidate("c", 3.0)]
    probs = probs_by_pair(models, "weighted", None)
    assert probs == pytest.approx(
        {frozenset("ab"): 2 / 11, frozenset("ac"): 3 / 11, frozenset("bc"): 6 / 11}
    )


def test_adaptive_sends_votes_to_the_unsettled_model() -> None:
    sd = {m: 2.0 for m in SETTLED} | {"c": 30.0}
    probs = probs_by_pair(FIVE, "adaptive", fit(SETTLED, sd), mix=1.0, floor=0.05)
    with_c = sum(p for pair, p in probs.items() if "c" in pair)
    assert with_c > 0.9  # 4 of the 10 pairs would be 0.4 under uniform sampling
    # its opponent is chosen by information: a close neighbour beats a distant one
    assert probs[frozenset("bc")] > probs[frozenset("ac")]
    # settled pairs keep exactly the floor
    assert probs[frozenset("ab")] == pytest.approx(0.05 / 10)


def test_every_allowed_pair_keeps_the_floor() -> None:
    sd = {m: 2.0 for m in SETTLED} | {"c": 500.0}
    for floor in (0.01, 0.1, 0.5):
        probs = probs_by_pair(FIVE, "adaptive", fit(SETTLED, sd), mix=1.0, floor=floor)
        assert sum(probs.values()) == pytest.approx(1.0)
        assert min(probs.values()) >= floor / len(probs) * (1 - 1e-12)


def test_adaptive_mixes_in_the_configured_weights() -> None:
    models = [Candidate("a", 4.0), Candidate("b", 1.0), Candidate("c", 1.0), Candidate("d", 1.0)]
    uncertainty = fit({m.name: 1000.0 for m in models}, {m.name: 50.0 for m in models})
    weighted = probs_by_pair(models, "weighted", None)
    adaptive = probs_by_pair(models, "adaptive", uncertainty, mix=1.0, floor=0.1)
    half = probs_by_pair(models, "adaptive", uncertainty, mix=0.5, floor=0.1)
    none = probs_by_pair(models, "adaptive", uncertainty, mix=0.0, floor=0.1)
    for pair in weighted:
        assert none[pair] == pytest.approx(0.1 / 6 + 0.9 * weighted[pair])
        assert half[pair] == pytest.approx((none[pair] + adaptive[pair]) / 2)
    # four equal, equally uncertain models: the adaptive part is even; the weights tilt it
    assert adaptive[frozenset("ab")] == pytest.approx(1 / 6)
    assert half[frozenset("ab")] > half[frozenset("bc")]


def test_two_previews_are_never_paired_under_either_policy() -> None:
    models = [
        Candidate("p1", 5.0, preview=True),
        Candidate("p2", 5.0, preview=True),
        Candidate("known", 0.1),
        Candidate("other", 0.1),
    ]
    # the previews are the most uncertain: the adaptive policy would love to pair them
    uncertainty = fit(
        {"p1": 1000.0, "p2": 1001.0, "known": 900.0, "other": 1100.0},
        {"p1": 300.0, "p2": 300.0, "known": 1.0, "other": 1.0},
    )
    for policy in ("weighted", "adaptive"):
        probs = probs_by_pair(models, policy, uncertainty)
        assert frozenset(("p1", "p2")) not in probs
        assert len(probs) == 5
        rng = random.Random(3)
        for _ in range(300):
            draw = draw_pair(models, rng, policy, uncertainty)
            assert not {draw.side_a, draw.side_b} <= {"p1", "p2"}


def test_a_model_the_fit_has_not_seen_is_explored_first() -> None:
    models = [*FIVE, Candidate("new", 1.0)]
    sd = {m: 3.0 for m in SETTLED}
    probs = probs_by_pair(models, "adaptive", fit(SETTLED, sd), mix=1.0, floor=0.1)
    assert sum(p for pair, p in probs.items() if "new" in pair) > 0.8


def test_without_a_fit_adaptive_is_the_floor_mixed_with_uniform() -> None:
    models = [Candidate("a", 3.0), Candidate("b", 1.0), Candidate("c", 1.0)]
    weighted = probs_by_pair(models, "weighted", None)
    probs = probs_by_pair(models, "adaptive", None, mix=0.8, floor=0.1)
    for pair, p in probs.items():
        assert p == pytest.approx(0.1 / 3 + 0.9 * (0.2 * weighted[pair] + 0.8 / 3))


def test_everything_settled_gives_an_even_adaptive_part() -> None:
    sd = {m: 1.0 for m in SETTLED}
    scores = adaptive_scores([("a", "b"), ("b", "c"), ("a", "e")], fit(SETTLED, sd))
    assert np.all(scores == 0)
    probs = probs_by_pair(FIVE, "adaptive", fit(SETTLED, sd), mix=1.0, floor=0.1)
    assert set(np.round(list(probs.values()), 12)) == {0.1}


def test_near_equal_models_do_not_swallow_the_votes() -> None:
    # "b", "c", "c2" sit within one point of each other and are well measured: telling
    # them apart would take a huge number of votes, and the policy does not try to
    # (gaps below MIN_GAP_POINTS are not chased); the poorly known "a" and "d" get them
    points = {"a": 1100.0, "b": 1000.5, "c": 1000.0, "c2": 999.5, "d": 900.0}
    sd = {"a": 40.0, "b": 0.5, "c": 0.5, "c2": 0.5, "d": 40.0}
    models = [Candidate(m, 1.0) for m in points]
    probs = probs_by_pair(models, "adaptive", fit(points, sd), mix=1.0, floor=0.1)
    cluster = {frozenset(("b", "c")), frozenset(("b", "c2")), frozenset(("c", "c2"))}
    assert sum(probs[pair] for pair in cluster) < 0.05  # 0.3 under uniform sampling
    assert sum(p for pair, p in probs.items() if pair & {"a", "d"}) > 0.9


def test_draws_follow_the_probabilities_and_record_them() -> None:
    sd = {m: 2.0 for m in SETTLED} | {"c": 30.0}
    uncertainty = fit(SETTLED, sd)
    expected = probs_by_pair(FIVE, "adaptive", uncertainty)
    rng = random.Random(7)
    seen: Counter[frozenset[str]] = Counter()
    c_on_side_a = 0
    n = 5_000
    for _ in range(n):
        draw = draw_pair(FIVE, rng, "adaptive", uncertainty, AdaptiveSettings())
        pair = frozenset(draw.names)
        seen[pair] += 1
        c_on_side_a += draw.side_a == "c"
        assert draw.probability == pytest.approx(expected[pair])
        record = draw.record()
        assert record == {
            "policy": "adaptive",
            "pair_probability": draw.probability,
            "n_pairs": 10,
            "fit_votes": 1234,
        }
    for pair, p in expected.items():
        assert abs(seen[pair] / n - p) < 4 * math.sqrt(p * (1 - p) / n) + 1e-3
    with_c = sum(c for pair, c in seen.items() if "c" in pair)
    assert abs(c_on_side_a / with_c - 0.5) < 0.05  # sides at random


def test_weighted_draws_record_the_policy() -> None:
    models = [Candidate("a", 1.0), Candidate("b", 3.0)]
    draw = draw_pair(models, random.Random(0))
    assert draw.record() == {
        "policy": "weighted",
        "pair_probability": 1.0,
        "n_pairs": 1,
        "fit_votes": None,
    }


def test_bad_policy_and_settings_are_refused() -> None:
    with pytest.raises(UserError, match="unknown sampling policy 'greedy'"):
        pair_probabilities(FIVE, "greedy")
    for bad in ({"mix": 1.5}, {"floor": 0.0}, {"floor": 2.0}, {"mix": -0.1}):
        with pytest.raises(UserError):
            AdaptiveSettings(**bad)
    with pytest.raises(NoModelsAvailable):
        pair_probabilities([Candidate("only", 1.0)], "adaptive")


def test_inverse_probability_weights_undo_the_policy() -> None:
    """Reweighted battle counts per pair are those of uniform pair sampling."""
    sd = {m: 2.0 for m in SETTLED} | {"c": 30.0}
    pairs, probs = pair_probabilities(FIVE, "adaptive", fit(SETTLED, sd))
    drawn = np.random.default_rng(11).choice(len(pairs), size=40_000, p=probs)
    weights = inverse_probability_weights(probs[drawn], np.full(len(drawn), len(pairs)))
    raw = np.bincount(drawn, minlength=len(pairs))
    reweighted = np.bincount(drawn, weights=weights, minlength=len(pairs))
    assert raw.max() / raw.min() > 5  # the policy was far from uniform
    assert reweighted == pytest.approx(np.full(len(pairs), len(drawn) / len(pairs)), rel=0.15)
    assert inverse_probability_weights(np.array([np.nan]), np.array([np.nan])) == [1.0]
    with pytest.raises(UserError, match="probability in"):
        inverse_probability_weights(np.array([0.0]), np.array([3.0]))
    with pytest.raises(UserError):
        inverse_probability_weights(np.array([1.5]), np.array([3.0]))


def test_fit_from_counts_orders_models_and_bounds_unseen_ones() -> None:
    models = ("strong", "weak", "unseen")
    counts = np.zeros((3, 3, 4))
    counts[0, 1] = [80, 20, 10, 0]  # strong beats weak
    u = PairUncertainty.from_counts(models, counts)
    assert u.n_votes == 110
    assert u.theta[0] > u.theta[1]
    c = u.covariance
    known = c[0, 0] + c[1, 1] - 2 * c[0, 1]
    unseen = c[0, 0] + c[2, 2] - 2 * c[0, 2]
    assert unseen > 100 * known  # the unseen model is far less certain
    assert np.all(np.isfinite(u.covariance))
    # undefeated data still gives a finite fit (the weak prior)
    counts[0, 1] = [30, 0, 0, 0]
    assert np.all(np.isfinite(PairUncertainty.from_counts(models, counts).theta))


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cache_refits_at_a_bounded_rate_in_the_background() -> None:
    clock = _Clock()
    calls: list[float] = []
    gate = threading.Event()
    value = PairUncertainty(("a", "b"), np.zeros(2), np.eye(2))

    def load() -> PairUncertainty:
        gate.wait(5)
        calls.append(clock.now)
        return value

    cache = UncertaintyCache(load, refresh_s=60.0, clock=clock)
    assert cache.get() is None  # never computes in the caller: the first fit is behind
    for _ in range(50):  # many requests meanwhile start no second refit
        assert cache.get() is None
    gate.set()
    cache.wait(5)
    assert cache.get() is value and len(calls) == 1
    clock.now = 59.0
    for _ in range(50):
        cache.get()
    cache.wait(5)
    assert len(calls) == 1
    clock.now = 61.0
    cache.get()
    cache.wait(5)
    assert len(calls) == 2
    cache.close()
    clock.now = 500.0
    cache.get()
    cache.wait(5)
    assert len(calls) == 2


def test_cache_keeps_the_previous_fit_when_a_refit_fails() -> None:
    clock = _Clock()
    value = PairUncertainty(("a", "b"), np.zeros(2), np.eye(2))
    results: list[object] = [value, RuntimeError("database down")]

    def load() -> PairUncertainty:
        item = results.pop(0)
        if isinstance(item, Exception):
            raise item
        assert isinstance(item, PairUncertainty)
        return item

    cache = UncertaintyCache(load, refresh_s=1.0, clock=clock)
    cache.get()
    cache.wait(5)
    clock.now = 2.0
    assert cache.get() is value
    cache.wait(5)
    assert cache.get() is value
