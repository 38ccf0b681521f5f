"""A model's standing: rating, interval, Rank (UB), ties, rank probabilities, votes needed.

For one model and each category (all battles first), :func:`model_standing` reports

* its rating, interval and Rank (UB), exactly as ``arena leaderboard`` computes them
  (:func:`arena.leaderboard.compute_leaderboard`, Bradley-Terry, sandwich intervals);
* the models it is **statistically tied** with: those whose interval overlaps its own
  (so neither ranks below the other, the Rank (UB) convention);
* the **probability of each rank**: the share of bootstrap refits (battles resampled
  with replacement, as the engine's bootstrap does) in which it has that rank;
* **votes needed** (:func:`battles_to_separate`): for each tied model, how many more
  battles would make the two intervals clear of each other at the chosen level, if
  played against that model directly, and against the single cheapest opponent.

Votes needed, the derivation. Let ``Sigma`` be the sandwich covariance of the centred
strengths (what the intervals use) and read it as the inverse of an effective Fisher
information ``J``. One more battle of the pair ``(a, b)`` has score ``y`` (1, 0, or 1/2
for a tie) with mean ``p`` (the fitted win probability) and variance
``m = p (1 - p) - tau / 4`` (``tau`` the share of ties in these battles, capped so that
the outcome probabilities stay valid); it adds ``w = p (1 - p)`` to the bread and ``m``
to the meat along ``d = e_a - e_b``, i.e. the effective information ``w^2 / m`` (the
one-parameter sandwich's precision per battle). ``n`` such battles give
``J_n = J + n (w^2 / m) d d^T`` and, by Sherman-Morrison,
``Sigma_n = Sigma - c_n (Sigma d)(Sigma d)^T`` with ``c_n = n w_e / (1 + n w_e d^T Sigma d)``,
``w_e = w^2 / m``. The two models' intervals are clear of each other once
``z (s_i(n) + s_j(n)) < |theta_i - theta_j|`` (``s`` from the diagonal of
``Sigma_n``, ``z`` the normal quantile of the level); the smallest such ``n`` is found
by bisection on ``c_n``. Battles of one pair can only shrink the variances to the limit
``c = 1 / (d^T Sigma d)``; when even that does not separate the two, that pairing alone
can never do it (reported as None). The projection assumes the current gap stays what
it is; ``perf/bench_sampling.py`` checks the projected interval widths against
simulated battles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, ndtri
from threadpoolctl import threadpool_limits

from arena.battles.filters import FilterSpec, apply_filters
from arena.battles.table import Battles
from arena.errors import UserError

__all__ = [
    "CategoryStanding",
    "Separation",
    "Standing",
    "battles_to_separate",
    "battles_to_separate_spread",
    "model_standing",
    "standing_markdown",
]

Vector = NDArray[np.float64]
Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class Separation:
    """What it takes to separate the model from one statistically tied neighbour.

    Attributes
    ----------
    opponent:
        The tied model.
    gap:
        The model's rating minus the opponent's, in rating points.
    direct:
        More battles of the model against this opponent that would separate them
        (None: that pairing alone never can, e.g. the gap is too small).
    best_pair:
        The single pairing that separates them with the fewest battles (one of the two
        models against some opponent), None when none can.
    best:
        Battles of ``best_pair`` needed.
    spread:
        Battles that separate them when both play every other model, spread by
        information (:func:`battles_to_separate_spread`); None when none can.
    """

    opponent: str
    gap: float
    direct: int | None
    best_pair: tuple[str, str] | None
    best: int | None
    spread: int | None


@dataclass(frozen=True)
class CategoryStanding:
    """The model's standing among the battles of one category (None: all battles).

    Attributes
    ----------
    category:
        The category, or None for all battles.
    n_battles, n_models:
        Battles and models in the category.
    model_battles:
        The model's own battles there.
    rating, ci_lower, ci_upper:
        Rating and interval, rating points (the leaderboard's).
    rank_ub:
        Rank (UB) among ``n_models``.
    tied:
        Models whose interval overlaps the model's, best rated first.
    rank_probabilities:
        ``{rank: share of bootstrap refits}`` (ranks by rating, 1 = best).
    separations:
        One :class:`Separation` per tied model.
    warnings:
        The leaderboard engine's warnings for this category.
    """

    category: str | None
    n_battles: int
    n_models: int
    model_battles: int
    rating: float
    ci_lower: float
    ci_upper: float
    rank_ub: int
    tied: tuple[str, ...]
    rank_probabilities: dict[int, float]
    separations: tuple[Separation, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Standing:
    """A model's standing overall and per category, with the parameters used."""

    model: str
    categories: tuple[CategoryStanding, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (rank probabilities keyed by rank as text)."""
        out = asdict(self)
        for cat in out["categories"]:
            cat["rank_probabilities"] = {str(k): v for k, v in cat["rank_probabilities"].items()}
            for sep in cat["separations"]:
                if sep["best_pair"] is not None:
                    sep["best_pair"] = list(sep["best_pair"])
        return out


def _centred_variances(cov: Matrix, u: Vector, c: float, i: int, j: int) -> tuple[float, float]:
    return max(cov[i, i] - c * u[i] ** 2, 0.0), max(cov[j, j] - c * u[j] ** 2, 0.0)


def battles_to_separate(
    cov: Matrix,
    theta: Vector,
    pair_of_interest: tuple[int, int],
    played: tuple[int, int],
    *,
    level: float = 0.95,
    tie_share: float = 0.0,
) -> float:
    """More battles of ``played`` that make the intervals of ``pair_of_interest`` clear.

    See the module docstring. ``cov`` is the covariance of the centred strengths
    (natural-log units), ``theta`` the strengths. Returns 0 when they are already clear
    of each other, ``inf`` when battles of ``played`` alone can never separate them.
    """
    i, j = pair_of_interest
    a, b = played
    if a == b:
        raise ValueError("a battle needs two different models")
    gap = abs(float(theta[i] - theta[j]))
    z = float(ndtri(0.5 + level / 2))

    def width(c: float, u: Vector) -> float:
        vi, vj = _centred_variances(cov, u, c, i, j)
        return z * (math.sqrt(vi) + math.sqrt(vj))

    u = cov[:, a] - cov[:, b]
    v = float(u[a] - u[b])
    if width(0.0, u) < gap:
        return 0.0
    if v <= 1e-15:
        return math.inf
    c_max = 1.0 / v
    if width(c_max * (1 - 1e-12), u) >= gap:
        return math.inf
    lo, hi = 0.0, c_max
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if width(mid, u) < gap:
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-12 * c_max:
            break
    c = hi
    p = float(expit(theta[a] - theta[b]))
    w = p * (1 - p)
    tau = min(max(tie_share, 0.0), 2 * min(p, 1 - p))
    var = max(w - tau / 4, 1e-12)
    w_eff = w * w / var
    return c / (w_eff * (1 - c * v))


def _effective_information(
    theta: Vector, a: NDArray[np.int64], b: NDArray[np.int64], tau: float
) -> Vector:
    p = expit(theta[a] - theta[b])
    w = p * (1 - p)
    ties = np.minimum(max(tau, 0.0), 2 * np.minimum(p, 1 - p))
    return np.asarray(w * w / np.maximum(w - ties / 4, 1e-12))


def battles_to_separate_spread(
    cov: Matrix,
    theta: Vector,
    pair_of_interest: tuple[int, int],
    *,
    level: float = 0.95,
    tie_share: float = 0.0,
) -> float:
    """Battles that separate the pair when both play every other model (and each other).

    The plan: half of the battles for each of the two models, each half spread over its
    opponents in proportion to the information a battle brings (``w^2 / m``, see the
    module docstring), the way the adaptive sampler would. ``Sigma_n`` is the
    pseudo-inverse of ``pinv(Sigma) + sum_q n_q w_q d_q d_q^T`` (the update of many
    pairs at once); the total is found by bisection. ``inf`` when no total up to 10^9
    battles separates them (the gap is then too small to matter).
    """
    i, j = pair_of_interest
    k = len(theta)
    gap = abs(float(theta[i] - theta[j]))
    z = float(ndtri(0.5 + level / 2))
    info = np.linalg.pinv(cov, hermitian=True)
    rows: list[tuple[int, int]] = [(i, x) for x in range(k) if x != i]
    rows += [(j, x) for x in range(k) if x not in (i, j)]
    a = np.array([r[0] for r in rows], dtype=np.int64)
    b = np.array([r[1] for r in rows], dtype=np.int64)
    w = _effective_information(theta, a, b, tie_share)
    share = np.where(a == i, 0.5 * w / w[a == i].sum(), 0.5 * w / w[a == j].sum())
    if np.any(a == j):
        share = share / share.sum()

    def width(total: float) -> float:
        add = np.zeros((k, k))
        n = total * share * w
        np.add.at(add, (a, a), n)
        np.add.at(add, (b, b), n)
        np.add.at(add, (a, b), -n)
        np.add.at(add, (b, a), -n)
        new = np.linalg.pinv(info + add, hermitian=True)
        return z * (math.sqrt(max(new[i, i], 0.0)) + math.sqrt(max(new[j, j], 0.0)))

    if width(0.0) < gap:
        return 0.0
    top = 1e9
    if width(top) >= gap:
        return math.inf
    lo, hi = 0.0, top
    while hi - lo > max(1.0, 1e-4 * hi):
        mid = math.sqrt(lo * hi) if lo > 0 else hi / 1e6
        if width(mid) < gap:
            hi = mid
        else:
            lo = mid
    return hi


def _fit_covariance(battles: Battles) -> tuple[Vector, Matrix, Any]:
    """Strengths and sandwich covariance as the leaderboard fits them (weak prior if needed)."""
    from arena.leaderboard import PRIOR_SD_POINTS
    from arena.ratings.bt import fit_bt, sandwich_bt
    from arena.ratings.graph import diagnose
    from arena.ratings.pairs import cells_from_arrays
    from arena.ratings.scale import RatingScale

    cells = cells_from_arrays(
        battles.n_models,
        battles.model_a,
        battles.model_b,
        battles.outcome,
        battles.count,
        battles.weight,
    )
    stats = cells.stats()
    k = battles.n_models
    prior = 0.0
    if not diagnose(stats, k).exists:
        prior = float((RatingScale().points_per_nat / PRIOR_SD_POINTS) ** 2)
    fit = fit_bt(stats, k, prior=prior, tol=1e-10)
    cov = sandwich_bt(stats, fit, k)[:k, :k]
    return fit.theta, cov, (cells, prior)


def _rank_probabilities(
    battles: Battles, index: int, rounds: int, seed: int, start: Vector, cells_prior: Any
) -> dict[int, float]:
    from arena.leaderboard import PRIOR_SD_POINTS
    from arena.ratings.bt import fit_bt
    from arena.ratings.graph import diagnose
    from arena.ratings.intervals import multinomial_resamples
    from arena.ratings.scale import RatingScale

    cells, prior = cells_prior
    k = battles.n_models
    fallback = float((RatingScale().points_per_nat / PRIOR_SD_POINTS) ** 2)

    def refit(counts: Vector) -> Vector:
        stats = cells.with_counts(counts).stats()
        round_prior = prior or (0.0 if diagnose(stats, k).exists else fallback)
        return fit_bt(stats, k, prior=round_prior, tol=1e-8, start=start).theta

    draws = multinomial_resamples(cells.cell_count, rounds, np.random.default_rng(seed), refit)
    ranks = 1 + (draws > draws[:, [index]]).sum(axis=1)
    values, counts = np.unique(ranks, return_counts=True)
    return {int(r): float(c) / rounds for r, c in zip(values, counts, strict=True)}


def _tie_share(battles: Battles) -> float:
    count = battles.count.astype(np.float64)
    return float(count[battles.outcome >= 2].sum() / max(count.sum(), 1.0))


def _one_category(
    battles: Battles,
    model: str,
    category: str | None,
    *,
    level: float,
    rounds: int,
    seed: int,
    anchor: tuple[str, float] | None,
) -> CategoryStanding:
    import warnings

    from arena.leaderboard import ArenaWarning, compute_leaderboard
    from arena.ratings.scale import RatingScale

    messages: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArenaWarning)
        lb = compute_leaderboard(
            battles,
            method="bt",
            ci="sandwich",
            level=level,
            anchor=anchor if anchor is not None and anchor[0] in battles.models else None,
            on_warning=messages.append,
        )
    table = lb.table.set_index("model")
    position = list(lb.table["model"]).index(model)
    row: dict[str, Any] = lb.table.iloc[position].to_dict()  # type: ignore[assignment]
    lower, upper = float(row["ci_lower"]), float(row["ci_upper"])
    overlap = (table["ci_upper"] >= lower) & (table["ci_lower"] <= upper)
    tied = tuple(m for m in lb.table["model"] if m != model and bool(overlap[m]))
    index = battles.models.index(model)
    with threadpool_limits(limits=1):
        theta, cov, cells_prior = _fit_covariance(battles)
        probs = _rank_probabilities(battles, index, rounds, seed, theta, cells_prior)
    ppn = RatingScale().points_per_nat
    tau = _tie_share(battles)
    separations = []
    k = battles.n_models
    for other in tied:
        j = battles.models.index(other)
        direct = battles_to_separate(
            cov, theta, (index, j), (index, j), level=level, tie_share=tau
        )
        best, best_pair = direct, (index, j)
        for x in range(k):
            for one in (index, j):
                if x == one:
                    continue
                n = battles_to_separate(
                    cov, theta, (index, j), (one, x), level=level, tie_share=tau
                )
                if n < best:
                    best, best_pair = n, (one, x)
        spread = battles_to_separate_spread(
            cov, theta, (index, j), level=level, tie_share=tau
        )
        separations.append(
            Separation(
                opponent=other,
                gap=float((theta[index] - theta[j]) * ppn),
                direct=None if math.isinf(direct) else math.ceil(direct),
                best_pair=None
                if math.isinf(best)
                else (battles.models[best_pair[0]], battles.models[best_pair[1]]),
                best=None if math.isinf(best) else math.ceil(best),
                spread=None if math.isinf(spread) else math.ceil(spread),
            )
        )
    played = battles.battles_per_model()[index]
    return CategoryStanding(
        category=category,
        n_battles=int(lb.n_battles),
        n_models=int(lb.n_models),
        model_battles=int(played),
        rating=float(row["rating"]),
        ci_lower=lower,
        ci_upper=upper,
        rank_ub=int(row["rank_ub"]),
        tied=tied,
        rank_probabilities=probs,
        separations=tuple(separations),
        warnings=tuple(messages),
    )


def _categories_of(battles: Battles) -> list[str]:
    if "category" not in battles.meta.columns:
        return []
    found: set[str] = set()
    for tags in battles.meta["category"].drop_duplicates():
        if isinstance(tags, str):
            tags = tags.split(";")
        if isinstance(tags, tuple | list | np.ndarray):
            found.update(t for t in tags if isinstance(t, str) and t)
    return sorted(found)


def model_standing(
    battles: Battles,
    model: str,
    *,
    categories: Sequence[str] | None = None,
    level: float = 0.95,
    rounds: int = 200,
    seed: int = 0,
    anchor: tuple[str, float] | None = None,
) -> Standing:
    """The standing of ``model`` overall and in each category (module docstring).

    Parameters
    ----------
    battles:
        The battles (already filtered as the caller wants, e.g. anonymous only).
    model:
        A model of ``battles``.
    categories:
        Categories to report besides all battles (None: every category of the battles
        in which the model has played).
    level:
        Confidence level of the intervals and of the separations.
    rounds, seed:
        Bootstrap refits for the rank probabilities, and their seed.
    anchor:
        ``(model, rating)`` fixing the scale, as ``arena leaderboard --anchor``.

    Raises
    ------
    UserError
        Unknown model, bad level or rounds, an empty category.
    """
    if model not in battles.models:
        raise UserError(f"no model {model!r} among the rated models")
    if not 0 < level < 1:
        raise UserError(f"confidence level must be between 0 and 1, got {level}")
    if rounds < 2:
        raise UserError(f"--rounds must be at least 2, got {rounds}")
    wanted = _categories_of(battles) if categories is None else list(categories)
    parts = [
        _one_category(
            battles, model, None, level=level, rounds=rounds, seed=seed, anchor=anchor
        )
    ]
    for name in wanted:
        try:
            sub = apply_filters(battles, FilterSpec(category=name), source="the battles")
        except UserError:
            if categories is None:
                continue
            raise
        if model not in sub.models or sub.n_models < 2:
            if categories is not None:
                raise UserError(f"{model!r} has no battles in the category {name!r}")
            continue
        parts.append(
            _one_category(sub, model, name, level=level, rounds=rounds, seed=seed, anchor=anchor)
        )
    params = {
        "method": "bt",
        "ci": "sandwich",
        "level": level,
        "rounds": rounds,
        "seed": seed,
        "anchor": None if anchor is None else {"model": anchor[0], "rating": anchor[1]},
        "data_sha256": battles.sha256(style=False),
    }
    return Standing(model, tuple(parts), params)


def _fmt_battles(n: int | None) -> str:
    return "never" if n is None else f"{n:,}"


def standing_markdown(standing: Standing, *, source: str = "") -> str:
    """The standing as Markdown (what ``arena standing`` prints)."""
    level = standing.params.get("level", 0.95)
    out = [f"# Standing of {standing.model}", ""]
    if source:
        digest = str(standing.params.get("data_sha256", ""))[:16]
        out += [f"Battles: {source}; data SHA-256 {digest}.", ""]
    for cat in standing.categories:
        title = "all battles" if cat.category is None else f"category {cat.category}"
        out += [
            f"## {title}",
            "",
            f"- Rating **{cat.rating:.1f}**, {100 * level:g} % CI {cat.ci_lower:.1f} to "
            f"{cat.ci_upper:.1f}; Rank (UB) **{cat.rank_ub}** of {cat.n_models} "
            f"({cat.model_battles:,} of its battles among {cat.n_battles:,}).",
            "- Statistically tied with: " + (", ".join(cat.tied) if cat.tied else "none"),
            "- Rank probabilities ({} bootstrap refits): ".format(standing.params.get("rounds"))
            + ", ".join(
                f"{r}: {100 * p:.0f} %" for r, p in sorted(cat.rank_probabilities.items())
            ),
        ]
        for text in cat.warnings:
            out.append(f"- Warning: {text}")
        if cat.separations:
            out += [
                "",
                f"Votes needed to separate it from each tied model at {100 * level:g} %:",
                "",
                "| tied model | gap (points) | battles against it | cheapest single pairing "
                "| its battles | battles spread over all opponents |",
                "|---|---:|---:|---|---:|---:|",
            ]
            for sep in cat.separations:
                pair = " vs ".join(sep.best_pair) if sep.best_pair else "none"
                out.append(
                    f"| {sep.opponent} | {sep.gap:+.1f} | {_fmt_battles(sep.direct)} | "
                    f"{pair} | {_fmt_battles(sep.best)} | {_fmt_battles(sep.spread)} |"
                )
        out.append("")
    return "\n".join(out)
