"""Judge battles on fake models: verdict parsing, both orders, the battles file as the ratings
engine reads it, failures counted, resume after a kill, agreement with humans, the CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from arena.backends import ModelConfig, create_backend, load_models
from arena.battles import read_battles
from arena.errors import UserError
from arena.harness import (
    JudgeOptions,
    JudgePrompt,
    Judgment,
    combine_verdicts,
    judge_report,
    load_prompts,
    parse_verdict,
    read_prompt_file,
    render_judge_report,
    run_judge,
)
from arena.harness._data import DataError
from arena.harness.judge import (
    battle_agreement,
    battle_record,
    judge_messages,
    pair_agreement,
    template_for,
)
from arena.leaderboard import compute_leaderboard

from .test_runner import KillAfter

QUIET = JudgeOptions(progress=False, retries=1)

# Contestants answer every prompt with one fixed text: their lengths decide a "longer" judge.
MODELS = """
[[models]]
name = "short"
backend = "fake"
answers = ["Short."]

[[models]]
name = "long"
backend = "fake"
answers = ["A long, detailed and careful answer with many more words than the others."]

[[models]]
name = "mid"
backend = "fake"
answers = ["A medium answer of six words."]

[[models]]
name = "judge"
backend = "fake"
judge = "longer"

[[models]]
name = "first-judge"
backend = "fake"
answers = ["Assistant A is clearly better. [[A]]"]

[[models]]
name = "mute-judge"
backend = "fake"
answers = ["Both answers have merits; I cannot decide."]

[[models]]
name = "flaky"
backend = "fake"
fail_rate = 0.5
fail_with = "error"
"""

PROMPTS = [
    {"question_id": 1, "category": "writing", "turns": ["Write a haiku.", "Now a limerick."]},
    {"question_id": 2, "category": "math", "turns": ["What is 2 + 2?"], "reference": ["4"]},
    {"id": "q3", "prompt": "Name a river."},
]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelConfig]:
    path = tmp_path_factory.mktemp("judge") / "models.toml"
    path.write_text(MODELS)
    return {m.name: m for m in load_models(path)}


@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("prompts") / "prompts.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    return path


@pytest.fixture(scope="module")
def prompts(prompts_file: Path) -> list[JudgePrompt]:
    return read_prompt_file(prompts_file)


def contestants(models: dict[str, ModelConfig], *names: str) -> list[ModelConfig]:
    return [models[n] for n in names]


def without_time(battles: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in b.items() if k != "tstamp"} for b in battles]


# -- pure parts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("Assistant A is better. [[A]]", "A"),
        ("[[B]]", "B"),
        ("It is a tie: [[C]]", "tie"),
        ("final verdict: [[ b ]]", "B"),
        ("**[[A]]**", "A"),
        ('[["B"]]', "B"),
        ("[[Tie]]", "tie"),
        # the explanation quotes the format; the final verdict is the last marker
        ('I must output "[[A]]" if A is better. Here B is better.\n\n[[B]]', "B"),
        ("A is better.", None),
        ("[A]", None),
        ("[[D]]", None),
        ("", None),
    ],
)
def test_parse_verdict(text: str, verdict: str | None) -> None:
    assert parse_verdict(text) == verdict


def test_both_orders_combine_into_one_winner() -> None:
    # forward: model_a shown as Assistant A; backward: the answers swapped
    assert combine_verdicts("A", "B") == "model_a"
    assert combine_verdicts("B", "A") == "model_b"
    for forward, backward in [("A", "A"), ("B", "B"), ("tie", "tie"), ("A", "tie"), ("tie", "A")]:
        assert combine_verdicts(forward, backward) == "tie"  # type: ignore[arg-type]


def test_judge_prompts_follow_mt_bench(prompts: list[JudgePrompt]) -> None:
    haiku, math_q, river = prompts
    assert [p.id for p in prompts] == [1, 2, "q3"]
    assert template_for(haiku, 1).name == "pair-v2"
    assert template_for(haiku, 2).name == "pair-v2-multi-turn"
    assert template_for(math_q, 1).name == "pair-math-v1"
    with pytest.raises(ValueError, match="no turn 2"):
        template_for(river, 2)
    (system, sys_text), (user, text) = judge_messages(haiku, 1, ["first"], ["second"])
    assert (system, user) == ("system", "user") and '"[[C]]" for a tie' in sys_text
    assert text.index("first") < text.index("second")
    assert "Write a haiku." in text and "Assistant A's Answer]\nfirst\n" in text
    swapped = judge_messages(haiku, 1, ["second"], ["first"])[1][1]
    assert swapped.index("second") < swapped.index("first")
    assert "[The Start of Reference Answer]\n4\n" in judge_messages(math_q, 1, ["x"], ["y"])[1][1]
    two = judge_messages(haiku, 2, ["a1", "a2"], ["b1", "b2"])[1][1]
    assert "Now a limerick." in two and "### Assistant B:\nb2" in two


def test_battle_record_is_fastchat() -> None:
    prompt = JudgePrompt(7, ("Hi?",), "writing")
    j = Judgment(7, 1, "x", "y", "B", "A", combine_verdicts("B", "A"))
    record = battle_record(j, prompt, ["ax"], ["ay"], judge="j", tstamp=1.5)
    assert record["winner"] == "model_b" and record["anony"] is False and record["judge"] == "j"
    assert (record["g1_winner"], record["g2_winner"]) == ("model_b", "model_b")
    assert record["conversation_a"] == [
        {"role": "user", "content": "Hi?"},
        {"role": "assistant", "content": "ax"},
    ]
    with pytest.raises(ValueError, match="failed"):
        battle_record(Judgment(7, 1, "x", "y", error="no"), prompt, [], [], judge="j", tstamp=0)


# -- runs on fake models --------------------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"turns": ["a"]}\nnot json\n', "line 2: not valid JSON"),
        ("[1, 2]\n", "line 1: expected a JSON object"),
        ('{"question": "a"}\n', "line 1: expected a field 'turns'"),
        ('{"turns": []}\n', "line 1, field 'turns': expected a non-empty string"),
        ('{"turns": ["a", 3]}\n', "line 1, field 'turns'"),
        ('{"id": 1, "prompt": "a"}\n\n{"id": 1, "prompt": "b"}\n', "line 3, field 'id': duplicate"),
        ('{"id": true, "prompt": "a"}\n', "line 1, field 'id': expected an integer"),
        ('{"prompt": "a", "category": 3}\n', "line 1, field 'category'"),
        ('{"prompt": "a", "reference": [1]}\n', "line 1, field 'reference'"),
        ("\n", "no prompts"),
    ],
)
def test_bad_prompt_files_name_file_line_and_field(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        read_prompt_file(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_mt_bench_questions_with_their_references() -> None:
    prompts = load_prompts("mtbench")
    assert len(prompts) == 80 and all(len(p.turns) == 2 for p in prompts)
    by_category: dict[str | None, list[JudgePrompt]] = {}
    for p in prompts:
        by_category.setdefault(p.category, []).append(p)
    assert all(
        len(p.reference) == 2 for c in ("math", "reasoning", "coding") for p in by_category[c]
    )
    assert all(not p.reference for p in by_category["writing"] + by_category["stem"])
    assert [p.id for p in load_prompts("mtbench", limit=3)] == [81, 82, 83]
    with pytest.raises(UserError, match="--limit"):
        load_prompts("mtbench", limit=0)


# -- judge and humans -----------------------------------------------------------------------------


def battles_frame(rows: list[tuple[str, str, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["model_a", "model_b", "winner", "prompt"])


def test_agreement_on_a_handmade_human_file() -> None:
    judge = battles_frame(
        [
            ("a", "b", "model_a", "p1"),
            ("a", "b", "model_a", "p2"),
            ("b", "a", "tie", "p3"),
            ("a", "c", "model_b", "p1"),
            ("b", "c", "tie", "p1"),
        ]
    )
    human = battles_frame(
        [
            ("b", "a", "model_b", "p1"),  # a beats b on p1: the judge agrees
            ("a", "b", "model_b", " p2 "),  # b beats a on p2 (spaces do not matter): disagrees
            ("a", "b", "model_a", None),  # no prompt: counts for the pair only
            ("c", "a", "model_a", "p1"),  # c beats a on p1: agrees
            ("b", "c", "tie (bothbad)", "p1"),  # a tie is a tie: agrees
            ("c", "d", "model_a", "p1"),  # the judge never saw d
        ]
    )
    pairs = pair_agreement(judge, human)
    assert pairs[
        ["model_x", "model_y", "judge_winner", "human_winner", "agree"]
    ].values.tolist() == [
        ["a", "b", "a", "a", True],
        ["a", "c", "c", "c", True],
        ["b", "c", "tie", "tie", True],
    ]
    assert pairs["human_battles"].tolist() == [3, 1, 1]
    assert battle_agreement(judge, human) == (3, 4)
    assert battle_agreement(judge.drop(columns="prompt"), human) == (0, 0)
    human.loc[2, "winner"] = "model_b"
    human.loc[5, "winner"] = "model_b"
    assert pair_agreement(judge, human)["human_winner"].tolist() == ["b", "c", "tie"]


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


# -- the command line -----------------------------------------------------------------------------


def arena(argv: list[str]) -> int:
    from arena.cli.main import main

    return main(argv)


def test_cli_runs_judge_battles_and_compares_with_humans(
    tmp_path: Path,
    models: dict[str, ModelConfig],
    prompts_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    models_file = tmp_path / "models.toml"
    models_file.write_text(MODELS)
    human = tmp_path / "votes.csv"
    human.write_text("model_a,model_b,winner\nlong,short,model_a\nshort,mid,model_a\n")
    base = [
        "eval",
        "judge",
        "--models",
        str(models_file),
        "--judge",
        "judge",
        "--prompts",
        str(prompts_file),
        "--no-progress",
        "--no-store",
    ]
    out = tmp_path / "run"
    argv = [*base, "--model", "short", "--model", "long", "--model", "mid", "-o", str(out)]
    assert arena([*argv, "--human", str(human)]) == 0
    captured = capsys.readouterr()
    assert "| long |" in captured.out and "Agreement on model pairs" in captured.out
    assert "9 judge battles in" in captured.err
    assert arena(["leaderboard", str(out / "judge_battles.jsonl"), "--format", "csv"]) == 0
    assert capsys.readouterr().out.count("\n") >= 4
    assert arena([*argv, "--resume", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["battles"] == 9

    errors = {
        "--model": ([*base, "--model", "long", "--model", "nobody"], "model 'nobody' is not in"),
        "judge": ([*base[:5], "ghost", *base[6:], "--model", "a"], "at least two models"),
        "one": ([*base, "--model", "long"], "at least two models"),
        "limit": ([*base, "--model", "long", "--model", "mid", "--limit", "0"], "--limit"),
        "resume": ([*base, "--model", "long", "--model", "mid", "--resume"], "--resume needs"),
    }
    for argv_, message in errors.values():
        assert arena(argv_) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert arena([*base, "--judge", "ghost", "--model", "long", "--model", "mid"]) == 2
    assert "judge 'ghost' is not in the models file" in capsys.readouterr().err
    mute = [*base[:5], "mute-judge", *base[6:], "--model", "long", "--model", "mid"]
    assert arena([*mute, "-o", str(tmp_path / "mute")]) == 2
    assert "all 3 comparisons failed" in capsys.readouterr().err


def test_cli_stores_judge_battles_and_a_resume_replaces_them(
    tmp_path: Path, prompts_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from arena.battles import from_frame
    from arena.store import make_engine, make_sessionmaker
    from arena.store.judge import judge_battles_frame, list_judges

    models_file = tmp_path / "models.toml"
    models_file.write_text(MODELS)
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    out = tmp_path / "run"
    argv = [
        "eval",
        "judge",
        "--models",
        str(models_file),
        "--judge",
        "judge",
        "--prompts",
        str(prompts_file),
        "--no-progress",
        "--database",
        url,
        "--model",
        "short",
        "--model",
        "long",
        "-o",
        str(out),
    ]
    assert arena(argv) == 0  # a fresh database: migrated before the run
    assert "stored 3 judge battles of 'judge'" in capsys.readouterr().err
    assert arena([*argv, "--resume"]) == 0
    capsys.readouterr()
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            assert list_judges(session) == ["judge"]
            frame = judge_battles_frame(session, "judge")
    finally:
        engine.dispose()
    assert len(frame) == 3  # replaced, not duplicated
    assert set(frame["winner"]) == {"model_b"}  # "long" is model_b and always longer
    battles = from_frame(frame, style=False)
    assert set(compute_leaderboard(battles).table["model"]) == {"short", "long"}


def test_fake_judge_option(models: dict[str, ModelConfig]) -> None:
    from arena.backends import Message, SamplingParams

    judge = create_backend(models["judge"])
    ask = judge_messages(JudgePrompt(1, ("q",)), 1, ["one two three"], ["one"])
    text = "".join(judge.generate([Message(r, t) for r, t in ask], SamplingParams()))  # type: ignore[arg-type]
    assert parse_verdict(text) == "A"
    assert parse_verdict("".join(judge.generate([Message("user", "hi")], SamplingParams()))) is None
