"""``arena eval`` and the sandbox: refused without bubblewrap, ``--unsandboxed-code``
recorded, and a run in which every sample failed exits non-zero."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.backends import ModelConfig, model_config
from arena.cli.main import main
from arena.harness import RunOptions, SandboxUnavailable, _sandbox, evaluate, load_suite


@pytest.fixture
def no_bubblewrap(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setattr(_sandbox, "BWRAP", "/nonexistent/bwrap")
    _sandbox.sandbox_status.cache_clear()
    yield None
    monkeypatch.undo()
    _sandbox.sandbox_status.cache_clear()


def _models(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(body)
    return path


FAKE = '[[models]]\nname = "f"\nbackend = "fake"\nanswers = ["return a + b"]\n'


def _code_suite(tmp_path: Path) -> str:
    """The smoke suite's three code problems, the (unindented) answer put in the body."""
    data = Path(load_suite("smoke").path).parent / "data" / "smoke" / "code.jsonl"
    suite = tmp_path / "code.toml"
    suite.write_text(f"""
[suite]
name = "code"
[[tasks]]
name = "code"
kind = "code"
dataset = {{ path = "{data}" }}
prompt = "{{prompt}}"
[tasks.code]
program = "{{prompt}}    {{completion}}\\n{{test}}\\ncheck({{entry_point}})\\n"
timeout = 5.0
""")
    return str(suite)


def test_code_tasks_are_refused_without_bubblewrap_before_any_model_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_bubblewrap: object
) -> None:
    out = tmp_path / "run"
    argv = ["eval", "--suite", _code_suite(tmp_path), "--no-store", "--no-progress"]
    rc = main([*argv, "--models", str(_models(tmp_path, FAKE)), "--model", "f", "-o", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "Debian package 'bubblewrap'" in err and "--unsandboxed-code" in err
    assert not out.exists()  # refused before the run started

    def factory(config: ModelConfig) -> object:
        raise AssertionError("a model was created")

    with pytest.raises(SandboxUnavailable):
        evaluate(
            load_suite("smoke"),
            [model_config("f", "fake")],
            options=RunOptions(progress=False, tasks=("smoke_code",)),
            factory=factory,  # type: ignore[arg-type]
        )


def test_tasks_without_code_run_without_bubblewrap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_bubblewrap: object
) -> None:
    argv = ["eval", "--suite", "smoke", "--task", "smoke_mc", "--no-store", "--no-progress"]
    rc = main([*argv, "--models", str(_models(tmp_path, FAKE)), "--model", "f"])
    assert rc == 0, capsys.readouterr().err


def test_unsandboxed_code_is_explicit_warned_and_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_bubblewrap: object
) -> None:
    out = tmp_path / "run"
    argv = ["eval", "--suite", _code_suite(tmp_path), "--no-store", "--no-progress"]
    argv += ["--models", str(_models(tmp_path, FAKE)), "--model", "f", "-o", str(out)]
    rc = main([*argv, "--unsandboxed-code"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "--unsandboxed-code: model-written code runs without a sandbox" in err
    tasks = json.loads((out / "results.json").read_text())["provenance"]["tasks"]
    sandbox = tasks["code"]["sandbox"]
    assert sandbox["tool"] == "none" and sandbox["unsandboxed"] is True
    assert sandbox["limits"]["timeout"] == 5.0
    lines = (out / "samples" / "f" / "code.jsonl").read_text().splitlines()
    log = [json.loads(x) for x in lines]
    assert log and all(x["sandbox"]["tool"] == "none" for x in log)
    assert log[0]["results"][0]["status"] == "passed"  # add(): the fake answer is right


def test_a_run_in_which_every_sample_failed_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    down = '[[models]]\nname = "down"\nbackend = "fake"\nfail_rate = 1.0\nfail_with = "error"\n'
    models = _models(tmp_path, down)
    out = tmp_path / "run"
    argv = ["eval", "--suite", "smoke", "--task", "smoke_gen", "--no-store", "--no-progress"]
    argv += ["--models", str(models), "--model", "down", "-o", str(out), "--retries", "0"]
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2
    line = next(x for x in err.splitlines() if x.startswith("arena: error:"))
    assert "every sample failed (5 of 5)" in line and "fake error" in line
    assert (out / "results.json").exists()  # kept for inspection


def test_pass_at_k_intervals_stay_in_the_unit_interval(tmp_path: Path) -> None:
    # one of three solved: the normal interval would start below 0
    model = model_config("adder", "fake", answers=["return a + b"])
    res = evaluate(load_suite(_code_suite(tmp_path)), [model], options=RunOptions(progress=False))
    assert res.score("adder", "code") == pytest.approx(1 / 3)
    for r in res.results:
        for name, m in r.metrics.items():
            if name.startswith("pass@"):
                assert 0.0 <= m.ci_lower <= m.value <= m.ci_upper <= 1.0


def test_clipping_keeps_an_undefined_interval_undefined() -> None:
    import math

    from arena.harness import clip_unit, mean_metric

    one = clip_unit(mean_metric([1.0]))
    assert one.value == 1.0 and math.isnan(one.ci_lower) and math.isnan(one.ci_upper)
    high = clip_unit(mean_metric([1.0, 1.0, 1.0, 1.0, 0.0]))
    assert high.ci_upper == 1.0 and 0.0 < high.ci_lower < high.value
