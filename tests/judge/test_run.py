"""Judge battles run on fake models: the battles as the ratings engine reads them, both
orders, failures counted, resume after a kill, the checks of the inputs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from arena.backends import ModelConfig
from arena.battles import read_battles
from arena.errors import UserError
from arena.judge import JudgeOptions, JudgePrompt, check_contestants, run_judge
from arena.leaderboard import compute_leaderboard
from tests.harness.test_runner import KillAfter

QUIET = JudgeOptions(progress=False, retries=1)


def contestants(models: dict[str, ModelConfig], *names: str) -> list[ModelConfig]:
    return [models[n] for n in names]


def without_time(battles: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in b.items() if k != "tstamp"} for b in battles]


def test_battles_file_is_read_by_the_ratings_engine_with_the_expected_winners(
    tmp_path: Path, models: dict[str, ModelConfig], prompts: list[JudgePrompt]
) -> None:
    out = tmp_path / "run"
    run = run_judge(
        models["judge"],
        contestants(models, "short", "long", "mid"),
        prompts,
        output=out,
        options=QUIET,
    )
    assert run.n_failed == 0 and len(run.judgments) == 3 * len(prompts)
    winners = {(b["model_a"], b["model_b"], b["question_id"]): b["winner"] for b in run.battles}
    for qid in (1, 2, "q3"):
        assert winners[("short", "long", qid)] == "model_b"
        assert winners[("short", "mid", qid)] == "model_b"
        assert winners[("long", "mid", qid)] == "model_a"
    for name in ("run.json", "cache.sqlite", "judge_battles.jsonl", "judgments.jsonl"):
        assert (out / name).is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["battles"] == 9 and summary["failed"] == 0 and summary["consistent"] == 9

    battles = read_battles(out / "judge_battles.jsonl")
    assert battles.n_battles == 9 and set(battles.models) == {"short", "long", "mid"}
    assert set(battles.meta["voter"]) == {"judge"}  # the judge column is read as the voter
    assert not battles.meta["anony"].any()
    assert "Write a haiku." in set(battles.meta["prompt"])
    lb = compute_leaderboard(battles, method="bt", ci="sandwich")
    assert list(lb.table["model"]) == ["long", "mid", "short"]
    lines = [json.loads(x) for x in (out / "judge_battles.jsonl").read_text().splitlines()]
    assert lines == list(run.battles)
    math_battle = next(b for b in lines if b["question_id"] == 2)
    assert math_battle["judge_prompt"] == "pair-math-v1" and math_battle["category"] == "math"


def test_second_turn_gives_turn_two_battles(
    tmp_path: Path, models: dict[str, ModelConfig], prompts: list[JudgePrompt]
) -> None:
    options = dataclasses.replace(QUIET, second_turn=True)
    run = run_judge(models["judge"], contestants(models, "short", "long"), prompts, options=options)
    turns = [(b["question_id"], b["turn"]) for b in run.battles]
    assert turns == [(1, 1), (1, 2), (2, 1), ("q3", 1)]
    second = run.battles[1]
    assert second["judge_prompt"] == "pair-v2-multi-turn" and second["winner"] == "model_b"
    assert [m["content"] for m in second["conversation_a"] if m["role"] == "user"] == [
        "Write a haiku.",
        "Now a limerick.",
    ]


def test_a_position_biased_judge_gives_ties(
    models: dict[str, ModelConfig], prompts: list[JudgePrompt]
) -> None:
    run = run_judge(
        models["first-judge"], contestants(models, "short", "long"), prompts, options=QUIET
    )
    assert [b["winner"] for b in run.battles] == ["tie"] * 3
    assert [(j.forward, j.backward) for j in run.judgments] == [("A", "A")] * 3
    assert run.summary()["consistent"] == 0


def test_outputs_without_a_verdict_are_failures_not_dropped(
    tmp_path: Path, models: dict[str, ModelConfig], prompts: list[JudgePrompt]
) -> None:
    out = tmp_path / "mute"
    run = run_judge(
        models["mute-judge"],
        contestants(models, "short", "long"),
        prompts,
        output=out,
        options=QUIET,
    )
    assert run.battles == () and run.n_failed == 3
    assert all(
        "no verdict" in (j.error or "") and "2 attempt(s)" in (j.error or "") for j in run.judgments
    )
    logged = [json.loads(x) for x in (out / "judgments.jsonl").read_text().splitlines()]
    assert len(logged) == 3 and all(x["output_forward"] and x["winner"] is None for x in logged)
    assert json.loads((out / "summary.json").read_text())["failures"] == {"no verdict": 3}
    assert "3 of 3 comparisons failed" in run.warnings[0]
    assert (out / "judge_battles.jsonl").read_text() == ""


def test_a_model_that_fails_to_answer_is_counted(
    models: dict[str, ModelConfig], prompts: list[JudgePrompt]
) -> None:
    run = run_judge(models["judge"], contestants(models, "long", "flaky"), prompts, options=QUIET)
    failed = [j for j in run.judgments if j.failed]
    assert 0 < len(failed) < len(run.judgments)
    assert len(run.battles) + len(failed) == len(run.judgments)
    assert all(j.error and j.error.startswith("flaky did not answer") for j in failed)
    # a failed second turn costs only the turn-2 battle
    two_turns = [JudgePrompt(i, (f"question {i}", f"follow-up {i}")) for i in range(8)]
    pair = contestants(models, "long", "flaky")
    first = run_judge(models["judge"], pair, two_turns, options=QUIET)
    both = run_judge(
        models["judge"], pair, two_turns, options=dataclasses.replace(QUIET, second_turn=True)
    )
    assert tuple(j for j in both.judgments if j.turn == 1) == first.judgments
    lost = [j for j in both.judgments if j.turn == 2 and j.failed]
    assert any(j.error and "did not answer turn 2" in j.error for j in lost)


def test_resume_after_a_kill_gives_the_same_battles(
    tmp_path: Path, models: dict[str, ModelConfig], prompts: list[JudgePrompt]
) -> None:
    judge, contest = models["judge"], contestants(models, "short", "long", "mid")
    whole = run_judge(judge, contest, prompts, output=tmp_path / "whole", options=QUIET)
    with pytest.raises(KeyboardInterrupt):
        run_judge(
            judge, contest, prompts, output=tmp_path / "cut", options=QUIET, factory=KillAfter(12)
        )
    with pytest.raises(UserError, match="--resume"):
        run_judge(judge, contest, prompts, output=tmp_path / "cut", options=QUIET)
    with pytest.raises(UserError, match="'options' differs"):
        run_judge(
            judge,
            contest,
            prompts,
            output=tmp_path / "cut",
            resume=True,
            options=dataclasses.replace(QUIET, max_new_tokens=5),
        )
    counter = KillAfter(10_000)
    resumed = run_judge(
        judge,
        contest,
        prompts,
        output=tmp_path / "cut",
        options=QUIET,
        resume=True,
        factory=counter,
    )
    assert without_time(resumed.battles) == without_time(whole.battles)
    # 9 answers + 18 judge calls in all; 12 were cached before the kill
    assert 10_000 - counter.left == 9 + 18 - 12
    assert read_battles(tmp_path / "cut" / "judge_battles.jsonl").n_battles == 9


def test_inputs_are_checked(
    tmp_path: Path, models: dict[str, ModelConfig], prompts: list[JudgePrompt]
) -> None:
    with pytest.raises(UserError, match="at least two models"):
        run_judge(models["judge"], contestants(models, "long"), prompts)
    with pytest.raises(UserError, match="named twice"):
        run_judge(models["judge"], contestants(models, "long", "long"), prompts)
    with pytest.raises(UserError, match=r"no run\.json"):
        run_judge(
            models["judge"],
            contestants(models, "long", "mid"),
            prompts,
            output=tmp_path,
            resume=True,
        )
    run = run_judge(
        models["judge"], contestants(models, "judge", "long"), prompts[:1], options=QUIET
    )
    assert "also a contestant" in run.warnings[0]


def test_the_battles_in_memory_are_the_battles_file(
    tmp_path: Path, models: dict[str, ModelConfig], prompts: list[JudgePrompt]
) -> None:
    out = tmp_path / "run"
    options = dataclasses.replace(QUIET, second_turn=True)
    run = run_judge(models["judge"], contestants(models, "short", "long", "mid"), prompts,
                    output=out, options=options)  # fmt: skip
    in_memory, from_file = run.to_battles(), read_battles(out / "judge_battles.jsonl", style=False)
    assert in_memory.n_battles == from_file.n_battles == 12
    assert in_memory.to_frame().equals(from_file.to_frame())
    assert list(in_memory.meta["voter"]) == list(from_file.meta["voter"]) == ["judge"] * 12
    assert list(in_memory.meta["prompt"]) == list(from_file.meta["prompt"])
    assert set(in_memory.meta["category"]) == {("writing",), ("math",), ()}
    assert list(in_memory.meta["category"]) == list(from_file.meta["category"])
    pd.testing.assert_frame_equal(in_memory.meta, from_file.meta)
    lb = compute_leaderboard(in_memory)
    assert list(lb.table["model"]) == ["long", "mid", "short"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"retries": -1}, "--retries: expected 0 or more, got -1"),
        ({"max_new_tokens": 0}, "--max-new-tokens: expected a positive integer, got 0"),
        ({"judge_max_new_tokens": -5}, "judge_max_new_tokens: expected a positive integer"),
        ({"concurrency": 0}, "--concurrency: expected a positive integer, got 0"),
        ({"max_new_tokens": True}, "--max-new-tokens: expected a positive integer, got True"),
        ({"retries": 1.5}, "--retries: expected 0 or more, got 1.5"),
    ],
)
def test_options_no_run_can_honour_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        JudgeOptions(**change)


def test_the_contestants_are_checked_once_for_run_and_command_line() -> None:
    assert check_contestants("big", ["a", "b"]) == ()
    (warning,) = check_contestants("a", ["a", "b"])
    assert "the judge 'a' is also a contestant" in warning
    with pytest.raises(UserError, match="at least two models"):
        check_contestants("big", ["a"])
    with pytest.raises(UserError, match="model 'b' is named twice"):
        check_contestants("big", ["a", "b", "c", "b"])


@pytest.mark.parametrize(
    "content",
    ["not json", "[]", '{"settings": {}}', '{"settings": [1], "started": 1.0}'],
)
def test_a_damaged_run_file_is_refused_on_resume(
    tmp_path: Path, models: dict[str, ModelConfig], prompts: list[JudgePrompt], content: str
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(content)
    with pytest.raises(UserError, match="not the settings of a judge run") as info:
        run_judge(models["judge"], contestants(models, "short", "long"), prompts,
                  output=out, options=QUIET, resume=True)  # fmt: skip
    assert "\n" not in str(info.value)
    assert (out / "run.json").read_text() == content  # left as it was
    assert not (out / "judge_battles.jsonl").exists()
