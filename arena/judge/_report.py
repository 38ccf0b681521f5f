"""The judge's leaderboard beside the humans', and how far they agree; its renderings.

:func:`judge_leaderboard` is the one fit of judge battles (Bradley–Terry with sandwich
intervals), used here and by the web app's judge board. :func:`judge_report` puts the
judge's ratings beside the human ones and measures their agreement
(:mod:`arena.judge._agreement`); :func:`render_judge_report` writes it as Markdown, CSV
or JSON. Nothing here does I/O.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from arena.errors import UserError
from arena.judge._agreement import battle_agreement, pair_agreement, rank_correlation
from arena.tables import check_format, markdown_table

if TYPE_CHECKING:
    from arena.battles import Battles
    from arena.records import Leaderboard

__all__ = [
    "REPORT_FORMATS",
    "JudgeReport",
    "judge_leaderboard",
    "judge_report",
    "render_judge_report",
]

#: Formats of :func:`render_judge_report`.
REPORT_FORMATS: tuple[str, ...] = ("md", "csv", "json")


def judge_leaderboard(battles: Battles, *, filters: Mapping[str, Any] | None = None) -> Leaderboard:
    """Rate judge battles: Bradley–Terry, sandwich intervals (judge battles are few).

    The fit's warnings (a disconnected graph, few battles, ...) are in the returned
    record's ``warnings``, not raised as Python warnings. ``filters`` is recorded in the
    leaderboard as what the battles were narrowed to (the web app: the judge).

    Raises
    ------
    UserError
        Fewer than two models to rate.
    """
    from arena.leaderboard import ArenaWarning, compute_leaderboard

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArenaWarning)
        return compute_leaderboard(
            battles, method="bt", ci="sandwich", filters=dict(filters) if filters else None
        )


@dataclass(frozen=True)
class JudgeReport:
    """The judge's leaderboard, beside the humans' when given, and their agreement.

    Attributes
    ----------
    table:
        One row per judged model, best first: ``model, judge_rating, judge_ci_lower,
        judge_ci_upper, judge_rank, judge_battles`` and, with human battles,
        ``human_rating, human_ci_lower, human_ci_upper, human_rank, human_battles``
        (NaN for a model without human battles; ranks among the models shown).
    spearman:
        Rank correlation of judge and human ratings over the common models (NaN without
        human battles or with fewer than three common models).
    pairs:
        :func:`pair_agreement` (empty without human battles).
    pair_agreement:
        Share of :attr:`pairs` that agree (NaN when there is none).
    battle_agreement:
        Share of matched human votes the judge agrees with (NaN when none matched).
    n_battle_matches:
        Human votes on a judged prompt and pair (:func:`battle_agreement`).
    summary:
        The judge run: judge, models, prompts, comparisons, failures, outcome counts.
    warnings:
        Warnings of the run and of the rating fits.
    """

    table: pd.DataFrame
    spearman: float
    pairs: pd.DataFrame
    pair_agreement: float
    battle_agreement: float
    n_battle_matches: int
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def has_human(self) -> bool:
        """Whether human battles were compared."""
        return "human_rating" in self.table.columns


def _ratings(battles: Battles, prefix: str, messages: list[str]) -> pd.DataFrame:
    """The ratings of ``battles`` as ``model, PREFIX_rating, _ci_lower, _ci_upper, _battles``."""
    lb = judge_leaderboard(battles)
    messages += [f"{prefix} leaderboard: {w}" for w in lb.warnings]
    t = lb.table
    return pd.DataFrame(
        {
            "model": t["model"].astype(str),
            f"{prefix}_rating": t["rating"].astype(float),
            f"{prefix}_ci_lower": t["ci_lower"].astype(float),
            f"{prefix}_ci_upper": t["ci_upper"].astype(float),
            f"{prefix}_battles": t["battles"].astype(int),
        }
    )


def judge_report(
    judge: Battles,
    human: Battles | None = None,
    *,
    judge_frame: pd.DataFrame | None = None,
    summary: Mapping[str, Any] | None = None,
    warnings_: Sequence[str] = (),
) -> JudgeReport:
    """Rate the judge battles (Bradley–Terry, sandwich intervals) and compare with humans.

    Parameters
    ----------
    judge:
        The judge battles (:class:`arena.battles.Battles`).
    human:
        Human battles (:class:`arena.battles.Battles`, e.g. ``arena votes``), or None.
    judge_frame:
        The judge battles for the per-battle agreement: ``model_a, model_b, winner,
        prompt``, first-turn battles only (a second-turn battle has the same first user
        turn but judges another answer). Default: ``judge.to_frame()``.
    summary, warnings_:
        Carried into the report (the run's counts and warnings).

    Raises
    ------
    UserError
        No judge battle (every comparison failed), or fewer than two models in them.
    """
    if len(judge) == 0:
        raise UserError("there are no judge battles to rate: every comparison failed")
    messages = list(warnings_)
    table = _ratings(judge, "judge", messages)
    table.insert(4, "judge_rank", table["judge_rating"].rank(ascending=False, method="min"))
    table["judge_rank"] = table["judge_rank"].astype(int)
    spearman = math.nan
    pairs = pd.DataFrame(
        columns=[
            "model_x",
            "model_y",
            "judge_battles",
            "judge_winner",
            "human_battles",
            "human_winner",
            "agree",
        ]
    )
    pair_rate = battle_rate = math.nan
    matched = 0
    if human is not None:
        try:
            human_table = _ratings(human, "human", messages)
        except UserError as exc:
            raise UserError(f"the human battles (--human) cannot be rated: {exc}") from None
        table = table.merge(human_table, on="model", how="left")
        common = table.dropna(subset=["human_rating"])
        ranks = common["human_rating"].rank(ascending=False, method="min")
        table["human_rank"] = ranks.reindex(table.index).astype("Int64")
        table = table[
            [
                "model",
                "judge_rating",
                "judge_ci_lower",
                "judge_ci_upper",
                "judge_rank",
                "judge_battles",
                "human_rating",
                "human_ci_lower",
                "human_ci_upper",
                "human_rank",
                "human_battles",
            ]
        ]
        table["human_battles"] = table["human_battles"].astype("Int64")
        agreement = rank_correlation(
            dict(zip(common["model"], common["judge_rating"], strict=True)),
            dict(zip(common["model"], common["human_rating"], strict=True)),
        )
        if agreement.spearman is not None:
            spearman = agreement.spearman
        human_frame = human.to_frame()
        pairs = pair_agreement(judge.to_frame(), human_frame)
        if len(pairs):
            pair_rate = float(pairs["agree"].mean())
        frame = judge.to_frame() if judge_frame is None else judge_frame
        agreeing, matched = battle_agreement(frame, human_frame)
        if matched:
            battle_rate = agreeing / matched
    table = table.sort_values("judge_rating", ascending=False, kind="stable")
    return JudgeReport(
        table.reset_index(drop=True),
        spearman,
        pairs,
        pair_rate,
        battle_rate,
        matched,
        dict(summary or {}),
        tuple(messages),
    )


# -- rendering --------------------------------------------------------------------------------


def _num(value: Any, digits: int = 1) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, int | np.integer):
        return str(int(value))
    return f"{float(value):.{digits}f}"


def _rate(rate: float, n: int, what: str) -> str:
    if math.isnan(rate):
        return f"{what}: none to compare"
    return f"{what}: {round(rate * n)}/{n} = {100 * rate:.1f} %"


def _summary_line(summary: Mapping[str, Any]) -> str:
    if not summary:
        return ""
    outcomes = summary.get("outcomes", {})
    counts = ", ".join(f"{k} {v}" for k, v in outcomes.items())
    return (
        f"Judge {summary.get('judge')}: {summary.get('prompts')} prompts, "
        f"{summary.get('comparisons')} comparisons of {len(summary.get('models', []))} models "
        f"(each judged in both orders), {summary.get('battles')} battles ({counts}), "
        f"{summary.get('failed')} failed."
    )


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): _json_value(v) for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]


def render_judge_report(report: JudgeReport, fmt: str) -> str:
    """The report as Markdown (tables and agreement lines), CSV (the table) or JSON (all)."""
    fmt = check_format(fmt, REPORT_FORMATS, "report")
    t = report.table
    if fmt == "csv":
        return str(t.to_csv(index=False))
    if fmt == "json":
        data = {
            "summary": report.summary,
            "table": _records(t),
            "spearman": _json_value(report.spearman),
            "pair_agreement": _json_value(report.pair_agreement),
            "n_pairs": len(report.pairs),
            "battle_agreement": _json_value(report.battle_agreement),
            "n_battle_matches": report.n_battle_matches,
            "pairs": _records(report.pairs),
            "warnings": list(report.warnings),
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    lines = []
    if report.summary:
        lines += [_summary_line(report.summary), ""]
    header = ["model", "judge rating", "95 % CI", "judge rank", "judge battles"]
    if report.has_human:
        header += ["human rating", "95 % CI", "human rank", "human battles"]
    rows = []
    for r in t.to_dict(orient="records"):
        cells = [
            str(r["model"]),
            _num(r["judge_rating"]),
            f"{_num(r['judge_ci_lower'])} to {_num(r['judge_ci_upper'])}"
            if not pd.isna(r["judge_ci_lower"])
            else "",
            _num(r["judge_rank"]),
            _num(r["judge_battles"]),
        ]
        if report.has_human:
            has = not pd.isna(r["human_rating"])
            cells += [
                _num(r["human_rating"]) if has else "",
                f"{_num(r['human_ci_lower'])} to {_num(r['human_ci_upper'])}" if has else "",
                _num(r["human_rank"]) if has else "",
                _num(r["human_battles"]) if has else "",
            ]
        rows.append(cells)
    lines += markdown_table(header, rows, "l" + "r" * (len(header) - 1))
    if report.has_human:
        n_common = int(t["human_rating"].notna().sum())
        spearman = "n/a (fewer than 3)" if math.isnan(report.spearman) else f"{report.spearman:.3f}"
        lines += [
            "",
            f"Spearman rank correlation of judge and human ratings over {n_common} common "
            f"models: {spearman}",
            _rate(
                report.pair_agreement,
                len(report.pairs),
                "Agreement on model pairs (majority winner, ties included)",
            ),
            _rate(
                report.battle_agreement,
                report.n_battle_matches,
                "Agreement per battle (human votes on a judged prompt)",
            ),
        ]
        if len(report.pairs):
            lines += ["", "| pair | judge winner | human winner | agree |", "|---|---|---|---|"]
            for p in report.pairs.itertuples(index=False):
                lines.append(
                    f"| {p.model_x} vs {p.model_y} | {p.judge_winner} ({p.judge_battles}) "
                    f"| {p.human_winner} ({p.human_battles}) | {'yes' if p.agree else 'no'} |"
                )
    if report.warnings:
        lines += [""] + [f"warning: {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"
