"""Votes each pair-sampling policy needs until the ranking is right (simulation, not a test).

Ground truth: Bradley-Terry ratings fitted (by ``arena.leaderboard.compute_leaderboard``)
on the real Chatbot Arena pair counts in ``../shared/data/pairwise/``, with the real
share of ties. The real top 20 cannot serve as truth as it is: models two places apart
sit 1 point apart there, so no policy gets every Rank (UB) within one place of the
truth before ~10^8 votes. Two truths are taken from the top of the real leaderboard:

- ``stratified``: every 4th model from rank 1 (25 models, 1204 to 934 points), which
  keeps the real leaderboard's mix of crowded and sparse stretches (the gap to the
  model two places away runs from 10 to 55 points);
- ``spaced``: 20 models, each at least 10 points below the previous one kept (gaps two
  places away 21 to 29 points: nearly even, the case where uniform sampling is close
  to the best any policy can do).

Votes are drawn in batches of ``--batch`` (one batch is what the web app collects
between two refreshes of the adaptive fit; the fit is refreshed after every batch):
a pair by the policy, then an outcome with ``P(tie) = min(tau, 2 min(p, 1 - p))``
(``tau`` the real tie share, both-bad included) and the rest split so that the expected
half-tie score is the true ``p`` (so the truth is what the engine's Bradley-Terry
estimates). After every batch the leaderboard's sandwich intervals and Rank (UB) are
computed with the engine's functions (``fit_bt``, ``sandwich_bt``, ``normal_interval``,
``rank_upper_bound``; no interval while the maximum-likelihood ratings do not exist).
A run's figure is the number of votes after which every model's Rank (UB) is within
one of its true rank at every later checkpoint up to ``--horizon`` (a run still wrong
at the horizon counts as ">horizon").

Policies, each through :func:`arena.service.sampling.pair_probabilities` as the web app
calls it: ``uniform`` (weighted, equal weights), ``weighted`` (weights = each model's
share of the real battles, the way the public arena sampled), ``adaptive`` (equal
weights, the default of a models file; default mix and floor; the fit of
:meth:`PairUncertainty.from_counts`, as the web app refits it), ``adaptive+weights``
(the same mixed with the real shares), ``pair-variance`` (for comparison, a rule of the
Chatbot Arena paper's kind: probability growing with each pair's difference variance
per battle, same mix and floor).

Run from the project root::

    OMP_NUM_THREADS=1 .venv/bin/python perf/bench_sampling.py [--seeds 5] [--write-results]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arena.battles import read_battles  # noqa: E402
from arena.leaderboard import compute_leaderboard  # noqa: E402
from arena.ratings.bt import fit_bt, sandwich_bt  # noqa: E402
from arena.ratings.graph import diagnose  # noqa: E402
from arena.ratings.intervals import normal_interval, rank_upper_bound  # noqa: E402
from arena.ratings.pairs import PairStats  # noqa: E402
from arena.ratings.scale import RatingScale  # noqa: E402
from arena.service.sampling import (  # noqa: E402
    AdaptiveSettings,
    Candidate,
    PairUncertainty,
    pair_probabilities,
)

DATA = ROOT.parent / "shared" / "data" / "pairwise" / "chatbotarena_20240814_paircounts.csv"
RESULTS = ROOT / "perf" / "RESULTS.md"
BEGIN, END = "<!-- bench_sampling:begin -->", "<!-- bench_sampling:end -->"
#: Rows of the table: (label, policy passed to pair_probabilities, weights, scorer).
POLICY_NAMES = ("uniform", "weighted", "adaptive", "adaptive+weights", "pair-variance")
#: Truths: (label, models, stride, spacing) for :func:`load_truth`.
TRUTHS = {
    "stratified": (25, 4, 0.0),
    "spaced": (20, 0, 10.0),
}


@dataclass(frozen=True)
class Truth:
    """The simulated arena: models, true strengths (nats), weights, tie share."""

    models: tuple[str, ...]
    theta: NDArray[np.float64]
    points: NDArray[np.float64]
    weights: NDArray[np.float64]
    tie_share: float

    @property
    def ranks(self) -> NDArray[np.int64]:
        """True rank of each model (1 = best)."""
        order = np.argsort(-self.theta, kind="stable")
        r = np.empty(len(order), dtype=np.int64)
        r[order] = np.arange(1, len(order) + 1)
        return r


def load_truth(n_models: int, stride: int, spacing: float) -> Truth:
    """Fit the real counts; keep ``n_models`` models from the top of the real leaderboard.

    ``stride`` > 0: every ``stride``-th model (rank 1, 1 + stride, ...), which keeps the
    real leaderboard's mix of crowded and sparse stretches. ``stride`` 0: greedily, each
    at least ``spacing`` points below the previous one kept (evenly spread gaps).
    """
    battles = read_battles([DATA])
    lb = compute_leaderboard(battles, ci="none")
    table = lb.table
    ratings = table["rating"].to_numpy(np.float64)
    kept: list[int]
    if stride > 0:
        kept = list(range(0, len(table), stride))[:n_models]
    else:
        kept = [0]
        for i in range(1, len(table)):
            if len(kept) == n_models:
                break
            if ratings[kept[-1]] - ratings[i] >= spacing:
                kept.append(i)
    rows = table.iloc[kept]
    ppn = RatingScale().points_per_nat
    points = rows["rating"].to_numpy(np.float64)
    theta = (points - points.mean()) / ppn
    played = rows["battles"].to_numpy(np.float64)
    outcome = battles.outcome
    ties = float(battles.count[outcome >= 2].sum()) / float(battles.count.sum())
    return Truth(tuple(rows["model"]), theta, points, played / played.sum(), ties)


def outcome_probabilities(
    truth: Truth,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Pairs ``lo < hi`` and ``(P, 3)`` probabilities of lo wins, hi wins, tie."""
    k = len(truth.models)
    lo, hi = np.triu_indices(k, 1)
    p = 1 / (1 + np.exp(truth.theta[hi] - truth.theta[lo]))
    tie = np.minimum(truth.tie_share, 2 * np.minimum(p, 1 - p))
    probs = np.stack([p - tie / 2, 1 - p - tie / 2, tie], axis=1)
    return lo, hi, np.clip(probs, 0, 1)


def rank_ub(
    totals: NDArray[np.float64], lo: NDArray[np.int64], hi: NDArray[np.int64], k: int
) -> NDArray[np.int64] | None:
    """The leaderboard's Rank (UB) from ``(P, 4)`` outcome totals (None: no MLE yet)."""
    keep = totals.sum(axis=1) > 0
    stats = PairStats(lo[keep], hi[keep], totals[keep], totals[keep])
    if not diagnose(stats, k).exists:
        return None
    fit = fit_bt(stats, k, tol=1e-8)
    cov = sandwich_bt(stats, fit, k)
    se = np.sqrt(np.clip(np.diag(cov)[:k], 0, None))
    lower, upper = normal_interval(fit.theta, se, 0.95)
    return rank_upper_bound(lower, upper)


def pair_variance_scores(
    pairs: list[tuple[str, str]], uncertainty: PairUncertainty, level: float = 0.95
) -> NDArray[np.float64]:
    """A Chatbot-Arena-paper-like rule, for comparison: the drop in each pair's
    difference variance from one more battle, ``w v^2 / (1 + w v)`` (Sherman-Morrison)."""
    index = {m: i for i, m in enumerate(uncertainty.models)}
    i = np.array([index[a] for a, _ in pairs])
    j = np.array([index[b] for _, b in pairs])
    c = uncertainty.covariance
    v = c[i, i] + c[j, j] - 2 * c[i, j]
    p = 1 / (1 + np.exp(uncertainty.theta[j] - uncertainty.theta[i]))
    w = p * (1 - p)
    return np.asarray(w * v * v / (1 + w * v))


def simulate(
    truth: Truth, label: str, seed: int, batch: int, horizon: int, settings: AdaptiveSettings
) -> tuple[int | None, NDArray[np.float64]]:
    """Votes until Rank (UB) is within one of the truth for good (None: not by the horizon)."""
    import arena.service.sampling as sampling

    rng = np.random.default_rng(seed)
    k = len(truth.models)
    lo, hi, outcome_p = outcome_probabilities(truth)
    real_weights = label in ("weighted", "adaptive+weights")
    weights = truth.weights * k if real_weights else np.ones(k)
    policy = "weighted" if label in ("uniform", "weighted") else "adaptive"
    candidates = [Candidate(m, float(w)) for m, w in zip(truth.models, weights, strict=True)]
    index = {m: i for i, m in enumerate(truth.models)}
    pair_of = {(int(a), int(b)): n for n, (a, b) in enumerate(zip(lo, hi, strict=True))}
    listed, _ = pair_probabilities(candidates)
    order = np.array(
        [pair_of[min(index[a.name], index[b.name]), max(index[a.name], index[b.name])]
         for a, b in listed]
    )
    totals = np.zeros((len(lo), 4))
    true_rank = truth.ranks
    uncertainty: PairUncertainty | None = None
    last_wrong = 0
    votes = 0
    scorer = sampling.adaptive_scores
    if label == "pair-variance":
        sampling.adaptive_scores = pair_variance_scores  # type: ignore[assignment]
    try:
        while votes < horizon:
            _, probs = pair_probabilities(candidates, policy, uncertainty, settings)
            per_pair = np.zeros(len(lo), dtype=np.int64)
            per_pair[order] = rng.multinomial(batch, probs)
            totals[:, :3] += rng.multinomial(per_pair, outcome_p)
            votes += batch
            ranks = rank_ub(totals, lo, hi, k)
            if ranks is None or np.any(np.abs(ranks - true_rank) > 1):
                last_wrong = votes
            if policy == "adaptive":
                counts = np.zeros((k, k, 4))
                counts[lo, hi] = totals
                uncertainty = PairUncertainty.from_counts(truth.models, counts)
    finally:
        sampling.adaptive_scores = scorer
    per_model = np.zeros(k)
    np.add.at(per_model, lo, totals.sum(axis=1))
    np.add.at(per_model, hi, totals.sum(axis=1))
    return (None if last_wrong >= horizon else last_wrong), per_model


def projection_check(truth: Truth, seed: int, base_votes: int, reps: int) -> list[str]:
    """Votes-needed projections of ``arena standing`` against simulated battles.

    From ``base_votes`` uniform votes, every tied pair of neighbours (intervals
    overlapping) that some single pairing can separate gets its projected number of
    battles (:func:`arena.campaign.standing.battles_to_separate`, cheapest pairing);
    those battles are then simulated ``reps`` times from the truth and the engine's
    sandwich refitted. The projection promises an interval width ``z (s_i + s_j)``
    equal to the gap it had; the table compares it with the realised width.
    """
    from scipy.special import ndtri

    from arena.campaign.standing import battles_to_separate

    rng = np.random.default_rng(seed)
    k = len(truth.models)
    lo, hi, outcome_p = outcome_probabilities(truth)
    base = np.zeros((len(lo), 4))
    base[:, :3] = rng.multinomial(rng.multinomial(base_votes, np.full(len(lo), 1 / len(lo))), outcome_p)
    pair_index = {(int(a), int(b)): n for n, (a, b) in enumerate(zip(lo, hi, strict=True))}
    z = float(ndtri(0.975))

    def fit(totals: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        keep = totals.sum(axis=1) > 0
        stats = PairStats(lo[keep], hi[keep], totals[keep], totals[keep])
        f = fit_bt(stats, k, tol=1e-10)
        return f.theta, sandwich_bt(stats, f, k)[:k, :k]

    theta, cov = fit(base)
    tau = float(base[:, 2].sum() / base.sum())
    order = np.argsort(-theta)
    ppn = RatingScale().points_per_nat
    lines = [
        f"Projection check (`{base_votes:,}` uniform votes, then the projected battles "
        f"simulated {reps} times): projected width = the gap the pair had; realised = "
        "mean of `z (s_i + s_j)` after refitting.",
        "",
        "| pair | gap (points) | pairing | projected battles | projected width | "
        "realised width | separated |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    ratios = []
    for r in range(k - 1):
        i, j = int(order[r]), int(order[r + 1])
        gap = abs(theta[i] - theta[j])
        if z * (np.sqrt(cov[i, i]) + np.sqrt(cov[j, j])) < gap:
            continue  # already separated
        best, pairing = np.inf, (i, j)
        for one in (i, j):
            for x in range(k):
                if x != one:
                    n = battles_to_separate(cov, theta, (i, j), (one, x), tie_share=tau)
                    if n < best:
                        best, pairing = n, (one, x)
        if not np.isfinite(best) or best > 20 * base_votes:
            continue
        n = int(np.ceil(best))
        a, b = min(pairing), max(pairing)
        widths, separated = [], 0
        for _ in range(reps):
            totals = base.copy()
            totals[pair_index[(a, b)], :3] += rng.multinomial(n, outcome_p[pair_index[(a, b)]])
            t2, c2 = fit(totals)
            w = z * (np.sqrt(c2[i, i]) + np.sqrt(c2[j, j]))
            widths.append(w)
            separated += abs(t2[i] - t2[j]) > w
        ratios.append(float(np.mean(widths)) / gap)
        lines.append(
            f"| {truth.models[i]} / {truth.models[j]} | {gap * ppn:.1f} | "
            f"{truth.models[pairing[0]]} vs {truth.models[pairing[1]]} | {n:,} | "
            f"{gap * ppn:.2f} | {np.mean(widths) * ppn:.2f} | {separated}/{reps} |"
        )
    if ratios:
        lines += [
            "",
            f"Realised / projected width: {min(ratios):.3f} to {max(ratios):.3f} "
            f"(mean {np.mean(ratios):.3f}) over {len(ratios)} pairs. How often the pair is "
            "then separated depends on where its true gap lies against the estimate the "
            "projection holds fixed (`separated`): the projection is for the width.",
        ]
    return lines


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _fmt(v: int | None, horizon: int) -> str:
    return f">{horizon:,}" if v is None else f"{v:,}"


def _median(values: list[int | None], horizon: int) -> float:
    """Median votes, a run censored at the horizon counting as more than any finite one."""
    return float(np.median([horizon * 10 if v is None else v for v in values]))


def run_truth(
    name: str, args: argparse.Namespace, settings: AdaptiveSettings
) -> tuple[list[str], float]:
    """Simulate every policy on one truth; returns the Markdown lines and the saving."""
    n_models, stride, spacing = TRUTHS[name]
    truth = load_truth(n_models, stride, spacing)
    horizon = args.horizon or (800_000 if name == "stratified" else 300_000)
    batch = args.batch or (1000 if name == "stratified" else 500)
    results: dict[str, list[int | None]] = {p: [] for p in POLICY_NAMES}
    for label in POLICY_NAMES:
        for seed in range(args.seeds):
            needed, _ = simulate(truth, label, 1000 + seed, batch, horizon, settings)
            results[label].append(needed)
            print(f"{name} {label:16s} seed {seed}: {_fmt(needed, horizon)} votes", flush=True)
    gaps = np.sort(truth.points)[::-1]
    two = gaps[:-2] - gaps[2:]
    how = (
        f"every {stride}th model of the real leaderboard from rank 1"
        if stride
        else f"greedily at least {spacing:g} points apart from rank 1"
    )
    lines = [
        f"### Truth `{name}`: {len(truth.models)} real models, {how}",
        "",
        f"{truth.points.max():.0f} to {truth.points.min():.0f} points; gap to the model two "
        f"places away {two.min():.1f} to {two.max():.1f} points (median {np.median(two):.1f}); "
        f"tie share {truth.tie_share:.3f}; real battle shares {truth.weights.min():.3f} to "
        f"{truth.weights.max():.3f}; fit refreshed every {batch} votes; horizon "
        f"{horizon:,} votes.",
        "",
        "| policy | " + " | ".join(f"seed {s}" for s in range(args.seeds)) + " | median | vs uniform |",
        "|---|" + "---|" * args.seeds + "---|---|",
    ]
    base = _median(results["uniform"], horizon)
    for label in POLICY_NAMES:
        med = _median(results[label], horizon)
        cells = " | ".join(_fmt(v, horizon) for v in results[label])
        change = 1 - med / base
        saving = (
            ""
            if label == "uniform"
            else f"{100 * change:.0f} % fewer"
            if change >= 0
            else f"{-100 * change:.0f} % more"
        )
        lines.append(f"| {label} | {cells} | {med:,.0f} | {saving} |")
    return lines, 1 - _median(results["adaptive"], horizon) / base


def main(argv: list[str] | None = None) -> int:
    """Run every policy on every seed and truth; print (and optionally record) the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument(
        "--truth", action="append", choices=sorted(TRUTHS), help="truth(s) to run (both)"
    )
    ap.add_argument("--seeds", type=int, default=5, help="seeds per policy (5)")
    ap.add_argument("--batch", type=int, default=0, help="votes between fit refreshes")
    ap.add_argument("--horizon", type=int, default=0, help="votes simulated per run")
    ap.add_argument("--write-results", action="store_true", help="update perf/RESULTS.md")
    args = ap.parse_args(argv)
    if not DATA.is_file():
        print(f"bench_sampling: {DATA} is missing (see ../shared/data/pairwise/README.md)")
        return 2
    truths = args.truth or ["stratified", "spaced"]
    load_before = os.getloadavg()
    started = time.perf_counter()
    settings = AdaptiveSettings()
    body: list[str] = []
    savings: dict[str, float] = {}
    for name in truths:
        lines, savings[name] = run_truth(name, args, settings)
        body += [*lines, ""]
    if "stratified" in truths:
        n_models, stride, spacing = TRUTHS["stratified"]
        body += [
            "### Votes-needed projection (`arena standing`) against the simulation",
            "",
            *projection_check(load_truth(n_models, stride, spacing), 7, 60_000, 20),
            "",
        ]
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()
    command = "python perf/bench_sampling.py " + " ".join(argv if argv is not None else sys.argv[1:])
    verdicts = ", ".join(
        f"`{n}` {100 * v:.0f} % fewer ({'MET' if v >= 0.30 else 'MISSED'})"
        for n, v in savings.items()
    )
    lines = [
        BEGIN,
        "## Pair sampling: votes until Rank (UB) is right (`perf/bench_sampling.py`)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `{command.strip()}` "
        f"({elapsed:.0f} s).",
        "",
        f"- Machine: {_machine()}",
        "- Load average before / after: "
        f"{' '.join(f'{x:.2f}' for x in load_before)} / "
        f"{' '.join(f'{x:.2f}' for x in load_after)}",
        f"- Adaptive policy: mix {settings.mix}, floor {settings.floor}, level {settings.level}.",
        "- Figure per run: votes after which every model's Rank (UB) (sandwich, 95 %) stays "
        "within one place of its true rank up to the horizon (`>H`: still wrong at the end).",
        "- Rows: `uniform` (equal weights), `weighted` (weights = the models' real battle "
        "shares), `adaptive` (equal weights, the default models file), `adaptive+weights` "
        "(adaptive mixed with the real shares), `pair-variance` (the Chatbot Arena paper's "
        "kind of rule: probability growing with each pair's difference variance per battle, "
        "same mix and floor).",
        "",
        *body,
        f"Target: `adaptive` needs >= 30 % fewer votes than `uniform` (medians): {verdicts}.",
        END,
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_results:
        old = RESULTS.read_text() if RESULTS.is_file() else "# Performance results\n"
        if BEGIN in old and END in old:
            head, rest = old.split(BEGIN, 1)
            new = head + text + rest.split(END, 1)[1]
        else:
            new = old.rstrip("\n") + "\n\n" + text + "\n"
        RESULTS.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
