"""The evaluation harness: benchmark suites (data files) run on model backends.

A suite is a TOML file in ``benchmarks/`` (or anywhere): tasks with their dataset, prompt
template, few-shot settings, choices or target, stop sequences and scorers. Four kinds of
task: multiple choice by log-likelihood (``acc``, ``acc_norm``), generation scored by
registered scorers, code generation scored by running tests in a sandbox (``pass@k``) and
rolling perplexity. A run asks every model every request once (cached by content hash, so a
killed run resumes), and reports each metric with a 95 % interval::

    from pathlib import Path
    from arena.backends import load_models
    from arena.harness import RunOptions, evaluate, load_suite

    models = {m.name: m for m in load_models()}
    results = evaluate(load_suite("smoke"), [models["smollm2-135m-instruct"]],
                       output=Path("runs/smoke"), options=RunOptions(limit=10))
    print(results.table())

Custom scorers are Python functions registered by name (:func:`scorer`), never code in a
suite file.

:class:`ModelRunner` (cached, batched, retried requests to one model) is what other
request-driven runs build on: judge battles (:mod:`arena.judge`) ask through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arena.harness._cache import RequestCache, request_key
from arena.harness._data import DATA_PACKAGES, DataError, Sample, build_samples, read_rows
from arena.harness._executor import BackendFactory, ModelRunner
from arena.harness._metrics import MetricValue, bootstrap_metric, mean_metric, pass_at_k
from arena.harness._results import (
    RESULT_FORMATS,
    EvalResults,
    TaskResult,
    read_results,
    render_results,
    write_results_table,
)
from arena.harness._runner import TASK_KINDS, RunOptions, TaskKind, evaluate, task_kind
from arena.harness._sandbox import (
    ExecResult,
    Limits,
    SandboxStatus,
    SandboxUnavailable,
    require_sandbox,
    run_program,
    run_programs,
    sandbox_status,
)
from arena.harness._scorers import extract_number, processor, processors, scorer, scorers
from arena.harness._sink import ResultsSink, deliver, first_error
from arena.harness._suite import (
    KINDS,
    Suite,
    SuiteError,
    TaskSpec,
    bundled_suites,
    find_suite,
    load_suite,
    parse_suite,
)
from arena.harness._template import FILTERS, Template, TemplateError

__all__ = [
    "DATA_PACKAGES",
    "FILTERS",
    "KINDS",
    "RESULT_FORMATS",
    "TASK_KINDS",
    "BackendFactory",
    "DataError",
    "EvalResults",
    "ExecResult",
    "Limits",
    "MetricValue",
    "ModelRunner",
    "RatingsReport",
    "RequestCache",
    "ResultsSink",
    "RunOptions",
    "Sample",
    "SandboxStatus",
    "SandboxUnavailable",
    "Suite",
    "SuiteError",
    "TaskKind",
    "TaskResult",
    "TaskSpec",
    "Template",
    "TemplateError",
    "bootstrap_metric",
    "build_samples",
    "bundled_suites",
    "compare_with_ratings",
    "deliver",
    "evaluate",
    "extract_number",
    "find_suite",
    "first_error",
    "load_suite",
    "mean_metric",
    "parse_suite",
    "pass_at_k",
    "processor",
    "processors",
    "read_results",
    "read_rows",
    "render_report",
    "render_results",
    "request_key",
    "require_sandbox",
    "run_program",
    "run_programs",
    "sandbox_status",
    "scorer",
    "scorers",
    "task_kind",
    "write_results_table",
]

if TYPE_CHECKING:
    from arena.harness._report import RatingsReport, compare_with_ratings, render_report

#: Exported names whose module is imported only when they are used (``arena eval report``
#: reads leaderboards and battles; a run needs none of that).
_LAZY = {
    "RatingsReport": "arena.harness._report",
    "compare_with_ratings": "arena.harness._report",
    "render_report": "arena.harness._report",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'arena.harness' has no attribute {name!r}")
