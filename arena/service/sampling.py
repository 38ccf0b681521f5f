"""Drawing the two models of an anonymous battle: the ``weighted`` and ``adaptive`` policies.

Rules every policy keeps: two preview models (those with a codename) are never paired,
so a visitor never meets two unreleased models at once and can always compare a preview
with a known model; a model with weight 0 is never drawn; the two sides are shuffled
after the pair is drawn.

``weighted`` (the default, and the behaviour before policies existed)
    A pair ``{i, j}`` is drawn with probability proportional to ``w_i * w_j`` among the
    allowed pairs.

``adaptive`` (active sampling; cf. Chiang et al. 2024, "Chatbot Arena", section 5)
    The next pair is chosen to bring the leaderboard's Rank (UB) to within one place of
    the truth with the fewest votes, from the live fit (:class:`PairUncertainty`: the
    strengths and their covariance, refreshed from the store at a bounded rate by
    :class:`UncertaintyCache`, never per request). Rank (UB) comes from each model's
    marginal interval ``theta_a +/- z s_a``; a model's Rank (UB) is within one of its
    true place once its interval is clear of the intervals of the models two or more
    places away. So each model gets a target standard error: with ``g_a`` the fitted gap
    to the closest model two places above or below (at least :data:`MIN_GAP_POINTS`),
    ``s*_a = g_a / (2 z + sqrt(2))`` (the two intervals clear of each other, plus one sd
    of the difference as a margin, :data:`MARGIN_SD`). Since ``1 / s_a^2`` is the Fisher
    information on the model, ``need_a = max(0, 1 / s*_a^2 - 1 / s_a^2)`` is the
    information it still lacks: it grows with the model's current variance and is zero
    once the model is settled. A battle of the pair ``(i, j)`` brings each side the
    information ``w = p (1 - p)`` (``p`` the fitted win probability; near 1/4 for close
    models, small for lopsided pairs), so the score of the pair is
    ``need_i w_ij / W_i + need_j w_ij / W_j`` (``W_i`` the sum of ``w`` over the pairs
    ``i`` may meet): pick a model by its missing information, then an opponent by the
    information one battle brings. The Chatbot Arena paper's rule aims at the win-rate
    matrix (pair probability growing with each pair's variance per battle); this one aims
    at the ranking's intervals, which is what Rank (UB) shows (``perf/bench_sampling.py``
    compares both kinds of policy with uniform sampling). A model the fit does not know
    yet (no battles) counts as maximally uncertain, so it is explored first. The score
    is mixed with the weighted probabilities and a uniform floor::

        P(pair) = floor / n_pairs + (1 - floor) * ((1 - mix) * weighted + mix * adaptive)

    so every allowed pair keeps at least ``floor / n_pairs``, and the operator's weights
    keep a share ``(1 - floor) (1 - mix)``. When every model is settled (all needs zero)
    the adaptive part is uniform.

Every draw is returned as a :class:`PairDraw` with the policy and the probability of the
drawn (unordered) pair; the service records both in the battle's ``params``
(:meth:`PairDraw.record`), so an analyst can undo the policy with inverse-probability
weights (:func:`inverse_probability_weights`).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, ndtri

from arena.errors import UserError
from arena.service.errors import NoModelsAvailable

__all__ = [
    "PAIR_SAMPLING_KEY",
    "POLICIES",
    "AdaptiveSettings",
    "Candidate",
    "PairDraw",
    "PairUncertainty",
    "UncertaintyCache",
    "adaptive_scores",
    "allowed_pairs",
    "draw_pair",
    "inverse_probability_weights",
    "pair_probabilities",
    "sample_pair",
]

log = logging.getLogger(__name__)

#: Sampling policies a deployment can choose (``ARENA_SAMPLING``).
POLICIES: tuple[str, ...] = ("weighted", "adaptive")
#: Key of the pair-sampling record in a battle's ``params``.
PAIR_SAMPLING_KEY = "pair_sampling"
#: Variance (natural-log units squared) given to a model the fit has not seen: the
#: engine's weak prior (sd 1000 points on the 400-point, base-10 scale).
UNSEEN_VARIANCE = (1000.0 / (400.0 / math.log(10))) ** 2  # (points / points-per-nat)^2
#: Extra margin, in standard deviations of the rating difference, that the adaptive
#: policy aims for beyond the bare non-overlap of two intervals (so separations last).
MARGIN_SD = 1.0
#: Separations finer than this (rating points) are not chased: the gap two places away
#: is taken to be at least this, so near-equal models (which would need hundreds of
#: thousands of votes to separate) do not swallow the votes. Unseen models, all at the
#: mean, also get finite scores through it.
MIN_GAP_POINTS = 5.0
_POINTS_PER_NAT = 400.0 / math.log(10)

Vector = NDArray[np.float64]


@dataclass(frozen=True)
class Candidate:
    """A model the sampler may draw.

    Attributes
    ----------
    name:
        The model's name in the store.
    weight:
        Relative sampling weight (> 0).
    preview:
        Whether it is an unreleased model shown under a codename.
    """

    name: str
    weight: float
    preview: bool = False


@dataclass(frozen=True)
class AdaptiveSettings:
    """Tuning of the ``adaptive`` policy (module docstring).

    Attributes
    ----------
    mix:
        Share of the adaptive score in the non-floor part, in ``[0, 1]`` (the rest
        follows the configured weights).
    floor:
        Share of the probability spread uniformly over allowed pairs, in ``(0, 1]``;
        every allowed pair keeps at least ``floor / n_pairs``.
    level:
        Confidence level of the intervals the resolution test uses (the leaderboard's).
    """

    mix: float = 0.8
    floor: float = 0.1
    level: float = 0.95

    def __post_init__(self) -> None:
        if not 0 <= self.mix <= 1:
            raise UserError(f"adaptive sampling mix must be in [0, 1], got {self.mix}")
        if not 0 < self.floor <= 1:
            raise UserError(f"adaptive sampling floor must be in (0, 1], got {self.floor}")
        if not 0 < self.level < 1:
            raise UserError(f"adaptive sampling level must be in (0, 1), got {self.level}")


@dataclass(frozen=True)
class PairUncertainty:
    """What the adaptive policy knows of the current fit.

    Attributes
    ----------
    models:
        Model names, indexing ``theta`` and ``covariance``.
    theta:
        Fitted natural-log strengths (any common shift).
    covariance:
        Covariance of ``theta`` (``k x k``); only differences and the centred marginal
        variances are used, so it may be singular along the all-ones direction.
    n_votes:
        Votes the fit was made from (recorded with each draw).
    """

    models: tuple[str, ...]
    theta: Vector
    covariance: NDArray[np.float64]
    n_votes: int = 0

    def __post_init__(self) -> None:
        k = len(self.models)
        if self.theta.shape != (k,) or self.covariance.shape != (k, k):
            raise ValueError(
                f"PairUncertainty: theta {self.theta.shape} and covariance "
                f"{self.covariance.shape} do not match {k} models"
            )

    @classmethod
    def from_counts(
        cls, models: Sequence[str], counts: NDArray[np.float64], n_votes: int | None = None
    ) -> PairUncertainty:
        """Fit Bradley-Terry on ``(k, k, 4)`` outcome counts (row model is side ``lo``).

        ``counts[i, j]`` holds (i wins, j wins, tie, both bad) for ``i < j`` (entries
        below the diagonal are ignored). The fit has the engine's weak prior, so it
        exists for any data (an undefeated or unseen model gets a large, finite
        variance); the covariance is the inverse of the penalised Fisher information
        (the posterior covariance), whose differences are what the policy needs.
        """
        from arena.ratings.bt import fit_bt
        from arena.ratings.pairs import PairStats

        k = len(models)
        lo, hi = np.triu_indices(k, 1)
        totals = np.asarray(counts, dtype=np.float64)[lo, hi]
        keep = totals.sum(axis=1) > 0
        stats = PairStats(lo[keep], hi[keep], totals[keep], totals[keep])
        fit = fit_bt(stats, k, prior=1.0 / UNSEEN_VARIANCE, tol=1e-8)
        cov = np.linalg.inv(fit.information)
        total = round(float(totals.sum())) if n_votes is None else n_votes
        return cls(tuple(models), fit.theta, np.asarray(cov), total)


@dataclass(frozen=True)
class PairDraw:
    """A drawn battle: who is on each side, how and with which probability it was drawn.

    Attributes
    ----------
    side_a, side_b:
        Model names, sides already shuffled.
    policy:
        The policy that drew it (``weighted`` or ``adaptive``).
    probability:
        Probability of drawing this unordered pair at that moment.
    n_pairs:
        Allowed pairs at that moment (``1 / n_pairs`` is the uniform probability).
    fit_votes:
        Votes in the fit the adaptive policy used (None: no fit, or ``weighted``).
    """

    side_a: str
    side_b: str
    policy: str
    probability: float
    n_pairs: int
    fit_votes: int | None = None

    @property
    def names(self) -> tuple[str, str]:
        """``(side_a, side_b)``."""
        return self.side_a, self.side_b

    def record(self) -> dict[str, Any]:
        """The JSON record stored in the battle's ``params`` under :data:`PAIR_SAMPLING_KEY`."""
        return {
            "policy": self.policy,
            "pair_probability": self.probability,
            "n_pairs": self.n_pairs,
            "fit_votes": self.fit_votes,
        }


def allowed_pairs(models: Sequence[Candidate]) -> list[tuple[Candidate, Candidate, float]]:
    """Every unordered pair the sampler may draw, with its weight ``w_i * w_j``."""
    usable = [m for m in models if m.weight > 0]
    pairs = []
    for i, a in enumerate(usable):
        for b in usable[i + 1 :]:
            if a.name == b.name or (a.preview and b.preview):
                continue
            pairs.append((a, b, a.weight * b.weight))
    return pairs


def adaptive_scores(
    pairs: Sequence[tuple[str, str]], uncertainty: PairUncertainty, level: float = 0.95
) -> Vector:
    """Un-normalised adaptive score of each pair: information still missing x per battle.

    See the module docstring. A model absent from ``uncertainty`` is treated as unseen:
    strength at the mean, variance :data:`UNSEEN_VARIANCE`, uncorrelated with the others.
    """
    known = list(uncertainty.models)
    index = {m: i for i, m in enumerate(known)}
    for a, b in pairs:
        for m in (a, b):
            if m not in index:
                index[m] = len(index)
    k, total = len(known), len(index)
    theta = np.zeros(total)
    cov = np.zeros((total, total))
    cov[np.diag_indices(total)] = UNSEEN_VARIANCE
    marginal = np.full(total, UNSEEN_VARIANCE)
    if k:
        theta[:k] = uncertainty.theta - uncertainty.theta.mean()
        cov[:k, :k] = uncertainty.covariance
        centre = np.eye(k) - 1.0 / k
        marginal[:k] = np.diag(centre @ uncertainty.covariance @ centre)
    marginal = np.maximum(marginal, 1e-12)
    # the closest model two or more places away, above or below, in the fitted order
    order = np.argsort(-theta, kind="stable")
    ranked = theta[order]
    gap = np.full(total, np.inf)
    if total > 2:
        two = ranked[:-2] - ranked[2:]
        gap[order[2:]] = np.minimum(gap[order[2:]], two)
        gap[order[:-2]] = np.minimum(gap[order[:-2]], two)
    gap = np.maximum(gap, MIN_GAP_POINTS / _POINTS_PER_NAT)
    z = float(ndtri(0.5 + level / 2))
    target = gap / (2 * z + MARGIN_SD * math.sqrt(2))
    need = np.maximum(1.0 / np.square(target) - 1.0 / marginal, 0.0)
    i = np.array([index[a] for a, _ in pairs], dtype=np.int64)
    j = np.array([index[b] for _, b in pairs], dtype=np.int64)
    p = expit(theta[i] - theta[j])
    w = p * (1 - p)
    v = np.maximum(cov[i, i] + cov[j, j] - 2 * cov[i, j], 1e-12)
    # Sherman-Morrison: one battle of pair q lowers model a's centred variance by
    # w_q (c_a' Sigma d_q)^2 / (1 + w_q v_q); divided by s_a^4, the information it adds
    # c_a = e_a minus the mean of the fitted models (the leaderboard's centring)
    centring = np.eye(total)
    if k:
        centring[:, :k] -= 1.0 / k
    spread = centring @ cov
    moved = spread[:, i] - spread[:, j]  # (models, pairs)
    gain = moved * moved * (w / (1 + w * v))[None, :] / np.square(marginal)[:, None]
    share = gain / np.maximum(gain.sum(axis=1, keepdims=True), 1e-300)
    return np.asarray(need @ share, dtype=np.float64)


#: The last adaptive result (fit, models and settings, probabilities): requests between
#: two refits draw from the same distribution, computed once.
_MEMO: dict[str, tuple[PairUncertainty | None, Any, list[tuple[Candidate, Candidate]], Vector]] = {}
_MEMO_LOCK = threading.Lock()


_CUMULATIVE: dict[int, tuple[Vector, Vector]] = {}


def _cumulative(probs: Vector) -> Vector:
    """Cumulative sums of ``probs`` (memoised for the last array: one per refit)."""
    with _MEMO_LOCK:
        hit = _CUMULATIVE.get(0)
        if hit is not None and hit[0] is probs:
            return hit[1]
    cum = np.cumsum(probs)
    cum /= cum[-1]
    with _MEMO_LOCK:
        _CUMULATIVE[0] = (probs, cum)
    return cum


def _normalised(values: Vector) -> Vector | None:
    total = float(values.sum())
    if not math.isfinite(total) or total <= 0:
        return None
    return values / total


def pair_probabilities(
    models: Sequence[Candidate],
    policy: str = "weighted",
    uncertainty: PairUncertainty | None = None,
    settings: AdaptiveSettings | None = None,
) -> tuple[list[tuple[Candidate, Candidate]], Vector]:
    """Allowed pairs and the probability the policy gives each (summing to 1).

    ``adaptive`` without a fit (``uncertainty`` None: no votes yet, or the first fit
    is still being computed) scores every pair as unseen, i.e. uniformly, so the
    result is the weighted probabilities mixed with the floor.

    Raises
    ------
    NoModelsAvailable
        When no allowed pair exists (fewer than two usable models, or only previews).
    UserError
        Unknown policy.
    """
    if policy not in POLICIES:
        raise UserError(
            f"unknown sampling policy {policy!r}; expected one of {', '.join(POLICIES)}"
        )
    settings = settings or AdaptiveSettings()
    key = (policy, tuple(models), settings if policy == "adaptive" else None)
    fit = uncertainty if policy == "adaptive" else None
    with _MEMO_LOCK:  # requests between two refits reuse one computation
        memo = _MEMO.get("last")
        if memo is not None and memo[0] is fit and memo[1] == key:
            return memo[2], memo[3]
    listed = allowed_pairs(models)
    if not listed:
        raise NoModelsAvailable(
            "no battle can be started right now: fewer than two models are available; "
            "please try again later"
        )
    pairs = [(a, b) for a, b, _ in listed]
    weighted = _normalised(np.array([w for _, _, w in listed], dtype=np.float64))
    assert weighted is not None  # weights are > 0
    if policy == "weighted":
        weighted.setflags(write=False)
        with _MEMO_LOCK:
            _MEMO["last"] = (None, key, pairs, weighted)
        return pairs, weighted
    n = len(pairs)
    adaptive: Vector | None = None
    if uncertainty is not None:
        scores = adaptive_scores([(a.name, b.name) for a, b in pairs], uncertainty, settings.level)
        adaptive = _normalised(scores) if np.all(np.isfinite(scores)) else None
    if adaptive is None:  # no fit yet, every model settled, or a degenerate fit: even
        adaptive = np.full(n, 1.0 / n)
    mixed = (1 - settings.mix) * weighted + settings.mix * adaptive
    probs = settings.floor / n + (1 - settings.floor) * mixed
    probs = probs / probs.sum()
    probs.setflags(write=False)
    with _MEMO_LOCK:  # the next request with the same fit and models reuses it
        _MEMO["last"] = (uncertainty, key, pairs, probs)
    return pairs, probs


def draw_pair(
    models: Sequence[Candidate],
    rng: random.Random,
    policy: str = "weighted",
    uncertainty: PairUncertainty | None = None,
    settings: AdaptiveSettings | None = None,
) -> PairDraw:
    """Draw a pair with :func:`pair_probabilities`, shuffle its sides, say how it was drawn.

    Raises
    ------
    NoModelsAvailable, UserError
        As :func:`pair_probabilities`.
    """
    pairs, probs = pair_probabilities(models, policy, uncertainty, settings)
    k = min(int(np.searchsorted(_cumulative(probs), rng.random(), side="right")), len(pairs) - 1)
    a, b = pairs[k]
    first, second = (a.name, b.name) if rng.random() < 0.5 else (b.name, a.name)
    fit_votes = uncertainty.n_votes if policy == "adaptive" and uncertainty is not None else None
    return PairDraw(first, second, policy, float(probs[k]), len(pairs), fit_votes)


def sample_pair(models: Sequence[Candidate], rng: random.Random) -> tuple[str, str]:
    """Draw ``(side_a, side_b)`` model names with the ``weighted`` policy.

    Raises
    ------
    NoModelsAvailable
        When no allowed pair exists (fewer than two usable models, or only previews).
    """
    return draw_pair(models, rng).names


def inverse_probability_weights(
    probability: NDArray[np.float64], n_pairs: NDArray[np.float64]
) -> Vector:
    """Per-battle weights ``1 / (n_pairs * probability)`` that undo the sampling policy.

    Weighting each battle by the inverse of its pair's selection probability, relative
    to the uniform ``1 / n_pairs``, makes the weighted battles stand for uniform pair
    sampling (Horvitz-Thompson): the Bradley-Terry fit on them estimates the same
    ratings, and statistics averaged over battles (win rates, data shares) are no
    longer tilted towards the pairs the policy favoured. Missing records (NaN) get 1.

    Raises
    ------
    UserError
        A probability outside ``(0, 1]`` or a pair count below 1 (a corrupt record).
    """
    p = np.asarray(probability, dtype=np.float64)
    n = np.asarray(n_pairs, dtype=np.float64)
    known = np.isfinite(p) & np.isfinite(n)
    if np.any(known & ((p <= 0) | (p > 1) | (n < 1))):
        raise UserError(
            "pair-sampling records must have a probability in (0, 1] and at least one pair"
        )
    out = np.ones(len(p))
    out[known] = 1.0 / (n[known] * p[known])
    return out


class UncertaintyCache:
    """The newest :class:`PairUncertainty`, refreshed in the background at a bounded rate.

    :meth:`get` never computes: it returns the cached fit (None until the first one is
    ready) and, when the cache is older than ``refresh_s``, starts one background
    refresh with ``load`` (which reads the store and fits). A failing ``load`` is
    logged and the previous fit kept, so a draw never fails because of it.

    Parameters
    ----------
    load:
        Reads the votes and returns a fit (None: no votes yet).
    refresh_s:
        Least time between two refreshes, in seconds.
    clock:
        Monotonic clock (tests).
    """

    def __init__(
        self,
        load: Callable[[], PairUncertainty | None],
        refresh_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self.refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._value: PairUncertainty | None = None
        self._taken: float | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def get(self) -> PairUncertainty | None:
        """The newest fit (None before the first); starts a refresh when it is stale."""
        with self._lock:
            stale = self._taken is None or self._clock() - self._taken >= self.refresh_s
            running = self._thread is not None and self._thread.is_alive()
            if stale and not running and not self._closed:
                self._taken = self._clock()  # also bounds retries after a failure
                self._thread = threading.Thread(
                    target=self._refresh, name="adaptive-sampling", daemon=True
                )
                self._thread.start()
            return self._value

    def refresh(self) -> PairUncertainty | None:
        """Load a fit now, in the calling thread, and publish it."""
        value = self._load()
        with self._lock:
            self._value = value
            self._taken = self._clock()
        return value

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a running background refresh (tests, shutdown)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def close(self) -> None:
        """Start no more refreshes."""
        with self._lock:
            self._closed = True

    def _refresh(self) -> None:
        try:
            self.refresh()
        except Exception:  # keep the previous fit; retried after refresh_s
            log.exception("refreshing the adaptive sampler's fit failed")
