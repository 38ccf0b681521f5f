"""The judge's leaderboard beside the humans', their agreement, the renderings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arena.backends import ModelConfig
from arena.battles import read_battles
from arena.judge import JudgeOptions, JudgePrompt, judge_report, render_judge_report, run_judge

QUIET = JudgeOptions(progress=False, retries=1)


def contestants(models: dict[str, ModelConfig], *names: str) -> list[ModelConfig]:
    return [models[n] for n in names]


def test_report_beside_the_human_leaderboard(
    tmp_path: Path, models: dict[str, ModelConfig], prompts: list[JudgePrompt]
) -> None:
    run = run_judge(
        models["judge"],
        contestants(models, "short", "long", "mid"),
        prompts,
        output=tmp_path / "run",
        options=QUIET,
    )
    first = prompts[0].turns[0]

    def vote(a: str, b: str, winner: str, prompt: str | None = None) -> dict[str, Any]:
        row: dict[str, Any] = {"model_a": a, "model_b": b, "winner": winner}
        if prompt is not None:
            row["conversation_a"] = [{"role": "user", "content": prompt}]
            row["conversation_b"] = [{"role": "user", "content": prompt}]
        return row

    human_rows = [
        vote("long", "short", "model_a", first),  # agrees with the judge
        vote("mid", "long", "model_a", first),  # disagrees: humans prefer mid
        vote("mid", "long", "model_a"),
        vote("short", "mid", "model_b"),
        vote("other", "short", "model_a"),
    ]
    human_file = tmp_path / "human.jsonl"
    human_file.write_text("".join(json.dumps(r) + "\n" for r in human_rows))
    report = judge_report(
        read_battles(tmp_path / "run" / "judge_battles.jsonl"),
        read_battles(human_file, style=False),
        judge_frame=run.frame_for_agreement(),
        summary=run.summary(),
    )
    assert list(report.table["model"]) == ["long", "mid", "short"]
    assert report.table["judge_rank"].tolist() == [1, 2, 3]
    assert report.table["human_rank"].tolist() == [2, 1, 3]  # among the judged models
    assert report.spearman == pytest.approx(0.5)
    assert report.pair_agreement == pytest.approx(2 / 3) and len(report.pairs) == 3
    assert report.n_battle_matches == 2 and report.battle_agreement == pytest.approx(0.5)
    text = render_judge_report(report, "md")
    assert "Agreement on model pairs (majority winner, ties included): 2/3 = 66.7 %" in text
    assert "Agreement per battle (human votes on a judged prompt): 1/2 = 50.0 %" in text
    assert "| long vs mid | long (3) | mid (2) | no |" in text
    data = json.loads(render_judge_report(report, "json"))
    assert data["n_pairs"] == 3 and data["table"][0]["human_rank"] == 2
    assert render_judge_report(report, "csv").startswith("model,judge_rating")
    alone = judge_report(read_battles(tmp_path / "run" / "judge_battles.jsonl"))
    assert not alone.has_human and "human" not in render_judge_report(alone, "md")
