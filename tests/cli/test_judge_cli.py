"""``arena judge`` (and its other name ``arena eval judge``) run for real on fake models and a
tiny transformers model: the report, the stored battles, resume, and one clear line for
every bad input, with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.battles import from_frame, read_battles
from arena.cli.main import main
from arena.leaderboard import compute_leaderboard
from arena.store import judge_battles_frame, list_judges, make_engine, make_sessionmaker
from tests.judge._data import MODELS, write_prompts


@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_prompts(tmp_path_factory.mktemp("prompts") / "prompts.jsonl")


def arena(argv: list[str]) -> int:
    return main(argv)


def test_cli_runs_judge_battles_and_compares_with_humans(
    tmp_path: Path,
    prompts_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    models_file = tmp_path / "models.toml"
    models_file.write_text(MODELS)
    human = tmp_path / "votes.csv"
    human.write_text("model_a,model_b,winner\nlong,short,model_a\nshort,mid,model_a\n")
    base = [
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
        "judge": ([*base[:4], "ghost", *base[5:], "--model", "a"], "at least two models"),
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
    mute = [*base[:4], "mute-judge", *base[5:], "--model", "long", "--model", "mid"]
    assert arena([*mute, "-o", str(tmp_path / "mute")]) == 2
    assert "all 3 comparisons failed" in capsys.readouterr().err


def test_cli_stores_judge_battles_and_a_resume_replaces_them(
    tmp_path: Path, prompts_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models_file = tmp_path / "models.toml"
    models_file.write_text(MODELS)
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    out = tmp_path / "run"
    argv = [
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


def _base(models_file: Path, prompts_file: Path, *extra: str) -> list[str]:
    return [
        "--models",
        str(models_file),
        "--prompts",
        str(prompts_file),
        "--no-progress",
        "--no-store",
        *extra,
    ]


@pytest.fixture
def models_file(tmp_path: Path) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(MODELS)
    return path


def test_eval_judge_is_the_same_command(
    tmp_path: Path, models_file: Path, prompts_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _base(models_file, prompts_file, "--judge", "judge", "--model", "short")
    args += ["--model", "long", "--model", "mid", "--format", "json"]
    assert arena(["judge", *args, "-o", str(tmp_path / "new")]) == 0
    new = capsys.readouterr()
    assert arena(["eval", "judge", *args, "-o", str(tmp_path / "old")]) == 0
    old = capsys.readouterr()
    assert json.loads(new.out) == json.loads(old.out)
    assert json.loads(new.out)["summary"]["battles"] == 9
    assert "9 judge battles in" in old.err
    assert (tmp_path / "old" / "judge_battles.jsonl").read_text().count("\n") == 9


def test_help_names_both_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        arena(["judge", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: arena judge") and "--human FILE" in text
    assert "'arena eval judge' is" in text and "prompt files (JSON Lines" in text
    with pytest.raises(SystemExit):
        arena(["eval", "judge", "--help"])
    alias = capsys.readouterr().out
    assert alias.startswith("usage: arena eval judge") and "--second-turn" in alias
    with pytest.raises(SystemExit):
        arena(["eval", "--help"])
    assert "another name of 'arena judge'" in " ".join(capsys.readouterr().out.split())


def test_the_judge_as_a_contestant_is_said_once_before_the_run(
    tmp_path: Path, models_file: Path, prompts_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _base(models_file, prompts_file, "--judge", "judge", "--model", "judge")
    assert arena(["judge", *args, "--model", "long", "-o", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert err.count("also a contestant") == 1
    assert err.index("also a contestant") < err.index("judge battles in")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--retries", "-1"], "--retries: expected 0 or more, got -1"),
        (["--max-new-tokens", "0"], "--max-new-tokens: expected a positive integer, got 0"),
        (["--concurrency", "0"], "--concurrency: expected a positive integer, got 0"),
        (["--limit", "-3"], "--limit: expected a positive integer, got -3"),
        (["--model", "long"], "model 'long' is named twice"),
        (["--prompts", "BAD_PROMPTS"], "line 2: not valid JSON"),
        (["--prompts", "MISSING"], "prompt file not found"),
        (["--human", "BAD_HUMAN"], "BAD_HUMAN"),
        (["--human", "MISSING"], "MISSING"),
        (["--models", "BAD_MODELS"], "BAD_MODELS"),
    ],
)
def test_a_bad_input_is_one_line_and_nothing_is_written(
    tmp_path: Path,
    models_file: Path,
    prompts_file: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    files = {
        "BAD_PROMPTS": '{"turns": ["a"]}\n{"turns": ["b"],\n',
        "BAD_HUMAN": "model_a,model_b,winner\nlong,short,sideways\n",
        "BAD_MODELS": '[[models]]\nname = "x"\nbackend = "no-such-backend"\n',
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    extra = [str(tmp_path / e) if e in (*files, "MISSING") else e for e in extra]
    message = message.replace("BAD_HUMAN", str(tmp_path / "BAD_HUMAN"))
    message = message.replace("BAD_MODELS", str(tmp_path / "BAD_MODELS"))
    message = message.replace("MISSING", str(tmp_path / "MISSING"))
    out = tmp_path / "run"
    args = _base(models_file, prompts_file, "--judge", "judge", "--model", "long")
    assert arena(["judge", *args, "--model", "mid", *extra, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("arena: error: ") and err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()  # checked before the first request: no run directory


def test_a_tiny_transformers_contestant_is_judged(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    prompts_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.backends.tiny_models import build_tiny_model

    directory = build_tiny_model(tmp_path_factory.mktemp("tiny") / "base", chat=True, seed=3)
    models_file = tmp_path / "models.toml"
    models_file.write_text(
        MODELS + f'\n[[models]]\nname = "tiny"\nbackend = "transformers"\npath = "{directory}"\n'
        'device = "cpu"\ndtype = "float32"\n'
    )
    out = tmp_path / "run"
    args = _base(models_file, prompts_file, "--judge", "judge", "--model", "tiny")
    argv = ["judge", *args, "--model", "long", "--max-new-tokens", "6", "-o", str(out)]
    assert arena([*argv, "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("model,judge_rating")
    assert {line.split(",")[0] for line in captured.out.splitlines()[1:]} == {"tiny", "long"}
    assert "3 judge battles in" in captured.err and "0 of 3 comparisons failed" in captured.err
    battles = [json.loads(x) for x in (out / "judge_battles.jsonl").read_text().splitlines()]
    answers = {b["conversation_a"][1]["content"] for b in battles}
    assert len(battles) == 3 and all(a.strip() for a in answers)  # the tiny model answered
    # the "longer" judge: the long fixed answer beats six tokens of the tiny model
    assert {b["winner"] for b in battles} == {"model_b"}
    assert read_battles(out / "judge_battles.jsonl").n_battles == 3
    # resumed, every answer and verdict comes from the cache: the same battles
    assert arena([*argv, "--resume", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["outcomes"] == {"model_b": 3}


def test_the_command_s_help_imports_nothing_it_does_not_show() -> None:
    from tests.cli.test_imports import HEAVY, _run

    status, modules = _run("judge", "--help")
    assert status == 0
    assert not (HEAVY | {"pandas", "numpy", "scipy"}) & modules, sorted(HEAVY & modules)
