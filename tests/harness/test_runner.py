"""Runs on the fake backend and on a tiny random transformers model: every task kind,
the cache and --resume after a kill, failed requests, exports and the CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from arena.backends import BackendUnavailable, ModelConfig, create_backend, model_config
from arena.errors import UserError
from arena.harness import RunOptions, evaluate, load_suite, read_results, render_results

QUIET = RunOptions(progress=False, bootstrap_rounds=50)


def metrics_of(res: Any) -> dict[tuple[str, str, str], float]:
    return {(r.model, r.task, k): v.value for r in res.results for k, v in r.metrics.items()}


def test_smoke_suite_on_fake_models(tmp_path: Path, fake_models: list[ModelConfig]) -> None:
    res = evaluate(load_suite("smoke"), fake_models, output=tmp_path / "run", options=QUIET)
    assert res.models == ["fake-a", "fake-b"]
    assert {r.task for r in res.results} == {"smoke_mc", "smoke_gen", "smoke_code", "smoke_ppl"}
    assert all(r.n_failed == 0 for r in res.results)
    m = metrics_of(res)
    assert 0 <= m[("fake-a", "smoke_mc", "acc")] <= 1
    assert m[("fake-a", "smoke_ppl", "word_perplexity")] > 1
    assert 0 <= m[("fake-b", "smoke_code", "pass@1")] <= 1
    out = tmp_path / "run"
    for name in ("run.json", "cache.sqlite", "results.json", "results.csv", "results.md"):
        assert (out / name).is_file()
    log = [
        json.loads(x)
        for x in (out / "samples" / "fake-a" / "smoke_mc.jsonl").read_text().splitlines()
    ]
    assert len(log) == 6 and {"prompt", "target", "loglikelihoods", "acc", "acc_norm"} <= set(
        log[0]
    )
    again = read_results(out / "results.json")
    assert metrics_of(again) == pytest.approx(metrics_of(res), nan_ok=True)
    prov = again.provenance
    assert prov["suite_sha256"] == load_suite("smoke").sha256
    assert prov["packages"]["python"] and "fake-a" in prov["models"]
    assert prov["tasks"]["smoke_gen"]["sampling"]["stop"] == ["\n", "Question:"]
    for fmt in ("csv", "json", "md", "latex"):
        assert "fake-b" in render_results(res, fmt)


def test_code_task_runs_tests_in_the_sandbox(tmp_path: Path) -> None:
    smoke = Path(load_suite("smoke").path).parent / "data" / "smoke" / "code.jsonl"
    suite = tmp_path / "code.toml"
    suite.write_text(f"""
[suite]
name = "code"
[[tasks]]
name = "code"
kind = "code"
dataset = {{ path = "{smoke}" }}
prompt = "{{prompt}}"
[tasks.code]
program = "{{prompt}}    {{completion}}\\n{{test}}\\ncheck({{entry_point}})\\n"
timeout = 5.0
""")
    model = model_config("adder", "fake", answers=["return a + b"])
    res = evaluate(load_suite(suite), [model], output=tmp_path / "r", options=QUIET)
    assert res.score("adder", "code") == pytest.approx(1 / 3)  # passes add() only
    log = [
        json.loads(x)
        for x in (tmp_path / "r" / "samples" / "adder" / "code.jsonl").read_text().splitlines()
    ]
    assert [x["results"][0]["status"] for x in log] == ["passed", "failed", "failed"]
    # pass@1 = 1/3 over 3 problems: the normal interval would start below 0
    m = res.results[0].metrics["pass@1"]
    assert m.ci_lower == 0.0 and 0.0 <= m.ci_upper <= 1.0
    # the sandbox and its limits are recorded in the results and in every sample's log
    sandbox = read_results(tmp_path / "r" / "results.json").provenance["tasks"]["code"]["sandbox"]
    assert sandbox["tool"] == "bubblewrap" and sandbox["unsandboxed"] is False
    assert sandbox["limits"]["timeout"] == 5.0 and sandbox["limits"]["processes"] == 1
    assert all(x["sandbox"]["tool"] == "bubblewrap" for x in log)
    assert log[0]["sandbox"]["limits"]["memory_mb"] == 1024


class KillAfter:
    """A backend factory whose models raise KeyboardInterrupt after ``n`` calls in all."""

    def __init__(self, n: int):
        self.left = n

    def __call__(self, config: ModelConfig) -> Any:
        backend = create_backend(config)
        outer = self

        class Wrapped:
            def __getattr__(self, name: str) -> Any:
                attr = getattr(backend, name)
                if name in ("loglikelihood", "complete", "generate"):

                    def call(*a: Any, **k: Any) -> Any:
                        outer.left -= 1
                        if outer.left < 0:
                            raise KeyboardInterrupt
                        return attr(*a, **k)

                    return call
                return attr

        return Wrapped()


def test_resume_after_kill_gives_the_same_numbers(
    tmp_path: Path, fake_models: list[ModelConfig]
) -> None:
    opts = dataclasses.replace(QUIET, batch_size=1)
    suite = load_suite("smoke")
    whole = evaluate(suite, fake_models, output=tmp_path / "whole", options=opts)
    with pytest.raises(KeyboardInterrupt):
        evaluate(suite, fake_models, output=tmp_path / "cut", options=opts, factory=KillAfter(9))
    with pytest.raises(UserError, match="--resume"):
        evaluate(suite, fake_models, output=tmp_path / "cut", options=opts)
    counter = KillAfter(10_000)
    resumed = evaluate(
        suite, fake_models, output=tmp_path / "cut", options=opts, resume=True, factory=counter
    )
    assert metrics_of(resumed) == pytest.approx(metrics_of(whole))
    assert 10_000 - counter.left < 40  # only what was not cached was asked again
    # a finished run resumes without asking anything
    counter = KillAfter(0)
    evaluate(
        suite, fake_models, output=tmp_path / "cut", options=opts, resume=True, factory=counter
    )
    with pytest.raises(UserError, match="'options' differs"):
        evaluate(
            suite,
            fake_models,
            output=tmp_path / "cut",
            options=dataclasses.replace(opts, limit=2),
            resume=True,
        )


def test_failed_requests_are_recorded_not_dropped(tmp_path: Path) -> None:
    flaky = model_config("flaky", "fake", fail_rate=0.5, fail_with="unavailable")
    res = evaluate(
        load_suite("smoke"),
        [flaky],
        output=tmp_path / "r",
        options=dataclasses.replace(QUIET, retries=1, tasks=("smoke_gen",)),
    )
    (r,) = res.results
    assert 0 < r.n_failed < r.n_samples
    log = [
        json.loads(x)
        for x in (tmp_path / "r" / "samples" / "flaky" / "smoke_gen.jsonl").read_text().splitlines()
    ]
    assert len(log) == r.n_samples
    assert sum("error" in x for x in log) == r.n_failed
    assert all("fake outage" in x["error"] for x in log if "error" in x)
    assert r.metrics["number_match"].n == r.n_samples - r.n_failed


def test_backend_unavailable_is_retried(fake_models: list[ModelConfig]) -> None:
    calls = {"n": 0}

    def factory(config: ModelConfig) -> Any:
        backend = create_backend(config)

        class Flaky:
            def __getattr__(self, name: str) -> Any:
                return getattr(backend, name)

            def loglikelihood(self, reqs: Any) -> Any:
                calls["n"] += 1
                if calls["n"] == 1:
                    raise BackendUnavailable(config.name, "loglikelihood", "try again")
                return backend.loglikelihood(reqs)

        return Flaky()

    res = evaluate(
        load_suite("smoke"),
        fake_models[:1],
        options=dataclasses.replace(QUIET, tasks=("smoke_mc",)),
        factory=factory,
    )
    assert res.results[0].n_failed == 0 and calls["n"] >= 2


def test_limit_and_task_selection(fake_models: list[ModelConfig]) -> None:
    res = evaluate(
        load_suite("smoke"),
        fake_models[:1],
        options=dataclasses.replace(QUIET, limit=2, tasks=("smoke_mc",)),
    )
    assert [(r.task, r.n_samples) for r in res.results] == [("smoke_mc", 2)]
    with pytest.raises(UserError, match="no task 'nope'"):
        evaluate(
            load_suite("smoke"),
            fake_models[:1],
            options=dataclasses.replace(QUIET, tasks=("nope",)),
        )


def test_smoke_suite_on_tiny_transformers_model(
    tmp_path: Path, tiny_model_config: ModelConfig
) -> None:
    res = evaluate(load_suite("smoke"), [tiny_model_config], output=tmp_path / "t", options=QUIET)
    m = metrics_of(res)
    assert all(r.n_failed == 0 for r in res.results)
    assert 0 <= m[("tiny", "smoke_mc", "acc")] <= 1
    assert m[("tiny", "smoke_ppl", "word_perplexity")] > 1
    # the run's log-likelihoods equal the backend's own, one request at a time
    log = [
        json.loads(x)
        for x in (tmp_path / "t" / "samples" / "tiny" / "smoke_mc.jsonl").read_text().splitlines()
    ]
    backend = create_backend(tiny_model_config)
    for rec in log[:3]:
        ref = backend.loglikelihood([(rec["prompt"], " " + c) for c in rec["choices"]])
        assert rec["loglikelihoods"] == pytest.approx([r.logprob for r in ref], abs=1e-4)
    # batched greedy generation equals the backend's streamed answers
    gen = [
        json.loads(x)
        for x in (tmp_path / "t" / "samples" / "tiny" / "smoke_gen.jsonl").read_text().splitlines()
    ]
    from arena.backends import SamplingParams

    params = SamplingParams(max_new_tokens=16, stop=("\n", "Question:"))
    for rec in gen[:3]:
        assert rec["output"] == "".join(backend.complete(rec["prompt"], params))
    backend.close()


def test_rolling_windows_cover_every_token() -> None:
    from arena.harness import rolling_windows

    tokens = list(range(100, 123))
    windows = list(rolling_windows(tokens, 0, max_len=5))
    assert [t for _, c in windows for t in c] == tokens
    for ctx, cont in windows:
        assert len(ctx) + len(cont) <= 6 and ctx


def test_cli_run_table_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from arena.cli import eval as cli

    models = tmp_path / "m.toml"
    models.write_text('[[models]]\nname = "f"\nbackend = "fake"\n')
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "eval",
            "--suite",
            "smoke",
            "--models",
            str(models),
            "--model",
            "f",
            "--limit",
            "2",
            "-o",
            str(tmp_path / "o"),
            "--no-progress",
            "--no-store",
            "--format",
            "csv",
        ]
    )
    assert args.func(args) == 0
    assert "smoke_mc" in capsys.readouterr().out
    args = parser.parse_args(
        ["eval", "table", str(tmp_path / "o" / "results.json"), "--format", "latex"]
    )
    assert args.func(args) == 0
    assert "\\begin{tabular}" in capsys.readouterr().out
    args = parser.parse_args(["eval", "--suite", "smoke", "--models", str(models), "--model", "g"])
    with pytest.raises(UserError, match="model 'g' is not in the models file"):
        args.func(args)
    args = parser.parse_args(["eval", "--suite", "nosuch", "--model", "f"])
    with pytest.raises(UserError, match="no suite named 'nosuch'"):
        args.func(args)


def test_report_against_a_leaderboard(tmp_path: Path) -> None:
    from arena.harness import (
        EvalResults,
        MetricValue,
        TaskResult,
        compare_with_ratings,
        render_report,
    )

    def result(model: str, value: float) -> TaskResult:
        return TaskResult(
            model,
            "t",
            "multiple_choice",
            {"acc": MetricValue(value, 0, 1, 0.1, "normal", 10)},
            10,
            0,
            1.0,
        )

    res = EvalResults("s", (result("a", 0.9), result("b", 0.5), result("c", 0.7), result("d", 0.1)))
    lb = tmp_path / "lb.csv"
    lb.write_text("rank_ub,model,rating\n1,a,1200\n2,b,1100\n3,c,1000\n4,d,900\n5,e,800\n")
    report = compare_with_ratings(res, [lb])
    assert list(report.table["model"]) == ["a", "b", "c", "d"]
    assert report.spearman == pytest.approx(0.8)
    text = render_report(report, "md")
    assert "Spearman 0.800" in text and "b (+1)" in text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            dataclasses.replace(QUIET, tasks=("smoke_mc", "nope")),
            "suite 'smoke' has no task 'nope'; its tasks: smoke_mc, smoke_gen",
        ),
        (
            dataclasses.replace(QUIET, multiple_choice="guess"),
            "multiple_choice must be 'loglikelihood' or 'letter', not 'guess'",
        ),
        (
            dataclasses.replace(QUIET, fewshot_as_turns=True, chat_template=False),
            "--fewshot-as-turns needs --chat-template",
        ),
    ],
)
def test_bad_task_selection_and_options_stop_before_any_request(
    tmp_path: Path, fake_models: list[ModelConfig], options: RunOptions, message: str
) -> None:
    with pytest.raises(UserError) as info:
        evaluate(load_suite("smoke"), fake_models, output=tmp_path / "run", options=options)
    assert str(info.value).startswith(message)
    assert not (tmp_path / "run").exists()  # nothing written


def test_resume_with_other_settings_names_the_setting(
    tmp_path: Path, fake_models: list[ModelConfig]
) -> None:
    suite = load_suite("smoke")
    opts = dataclasses.replace(QUIET, tasks=("smoke_mc",))
    evaluate(suite, fake_models, output=tmp_path / "run", options=opts)
    with pytest.raises(UserError) as info:
        evaluate(suite, fake_models[:1], output=tmp_path / "run", options=opts, resume=True)
    assert str(info.value).startswith("--resume: this run's 'models' differs from the one in")
    assert "run it with the same settings, or choose another --output" in str(info.value)
    (tmp_path / "run" / "run.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="cannot read the run's settings: not a JSON object"):
        evaluate(suite, fake_models, output=tmp_path / "run", options=opts, resume=True)
