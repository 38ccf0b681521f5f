"""Suite scores beside arena ratings: rank correlations and the models they disagree on most.

The ratings come from a leaderboard written by ``arena leaderboard`` (CSV or JSON with
``model`` and ``rating`` columns) or are fitted here (Bradley–Terry, no intervals) from
battle files. Only models present in both are compared.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from arena.errors import UserError
from arena.harness._results import EvalResults
from arena.tables import markdown_table

__all__ = ["RatingsReport", "compare_with_ratings", "render_report"]


@dataclass(frozen=True)
class RatingsReport:
    """Suite score and arena rating per model, with their agreement.

    Attributes
    ----------
    table:
        ``model, score, score_rank, rating, rating_rank, rank_gap`` sorted by rating.
    spearman, kendall:
        Rank correlations (NaN with fewer than three models).
    score_name:
        What the score is (``task/metric`` or the mean of the tasks' main metrics).
    """

    table: pd.DataFrame
    spearman: float
    kendall: float
    score_name: str


def read_ratings(paths: Sequence[Path]) -> pd.Series:
    """Ratings by model from a leaderboard export (CSV or JSON) or from battle files.

    One ``.csv``/``.json`` file is read as an exported leaderboard (its provenance line
    skipped); anything else is read as battles and rated.
    """
    if len(paths) == 1 and paths[0].suffix.lower() in (".csv", ".json"):
        p = paths[0]
        try:
            if p.suffix.lower() == ".csv":
                from arena.report.exports import read_leaderboard_csv

                frame = read_leaderboard_csv(p)  # skips the '# arena-metadata' line
            else:
                data = json.loads(p.read_text(encoding="utf-8"))
                frame = pd.DataFrame(
                    data["table"] if isinstance(data, dict) and "table" in data else data
                )
        except (OSError, ValueError, KeyError) as exc:
            frame = None
            error: Exception | None = exc
        else:
            error = None
        if frame is not None and {"model", "rating"} <= set(frame.columns):
            return frame.set_index("model")["rating"].astype(float)
        if error is not None and p.suffix.lower() == ".csv":
            raise UserError(f"{p}: cannot read the leaderboard: {error}")
    from arena.battles import read_battles
    from arena.leaderboard import compute_leaderboard

    lb = compute_leaderboard(read_battles(list(paths)), method="bt", ci="none")
    return lb.table.set_index("model")["rating"].astype(float)


def compare_with_ratings(
    results: EvalResults,
    ratings: Sequence[Path],
    *,
    task: str | None = None,
    metric: str | None = None,
) -> RatingsReport:
    """Put each model's suite score beside its arena rating."""
    rating = read_ratings(ratings)
    scores: dict[str, float] = {}
    for model in results.models:
        rows = [r for r in results.results if r.model == model and (task is None or r.task == task)]
        if task is not None and not rows:
            raise UserError(f"the results have no task '{task}'")
        values = [r.metrics[metric or next(iter(r.metrics))].value for r in rows]
        scores[model] = float(np.mean(values))
    common = [m for m in scores if m in rating.index]
    if not common:
        raise UserError(
            "no model of the results is in the ratings: results have "
            f"{', '.join(scores)}; ratings have {', '.join(map(str, rating.index[:10]))}"
        )
    table = pd.DataFrame(
        {
            "model": common,
            "score": [scores[m] for m in common],
            "rating": [rating[m] for m in common],
        }
    )
    table["score_rank"] = table["score"].rank(ascending=False, method="min").astype(int)
    table["rating_rank"] = table["rating"].rank(ascending=False, method="min").astype(int)
    table["rank_gap"] = table["score_rank"] - table["rating_rank"]
    table = table.sort_values("rating", ascending=False).reset_index(drop=True)
    if len(table) >= 3:
        spearman = float(stats.spearmanr(table["score"], table["rating"]).statistic)
        kendall = float(stats.kendalltau(table["score"], table["rating"]).statistic)
    else:
        spearman = kendall = float("nan")
    name = f"{task}/{metric or 'main'}" if task else "mean of the tasks' main metrics"
    return RatingsReport(
        table[["model", "score", "score_rank", "rating", "rating_rank", "rank_gap"]],
        spearman,
        kendall,
        name,
    )


def render_report(report: RatingsReport, fmt: str) -> str:
    """The report as CSV, JSON or Markdown (with the most-disagreeing models listed)."""
    t = report.table
    if fmt == "csv":
        return str(t.to_csv(index=False))
    worst = t.reindex(t["rank_gap"].abs().sort_values(ascending=False).index).head(5)
    if fmt == "json":
        data: dict[str, Any] = {
            "score": report.score_name,
            "spearman": report.spearman,
            "kendall": report.kendall,
            "table": t.to_dict(orient="records"),
            "largest_disagreements": worst["model"].tolist(),
        }
        return json.dumps(data, indent=2, default=float) + "\n"
    lines = [
        f"Score: {report.score_name}. Spearman {report.spearman:.3f}, Kendall {report.kendall:.3f} "
        f"over {len(t)} models.",
        "",
    ]
    lines += markdown_table(
        ["model", "score", "score rank", "rating", "rating rank", "rank gap"],
        [
            [
                str(r.model),
                f"{r.score:.4f}",
                str(r.score_rank),
                f"{r.rating:.1f}",
                str(r.rating_rank),
                f"{r.rank_gap:+d}",
            ]
            for r in t.itertuples()
        ],
        "lrrrrr",
    )
    gaps = ", ".join(f"{r.model} ({r.rank_gap:+d})" for r in worst.itertuples() if r.rank_gap != 0)
    lines += ["", f"Largest disagreements: {gaps or 'none'}"]
    return "\n".join(lines) + "\n"
