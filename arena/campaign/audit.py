"""Integrity audit: the sampling practices known to distort arena rankings.

After Singh et al. (2025), "The Leaderboard Illusion": who got how much data, who could
test many private variants and publish the best, what dropping deprecated models does
to the ranks, and how many prompts repeat. :func:`audit` computes every part from a
:class:`~arena.campaign.data.CampaignData`; :func:`audit_markdown` and
:meth:`Audit.to_dict` render it; :func:`audit_plots` draws the PNG figures.

Methods, stated:

* **Data share**: a battle counts once for each of its two models; a model's share is
  its battles over twice the total (shares sum to 1), an organization's the sum over
  its models. Distinct prompts: distinct first user messages (exact text). The
  sampling-rate disparity is the ratio between the largest and the smallest
  per-model share of the organizations (battles per model of an organization, over
  the mean per model); 1 means every organization's models were sampled equally.
* **Best-of-N selection**: models are grouped by organization and family (the models
  file's ``family``; organization alone when no family is given); a group of N >= 2
  variants is a best-of-N choice. The reported (best) variant's rating is biased
  upwards by the selection (the winner's curse). The expected bias is estimated by
  simulation from the fitted covariance (parametric bootstrap, :func:`selection_bias`):
  the group's strengths are first shrunk towards their mean by how much of their
  spread the noise explains (empirical Bayes), then estimates are drawn as
  ``theta* ~ N(shrunk, Sigma_group)`` (``Sigma`` the sandwich covariance of the fit),
  the best of each draw is picked, and the bias is how far its drawn rating lies above
  its strength, on average; the selection-corrected rating of the best variant is its
  rating minus that bias. For N equally strong variants whose ratings have standard
  error ``s`` the bias is ``s E[max of N standard normals]`` (1.54 s for N = 10), which
  the simulation reproduces; for clearly different variants it vanishes.
* **Deprecation**: the leaderboard of the remaining (active) models fitted with and
  without the battles that involve deprecated or inactive ones: each remaining model's
  rank (by rating) in both, the largest rank change, and whether the comparison graph
  of the remaining battles stays connected (a disconnected graph makes ratings of
  different components incomparable).
* **Prompt duplication**: the share of battles whose prompt appeared in an earlier
  battle, exactly and after normalising (case, surrounding and repeated whitespace,
  punctuation), and the leaderboard with only the first battle of each normalised
  prompt, with the rank changes it brings.
"""

from __future__ import annotations

import math
import re
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from arena.battles.table import Battles
from arena.campaign.data import CampaignData
from arena.errors import UserError

__all__ = [
    "Audit",
    "DataShare",
    "Deprecation",
    "Duplication",
    "SelectionGroup",
    "audit",
    "audit_markdown",
    "audit_plots",
    "normalise_prompt",
    "selection_bias",
]

UNKNOWN_ORGANIZATION = "(unknown)"


@dataclass(frozen=True)
class DataShare:
    """Battles and prompts per organization and per model.

    ``organizations`` columns: ``organization, models, battles, share, share_per_model,
    prompts, prompt_share``; ``models``: ``model, organization, battles, share, prompts,
    active``. ``disparity`` is the largest over the smallest ``share_per_model``
    (organizations with at least one battle).
    """

    organizations: pd.DataFrame
    models: pd.DataFrame
    disparity: float
    total_battles: int
    total_prompts: int | None


@dataclass(frozen=True)
class SelectionGroup:
    """One organization's family of variants and the bias of reporting its best.

    Attributes
    ----------
    organization, family:
        The group (``family`` "" when the organization's models carry none).
    variants:
        ``(model, rating, ci_lower, ci_upper, active)`` per variant, best first.
    best:
        The best rated variant.
    best_rating:
        Its rating, points.
    expected_bias:
        Expected upward bias of the best-of-N rating, points (simulation).
    corrected_rating:
        ``best_rating - expected_bias``.
    kept_is_best:
        Among the variants still active, whether the best is one of them (None when
        every variant is active or none is).
    """

    organization: str
    family: str
    variants: tuple[tuple[str, float, float, float, bool], ...]
    best: str
    best_rating: float
    expected_bias: float
    corrected_rating: float
    kept_is_best: bool | None


@dataclass(frozen=True)
class Deprecation:
    """Ranks of the remaining models with and without the deprecated models' battles."""

    deprecated: tuple[str, ...]
    dropped_battles: int
    ranks: pd.DataFrame  # model, rank_all, rank_without, change, rating_all, rating_without
    max_change: int
    connected_before: bool
    connected_after: bool
    components_after: int


@dataclass(frozen=True)
class Duplication:
    """Repeated prompts and the ratings with duplicates removed."""

    battles_with_prompts: int
    exact_share: float
    normalised_share: float
    kept_battles: int
    ranks: pd.DataFrame  # model, rank_all, rank_dedup, change, rating_all, rating_dedup
    max_change: int


@dataclass(frozen=True)
class Audit:
    """Every part of the audit (None where the data cannot tell), and its parameters."""

    source: str
    n_battles: int
    n_models: int
    data_share: DataShare
    selection: tuple[SelectionGroup, ...]
    deprecation: Deprecation | None
    duplication: Duplication | None
    notes: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (tables as lists of records)."""

        def table(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: _plain(v) for k, v in row.items()} for row in _records(frame)]

        share = self.data_share
        out: dict[str, Any] = {
            "source": self.source,
            "n_battles": self.n_battles,
            "n_models": self.n_models,
            "params": self.params,
            "notes": list(self.notes),
            "data_share": {
                "organizations": table(share.organizations),
                "models": table(share.models),
                "disparity": _plain(share.disparity),
                "total_battles": share.total_battles,
                "total_prompts": share.total_prompts,
            },
            "selection": [
                {**asdict(g), "variants": [list(v) for v in g.variants]} for g in self.selection
            ],
            "deprecation": None,
            "duplication": None,
        }
        if self.deprecation is not None:
            d = self.deprecation
            out["deprecation"] = {
                **{k: v for k, v in asdict(d).items() if k != "ranks"},
                "deprecated": list(d.deprecated),
                "ranks": table(d.ranks),
            }
        if self.duplication is not None:
            u = self.duplication
            out["duplication"] = {
                **{k: v for k, v in asdict(u).items() if k != "ranks"},
                "ranks": table(u.ranks),
            }
        result: dict[str, Any] = _plain(out)
        return result


def _plain(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, non-finite numbers as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- data share ----------------------------------------------------------------------------


def _prompts(battles: Battles) -> pd.Series | None:
    if "prompt" not in battles.meta.columns:
        return None
    prompts = battles.meta["prompt"]
    if not prompts.map(lambda p: isinstance(p, str) and bool(p.strip())).any():
        return None
    return prompts


def data_share(data: CampaignData) -> DataShare:
    """Battles and distinct prompts per model and organization (module docstring)."""
    battles = data.battles
    k = battles.n_models
    count = battles.count.astype(np.float64)
    per_model = np.zeros(k)
    np.add.at(per_model, battles.model_a, count)
    np.add.at(per_model, battles.model_b, count)
    total = float(count.sum())
    prompts = _prompts(battles)
    distinct = np.zeros(k, dtype=np.int64)
    total_prompts: int | None = None
    org_prompts: dict[str, int] = {}
    orgs = [data.of(m).organization or UNKNOWN_ORGANIZATION for m in battles.models]
    if prompts is not None:
        text = prompts.to_numpy(dtype=object)
        valid = np.array([isinstance(p, str) and bool(p.strip()) for p in text])
        total_prompts = len({p for p, ok in zip(text, valid, strict=True) if ok})
        seen: dict[int, set[str]] = {i: set() for i in range(k)}
        by_org: dict[str, set[str]] = {}
        for a, b, p, ok in zip(battles.model_a, battles.model_b, text, valid, strict=True):
            if ok:
                seen[int(a)].add(p)
                seen[int(b)].add(p)
                by_org.setdefault(orgs[int(a)], set()).add(p)
                by_org.setdefault(orgs[int(b)], set()).add(p)
        distinct = np.array([len(seen[i]) for i in range(k)], dtype=np.int64)
        org_prompts = {o: len(v) for o, v in by_org.items()}
    models = pd.DataFrame(
        {
            "model": list(battles.models),
            "organization": orgs,
            "battles": np.rint(per_model).astype(np.int64),
            "share": per_model / (2 * total),
            "prompts": distinct if prompts is not None else np.full(k, -1),
            "active": [data.of(m).active for m in battles.models],
        }
    ).sort_values(["share", "model"], ascending=[False, True], ignore_index=True)
    grouped = models.groupby("organization", sort=False)
    organizations = pd.DataFrame(
        {
            "organization": list(grouped.groups),
            "models": grouped.size().to_numpy(),
            "battles": grouped["battles"].sum().to_numpy(),
            "share": grouped["share"].sum().to_numpy(),
        }
    )
    organizations["share_per_model"] = organizations["share"] / organizations["models"]
    organizations["prompts"] = [org_prompts.get(o, -1) for o in organizations["organization"]]
    organizations["prompt_share"] = [
        (org_prompts.get(o, 0) / total_prompts) if total_prompts else math.nan
        for o in organizations["organization"]
    ]
    organizations = organizations.sort_values(
        ["share", "organization"], ascending=[False, True], ignore_index=True
    )
    rates = organizations["share_per_model"].to_numpy(np.float64)
    rates = rates[rates > 0]
    disparity = float(rates.max() / rates.min()) if len(rates) else math.nan
    return DataShare(organizations, models, disparity, round(total), total_prompts)


# -- best-of-N -----------------------------------------------------------------------------


def selection_bias(
    theta: NDArray[np.float64],
    cov: NDArray[np.float64],
    *,
    draws: int = 4000,
    rng: np.random.Generator | None = None,
) -> tuple[int, float]:
    """The best variant and the expected upward bias of its estimate (natural-log units).

    Parametric bootstrap from empirical-Bayes strengths (module docstring): the spread of
    the estimates beyond their noise, ``tau^2 = max(0, sample variance - noise)`` with
    ``noise = (tr Sigma - 1' Sigma 1 / N) / (N - 1)``, gives the shrunken strengths
    ``t = mean + tau^2 / (tau^2 + noise) (theta - mean)``; draws ``theta* ~ N(t, Sigma)``
    pick their best, and the bias is the average of ``theta*_best - t_best``. Centring
    at ``theta`` itself would understate the bias when the variants are alike (the
    noise in ``theta`` already looks like real differences); with ``tau = 0`` (equal
    variants) this is the bias of the maximum of N equal estimates.
    """
    rng = rng or np.random.default_rng(0)
    n = len(theta)
    if n < 2:
        return int(np.argmax(theta)) if n else 0, 0.0
    sym = 0.5 * (cov + cov.T)
    mean = float(theta.mean())
    noise = max(float((np.trace(sym) - sym.sum() / n) / (n - 1)), 0.0)
    spread = float(np.var(theta, ddof=1))
    tau2 = max(spread - noise, 0.0)
    shrink = tau2 / (tau2 + noise) if tau2 + noise > 0 else 1.0
    centre = mean + shrink * (theta - mean)
    values, vectors = np.linalg.eigh(sym)
    root = vectors * np.sqrt(np.clip(values, 0, None))
    sample = centre[None, :] + rng.standard_normal((draws, n)) @ root.T
    picked = np.argmax(sample, axis=1)
    bias = float(np.mean(sample[np.arange(draws), picked] - centre[picked]))
    return int(np.argmax(theta)), bias


def _fit(battles: Battles) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    from arena.campaign.standing import _fit_covariance

    theta, cov, _ = _fit_covariance(battles)
    return theta, cov


def _leaderboard(battles: Battles) -> pd.DataFrame:
    from arena.leaderboard import ArenaWarning, compute_leaderboard

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArenaWarning)
        return compute_leaderboard(battles, method="bt", ci="sandwich").table


def selection_groups(
    data: CampaignData, *, draws: int = 4000, seed: int = 0
) -> tuple[SelectionGroup, ...]:
    """Best-of-N groups with their expected selection bias (module docstring)."""
    from arena.ratings.scale import RatingScale

    battles = data.battles
    groups: dict[tuple[str, str], list[int]] = {}
    for i, m in enumerate(battles.models):
        info = data.of(m)
        if not info.organization or (info.preview and info.organization == "Preview"):
            continue  # unknown maker, or a hidden preview: nothing to group
        groups.setdefault((info.organization, info.family), []).append(i)
    groups = {key: idx for key, idx in groups.items() if len(idx) >= 2}
    if not groups:
        return ()
    board = _leaderboard(battles)
    rated = {
        str(m): (float(r), float(lo), float(hi))
        for m, r, lo, hi in zip(
            board["model"], board["rating"], board["ci_lower"], board["ci_upper"], strict=True
        )
    }
    theta, cov = _fit(battles)
    ppn = RatingScale().points_per_nat
    rng = np.random.default_rng(seed)
    out = []
    for (org, family), idx in sorted(groups.items()):
        sub = np.array(idx)
        best_local, bias = selection_bias(
            theta[sub], cov[np.ix_(sub, sub)], draws=draws, rng=rng
        )
        best = battles.models[int(sub[best_local])]
        names = [battles.models[i] for i in idx]
        variants = sorted(
            (
                (n, *rated[n], data.of(n).active)
                for n in names
            ),
            key=lambda v: -v[1],
        )
        active = [v for v in variants if v[4]]
        kept = None if len(active) in (0, len(variants)) else variants[0][4]
        rating = rated[best][0]
        out.append(
            SelectionGroup(
                organization=org,
                family=family,
                variants=tuple(variants),
                best=best,
                best_rating=rating,
                expected_bias=bias * ppn,
                corrected_rating=rating - bias * ppn,
                kept_is_best=kept,
            )
        )
    return tuple(out)


# -- deprecation ---------------------------------------------------------------------------


def _ranks(table: pd.DataFrame) -> pd.Series:
    ordered = table.sort_values(["rating", "model"], ascending=[False, True])
    return pd.Series(np.arange(1, len(ordered) + 1), index=ordered["model"].to_numpy())


def _components(battles: Battles) -> int:
    import scipy.sparse
    import scipy.sparse.csgraph

    k = battles.n_models
    graph = scipy.sparse.coo_matrix(
        (np.ones(len(battles)), (battles.model_a, battles.model_b)), shape=(k, k)
    )
    n, _ = scipy.sparse.csgraph.connected_components(graph, directed=False)
    return int(n)


def _compare(
    before: pd.DataFrame, after: pd.DataFrame, label: str
) -> tuple[pd.DataFrame, int]:
    keep = [m for m in before["model"] if m in set(after["model"])]
    rb, ra = _ranks(before[before["model"].isin(keep)]), _ranks(after)
    rating_b = before.set_index("model")["rating"]
    rating_a = after.set_index("model")["rating"]
    frame = pd.DataFrame(
        {
            "model": keep,
            "rank_all": [int(rb[m]) for m in keep],
            f"rank_{label}": [int(ra[m]) for m in keep],
            "rating_all": [float(rating_b[m]) for m in keep],
            f"rating_{label}": [float(rating_a[m]) for m in keep],
        }
    )
    frame["change"] = frame["rank_all"] - frame[f"rank_{label}"]
    frame = frame.sort_values("rank_all", ignore_index=True)
    return frame, int(frame["change"].abs().max()) if len(frame) else 0


def deprecation(data: CampaignData, deprecated: Sequence[str]) -> Deprecation | None:
    """Ranks of the remaining models without the deprecated models' battles (docstring)."""
    battles = data.battles
    gone = [m for m in deprecated if m in battles.models]
    if not gone:
        return None
    codes = np.array([battles.models.index(m) for m in gone])
    touches = np.isin(battles.model_a, codes) | np.isin(battles.model_b, codes)
    remaining = battles.take(~touches)
    if remaining.n_models < 2 or remaining.n_battles == 0:
        raise UserError(
            "dropping the deprecated models' battles leaves fewer than two models to rate"
        )
    before = _leaderboard(battles)
    before = before[~before["model"].isin(gone)]
    after = _leaderboard(remaining)
    ranks, change = _compare(before, after, "without")
    components = _components(remaining)
    return Deprecation(
        deprecated=tuple(gone),
        dropped_battles=int(battles.count[touches].sum()),
        ranks=ranks,
        max_change=change,
        connected_before=_components(battles) == 1,
        connected_after=components == 1,
        components_after=components,
    )


# -- prompt duplication ----------------------------------------------------------------------

_SPACE = re.compile(r"\s+")


def normalise_prompt(text: str) -> str:
    """The prompt as the duplicate check compares it.

    NFKC-normalised, case-folded, punctuation and symbols removed, whitespace collapsed.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(
        " " if unicodedata.category(c)[0] in "PSZ" or c.isspace() else c for c in text
    )
    return _SPACE.sub(" ", kept).strip()


def duplication(data: CampaignData) -> Duplication | None:
    """Repeated prompts, and ratings keeping the first battle of each (docstring)."""
    battles = data.battles
    prompts = _prompts(battles)
    if prompts is None:
        return None
    text = prompts.to_numpy(dtype=object)
    valid = np.array([isinstance(p, str) and bool(p.strip()) for p in text])
    count = battles.count.astype(np.float64)
    exact = pd.Series([p if ok else None for p, ok in zip(text, valid, strict=True)])
    normal = pd.Series(
        [normalise_prompt(p) if ok else None for p, ok in zip(text, valid, strict=True)]
    )
    repeat_exact = exact.duplicated().to_numpy() & valid
    repeat_normal = normal.duplicated().to_numpy() & valid
    with_prompts = float(count[valid].sum())
    # a row of count c with a prompt repeats c - 1 times within itself
    self_repeats = float((count[valid] - 1).sum())
    exact_share = (float(count[repeat_exact].sum()) + self_repeats) / with_prompts
    normal_share = (float(count[repeat_normal].sum()) + self_repeats) / with_prompts
    first = valid & ~repeat_normal
    keep = first | ~valid
    deduped = battles.take(keep)
    if (deduped.count[first[keep]] > 1).any():
        deduped = type(deduped).from_codes(
            deduped.models,
            deduped.model_a,
            deduped.model_b,
            deduped.outcome,
            count=np.where(first[keep], 1, deduped.count),
            weight=deduped.weight,
            meta=deduped.meta,
        ).compact()
    before = _leaderboard(battles)
    after = _leaderboard(deduped)
    ranks, change = _compare(before, after, "dedup")
    return Duplication(
        battles_with_prompts=round(with_prompts),
        exact_share=exact_share,
        normalised_share=normal_share,
        kept_battles=int(deduped.n_battles),
        ranks=ranks,
        max_change=change,
    )


# -- the whole audit -----------------------------------------------------------------------


def audit(
    data: CampaignData,
    *,
    deprecated: Sequence[str] | None = None,
    draws: int = 4000,
    seed: int = 0,
) -> Audit:
    """Audit ``data`` (module docstring).

    Parameters
    ----------
    data:
        The battles and what is known of their models.
    deprecated:
        Models to treat as deprecated; None: the models marked inactive in ``data``.
    draws, seed:
        Simulation draws and seed of the best-of-N bias.
    """
    battles = data.battles
    if battles.n_battles == 0 or battles.n_models < 2:
        raise UserError(f"{data.source}: at least two models with battles are needed to audit")
    if draws < 100:
        raise UserError(f"--draws must be at least 100, got {draws}")
    notes: list[str] = []
    if deprecated is None:
        deprecated = [m for m in battles.models if not data.of(m).active]
    unknown = [m for m in deprecated if m not in battles.models]
    if unknown:
        raise UserError(f"deprecated model(s) not among the rated models: {', '.join(unknown)}")
    share = data_share(data)
    if not any(data.of(m).organization for m in battles.models):
        notes.append(
            "no organizations are known (give --models FILE with organization and family "
            "keys): data share is per model only and there are no best-of-N groups"
        )
    groups = selection_groups(data, draws=draws, seed=seed)
    dep = deprecation(data, deprecated)
    if dep is None:
        notes.append("no deprecated or inactive models: the deprecation check has nothing to drop")
    dup = duplication(data)
    if dup is None:
        notes.append("the battles carry no prompts: the duplicate-prompt check cannot run")
    return Audit(
        source=data.source,
        n_battles=int(battles.n_battles),
        n_models=int(battles.n_models),
        data_share=share,
        selection=groups,
        deprecation=dep,
        duplication=dup,
        notes=tuple(notes),
        params={
            "method": "bt",
            "ci": "sandwich",
            "selection_draws": draws,
            "seed": seed,
            "data_sha256": battles.sha256(style=False),
        },
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict(orient="records")]


def _pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:.1f} %"


def audit_markdown(result: Audit, *, top: int = 25) -> str:
    """The audit as Markdown (what ``arena audit`` prints)."""
    share = result.data_share
    out = [
        "# Integrity audit",
        "",
        f"{result.source}: {result.n_battles:,} battles, {result.n_models} models; data "
        f"SHA-256 {str(result.params.get('data_sha256', ''))[:16]}. Methods: "
        "arena/campaign/audit.py (after Singh et al. 2025, \"The Leaderboard Illusion\").",
        "",
    ]
    out += [f"- Note: {n}" for n in result.notes]
    out += [
        "",
        "## Data share",
        "",
        f"Sampling-rate disparity (largest / smallest battles per model of an "
        f"organization): **{share.disparity:.2f}x**.",
        "",
        "| organization | models | battles | share | share per model | prompts seen |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in _records(share.organizations.head(top)):
        seen = f"{row['prompts']:,} ({_pct(row['prompt_share'])})"
        prompts = "n/a" if row["prompts"] < 0 else seen
        out.append(
            f"| {row['organization']} | {row['models']} | {row['battles']:,} | "
            f"{_pct(row['share'])} | {_pct(row['share_per_model'])} | {prompts} |"
        )
    out += [
        "",
        "| model | organization | battles | share | prompts seen |",
        "|---|---|---:|---:|---:|",
    ]
    for row in _records(share.models.head(top)):
        prompts = "n/a" if row["prompts"] < 0 else f"{row['prompts']:,}"
        out.append(
            f"| {row['model']} | {row['organization']} | {row['battles']:,} | "
            f"{_pct(row['share'])} | {prompts} |"
        )
    if len(share.models) > top:
        out.append(f"| ... {len(share.models) - top} more | | | | |")
    out += ["", "## Best-of-N selection", ""]
    if not result.selection:
        out.append("No organization has two or more variants of one family here.")
    else:
        out += [
            "| organization | family | variants | best | rating | expected bias | "
            "selection-corrected | kept is best |",
            "|---|---|---:|---|---:|---:|---:|---|",
        ]
        for g in result.selection:
            kept = "n/a" if g.kept_is_best is None else ("yes" if g.kept_is_best else "no")
            out.append(
                f"| {g.organization} | {g.family or '-'} | {len(g.variants)} | {g.best} | "
                f"{g.best_rating:.1f} | +{g.expected_bias:.1f} | {g.corrected_rating:.1f} | "
                f"{kept} |"
            )
        out += [
            "",
            "Expected bias: how far the best of the group's estimates lies above its "
            f"fitted value, averaged over {result.params.get('selection_draws')} draws from "
            "the fitted covariance (parametric bootstrap).",
        ]
    out += ["", "## Deprecation", ""]
    dep = result.deprecation
    if dep is None:
        out.append("No deprecated or inactive models.")
    else:
        out += [
            f"Dropping the {dep.dropped_battles:,} battles of {len(dep.deprecated)} deprecated "
            f"model(s) ({', '.join(dep.deprecated)}): largest rank change "
            f"**{dep.max_change}**; comparison graph connected before: "
            f"{'yes' if dep.connected_before else 'no'}, after: "
            f"{'yes' if dep.connected_after else f'no ({dep.components_after} components)'}.",
            "",
            "| model | rank with all battles | rank without | change |",
            "|---|---:|---:|---:|",
        ]
        out += _rank_change_rows(dep.ranks, "rank_without", top)
    out += ["", "## Prompt duplication", ""]
    dup = result.duplication
    if dup is None:
        out.append("The battles carry no prompts.")
    else:
        out += [
            f"Of {dup.battles_with_prompts:,} battles with a prompt, "
            f"**{_pct(dup.exact_share)}** repeat an earlier prompt exactly and "
            f"**{_pct(dup.normalised_share)}** after normalising; keeping the first of each "
            f"leaves {dup.kept_battles:,} battles, largest rank change **{dup.max_change}**.",
            "",
            "| model | rank with all battles | rank deduplicated | change |",
            "|---|---:|---:|---:|",
        ]
        out += _rank_change_rows(dup.ranks, "rank_dedup", top)
    out.append("")
    return "\n".join(out)


def _rank_change_rows(ranks: pd.DataFrame, column: str, top: int) -> list[str]:
    """Markdown rows of the ``top`` models whose rank changed (``rank_all`` vs ``column``)."""
    moved = ranks[ranks["change"] != 0].head(top)
    rows = [
        f"| {row['model']} | {row['rank_all']} | {row[column]} | {row['change']:+d} |"
        for row in _records(moved)
    ]
    return rows or ["| (no rank changes) | | | |"]


def audit_plots(result: Audit, folder: Path) -> list[Path]:
    """Draw the audit's PNG figures into ``folder``; returns the files written."""
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(fig: Figure, name: str) -> None:
        path = folder / name
        fig.savefig(path, format="png", dpi=120, bbox_inches="tight")
        written.append(path)

    orgs = result.data_share.organizations.head(20)
    fig = Figure(figsize=(8, max(3.0, 0.35 * len(orgs) + 1)))
    ax = fig.subplots()
    ax.barh(orgs["organization"][::-1], 100 * orgs["share"][::-1], color="#4c72b0")
    ax.set_xlabel("share of battles (%)")
    ax.set_title(f"Data share per organization (disparity {result.data_share.disparity:.2f}x)")
    save(fig, "data_share.png")

    if result.selection:
        groups = result.selection
        fig = Figure(figsize=(8, max(3.0, 0.5 * len(groups) + 1)))
        ax = fig.subplots()
        labels = [
            f"{g.organization} {g.family}".strip() + f" (N={len(g.variants)})" for g in groups
        ]
        y = np.arange(len(groups))
        for k, g in enumerate(groups):
            ratings = [v[1] for v in g.variants]
            ax.scatter(ratings, [k] * len(ratings), color="#999999", s=12, zorder=2)
        best = [g.best_rating for g in groups]
        ax.scatter(best, y, color="#c44e52", label="best (reported)", zorder=3)
        corrected = [g.corrected_rating for g in groups]
        ax.scatter(
            corrected, y, color="#55a868", marker="D", label="selection-corrected", zorder=3
        )
        ax.set_yticks(y, labels)
        ax.set_xlabel("rating")
        ax.set_title("Best-of-N: variants (grey), best and its corrected rating")
        ax.legend(loc="best", fontsize=8)
        save(fig, "best_of_n.png")

    for part, name, column in (
        (result.deprecation, "deprecation.png", "rank_without"),
        (result.duplication, "duplication.png", "rank_dedup"),
    ):
        if part is None:
            continue
        frame = part.ranks
        fig = Figure(figsize=(5, 5))
        ax = fig.subplots()
        ax.scatter(frame["rank_all"], frame[column], s=14, color="#4c72b0")
        top = max(int(frame["rank_all"].max()), 1)
        ax.plot([1, top], [1, top], color="#999999", linewidth=0.8)
        ax.set_xlabel("rank with all battles")
        ax.set_ylabel(column.replace("_", " "))
        ax.set_title(f"{name.split('.')[0].capitalize()}: largest change {part.max_change}")
        save(fig, name)
    return written
