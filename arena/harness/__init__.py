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
from arena.harness._data import (
    DATA_PACKAGES,
    DataError,
    Sample,
    build_samples,
    join_system,
    messages_from_json,
    messages_json,
    prompt_json,
    read_rows,
    select_rows,
)
from arena.harness._executor import (
    PREFIX_CLUSTER_CHARS,
    BackendFactory,
    ModelRunner,
    prefix_order,
    rolling_windows,
)
from arena.harness._letter import letter_labels, letter_prompt, parse_letter
from arena.harness._metrics import (
    MetricValue,
    bootstrap_metric,
    clip_unit,
    mean_metric,
    pass_at_k,
    perplexity_metrics,
)
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
from arena.harness._scorers import (
    extract_number,
    hellaswag,
    processor,
    processors,
    run_scorer,
    scorer,
    scorers,
    split_hellaswag_ctx,
)
from arena.harness._sink import ResultsSink, deliver, first_error
from arena.harness._suite import (
    KINDS,
    DatasetSpec,
    Suite,
    SuiteError,
    TaskSpec,
    bundled_suites,
    find_suite,
    load_suite,
    parse_suite,
    suites_dir,
)
from arena.harness._template import FILTERS, Template, TemplateError

__all__ = [
    "DATA_PACKAGES",
    "FILTERS",
    "KINDS",
    "PREFIX_CLUSTER_CHARS",
    "RESULT_FORMATS",
    "TASK_KINDS",
    "BackendFactory",
    "DataError",
    "DatasetSpec",
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
    "clip_unit",
    "compare_with_ratings",
    "deliver",
    "evaluate",
    "extract_number",
    "find_suite",
    "first_error",
    "hellaswag",
    "join_system",
    "letter_labels",
    "letter_prompt",
    "load_suite",
    "mean_metric",
    "messages_from_json",
    "messages_json",
    "parse_letter",
    "parse_suite",
    "pass_at_k",
    "perplexity_metrics",
    "prefix_order",
    "processor",
    "processors",
    "prompt_json",
    "read_ratings",
    "read_results",
    "read_rows",
    "render_report",
    "render_results",
    "request_key",
    "require_sandbox",
    "rolling_windows",
    "run_program",
    "run_programs",
    "run_scorer",
    "sandbox_status",
    "scorer",
    "scorers",
    "select_rows",
    "split_hellaswag_ctx",
    "suites_dir",
    "task_kind",
    "write_results_table",
]

if TYPE_CHECKING:
    from arena.harness._report import (
        RatingsReport,
        compare_with_ratings,
        read_ratings,
        render_report,
    )

#: Exported names whose module is imported only when they are used (``arena eval report``
#: reads leaderboards and battles; a run needs none of that).
_LAZY = {
    "RatingsReport": "arena.harness._report",
    "compare_with_ratings": "arena.harness._report",
    "render_report": "arena.harness._report",
    "read_ratings": "arena.harness._report",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'arena.harness' has no attribute {name!r}")
