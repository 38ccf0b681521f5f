"""Judge battles (auto-arena): a judge model compares two models' answers, in both orders.

One straight line, one module per step::

    prompts    (_prompts)    MT-Bench's pairwise judge prompts; prompt sets (MT-Bench, JSONL)
    verdicts   (_verdicts)   [[A]]/[[B]]/[[C]] parsing, both orders combined, FastChat battles
    run        (_run)        every model answers, the judge judges, cached, resumable, files
    agreement  (_agreement)  judge vs humans: rank correlation, model pairs, single battles
    report     (_report)     the judge's leaderboard beside the humans', as md/csv/json

::

    from pathlib import Path
    from arena.backends import load_models
    from arena.judge import judge_report, load_prompts, render_judge_report, run_judge

    models = {m.name: m for m in load_models("models.toml")}
    run = run_judge(models["big"], [models["a"], models["b"]], load_prompts(limit=20),
                    output=Path("runs/judge"))
    print(render_judge_report(judge_report(run.to_battles(), summary=run.summary()), "md"))

``arena judge`` (:mod:`arena.cli.judge`) is this on the command line; the vote store keeps
the battles (:mod:`arena.store.judge`) and the web app shows a judge's leaderboard beside
the human one (:mod:`arena.service.judges`), with :func:`rank_correlation`, the project's
one rank correlation.

Names are imported on first use, so ``from arena.judge import rank_correlation`` loads
neither the harness nor the model backends.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from arena.judge._agreement import (
        RankAgreement,
        battle_agreement,
        pair_agreement,
        rank_correlation,
    )
    from arena.judge._prompts import (
        JUDGE_TEMPLATES,
        MTBENCH,
        REFERENCE_CATEGORIES,
        JudgePrompt,
        JudgeTemplate,
        QuestionId,
        judge_messages,
        load_prompts,
        read_prompt_file,
        template_for,
    )
    from arena.judge._report import (
        REPORT_FORMATS,
        JudgeReport,
        judge_leaderboard,
        judge_report,
        render_judge_report,
    )
    from arena.judge._run import JudgeOptions, JudgeRun, check_contestants, run_judge
    from arena.judge._verdicts import (
        CONSISTENT,
        Judgment,
        Verdict,
        battle_record,
        combine_verdicts,
        parse_verdict,
    )

#: Public name -> the module that defines it.
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ("RankAgreement", "battle_agreement", "pair_agreement", "rank_correlation"),
        "arena.judge._agreement",
    ),
    **dict.fromkeys(
        (
            "JUDGE_TEMPLATES",
            "MTBENCH",
            "REFERENCE_CATEGORIES",
            "JudgePrompt",
            "JudgeTemplate",
            "QuestionId",
            "judge_messages",
            "load_prompts",
            "read_prompt_file",
            "template_for",
        ),
        "arena.judge._prompts",
    ),
    **dict.fromkeys(
        (
            "REPORT_FORMATS",
            "JudgeReport",
            "judge_leaderboard",
            "judge_report",
            "render_judge_report",
        ),
        "arena.judge._report",
    ),
    **dict.fromkeys(
        ("JudgeOptions", "JudgeRun", "check_contestants", "run_judge"), "arena.judge._run"
    ),
    **dict.fromkeys(
        (
            "CONSISTENT",
            "Judgment",
            "Verdict",
            "battle_record",
            "combine_verdicts",
            "parse_verdict",
        ),
        "arena.judge._verdicts",
    ),
}

__all__ = [
    "CONSISTENT",
    "JUDGE_TEMPLATES",
    "MTBENCH",
    "REFERENCE_CATEGORIES",
    "REPORT_FORMATS",
    "JudgeOptions",
    "JudgePrompt",
    "JudgeReport",
    "JudgeRun",
    "JudgeTemplate",
    "Judgment",
    "QuestionId",
    "RankAgreement",
    "Verdict",
    "battle_agreement",
    "battle_record",
    "check_contestants",
    "combine_verdicts",
    "judge_leaderboard",
    "judge_messages",
    "judge_report",
    "load_prompts",
    "pair_agreement",
    "parse_verdict",
    "rank_correlation",
    "read_prompt_file",
    "render_judge_report",
    "run_judge",
    "template_for",
]


def __getattr__(name: str) -> Any:
    """Import the module defining ``name`` on first use (see the module docstring)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'arena.judge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
