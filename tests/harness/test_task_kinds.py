"""Each kind of task is one object (:class:`arena.harness.TaskKind`), registered once.

The run asks the kind object how many requests a task sends, how it is run, whether it
needs the sandbox and what it records of how it was asked; these tests pin those answers
for the bundled smoke suite (one task of each kind).
"""

from __future__ import annotations

from pathlib import Path

from arena.backends import model_config
from arena.harness import (
    KINDS,
    TASK_KINDS,
    RunOptions,
    build_samples,
    evaluate,
    load_suite,
    read_results,
    task_kind,
)

SANDBOX = {"tool": "bwrap", "version": "0.8.0"}


def test_every_kind_of_a_suite_file_has_exactly_one_kind_object() -> None:
    assert tuple(TASK_KINDS) == KINDS
    assert all(TASK_KINDS[name].name == name for name in KINDS)
    assert [k for k in KINDS if TASK_KINDS[k].needs_sandbox] == ["code"]


def test_requests_and_settings_of_each_kind() -> None:
    suite = load_suite("smoke")
    tasks = {t.kind: t for t in suite.tasks}
    plain, letter = RunOptions(progress=False), RunOptions(multiple_choice="letter")
    mc = tasks["multiple_choice"]
    samples = build_samples(mc, suite.path, limit=3)
    kind = task_kind(mc)
    assert kind.n_requests(mc, samples, plain) == sum(len(s.choices) for s in samples)
    assert kind.n_requests(mc, samples, letter) == len(samples)  # one generated letter each
    assert kind.settings(mc, plain, None) == {"method": "loglikelihood"}
    assert kind.settings(mc, letter, None)["method"] == "generated letter"
    gen = tasks["generate"]
    gen_samples = build_samples(gen, suite.path, limit=2)
    assert task_kind(gen).n_requests(gen, gen_samples, plain) == 2 * gen.generation.samples
    sampling = task_kind(gen).settings(gen, plain, SANDBOX)["sampling"]
    assert sampling["max_new_tokens"] == gen.generation.max_new_tokens
    assert sampling["samples"] == gen.generation.samples and "sandbox" not in sampling
    code = tasks["code"]
    with_sandbox = task_kind(code).settings(code, plain, SANDBOX)
    assert with_sandbox["sandbox"]["tool"] == "bwrap" and "limits" in with_sandbox["sandbox"]
    assert "sandbox" not in task_kind(code).settings(code, plain, None)
    ppl = tasks["perplexity"]
    assert task_kind(ppl).settings(ppl, plain, None) == {}


def test_the_results_file_records_each_kinds_settings(tmp_path: Path) -> None:
    suite = load_suite("smoke")
    chosen = ("smoke_mc", "smoke_gen", "smoke_ppl")
    options = RunOptions(limit=2, progress=False, tasks=chosen)
    evaluate(suite, [model_config("f", "fake")], output=tmp_path / "run", options=options)
    run = read_results(tmp_path / "run" / "results.json").provenance
    assert run["tasks"]["smoke_mc"]["method"] == "loglikelihood"
    assert "sampling" in run["tasks"]["smoke_gen"] and "method" not in run["tasks"]["smoke_gen"]
    assert set(run["tasks"]["smoke_ppl"]) == {"kind", "n_samples", "fewshot", "selection"}

