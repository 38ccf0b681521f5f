"""Results of an evaluation run: typed records, the model x task table, and its exports.

``results.json`` holds everything needed to reproduce the run (suite and data hashes, model
identities with weights hashes, package versions, seeds, sampling parameters, chat template
use and hash) and every metric with its 95 % interval. The table exports as CSV and JSON
(long: one row per model, task and metric) or Markdown and LaTeX (wide: one row per model,
one column per task, its main metric with the interval).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from arena.errors import UserError
from arena.harness._metrics import MetricValue
from arena.io import write_atomic
from arena.tables import check_format, latex_tabular, markdown_table

__all__ = [
    "RESULT_FORMATS",
    "EvalResults",
    "TaskResult",
    "read_results",
    "render_results",
    "write_results_table",
]

#: Formats of the results table.
RESULT_FORMATS: tuple[str, ...] = ("csv", "json", "md", "latex")


@dataclass(frozen=True)
class TaskResult:
    """One model on one task.

    Attributes
    ----------
    model:
        The model's name.
    task:
        The task's name.
    kind:
        The task's kind.
    metrics:
        Metric name -> value with interval; the first is the task's main metric.
    n_samples:
        Samples asked.
    n_failed:
        Samples whose requests failed after retries (left out of the metrics, listed in
        the sample log with their error).
    seconds:
        Wall-clock time of the task for this model.
    """

    model: str
    task: str
    kind: str
    metrics: dict[str, MetricValue]
    n_samples: int
    n_failed: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "model": self.model,
            "task": self.task,
            "kind": self.kind,
            "metrics": {k: v.as_dict() for k, v in self.metrics.items()},
            "n_samples": self.n_samples,
            "n_failed": self.n_failed,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class EvalResults:
    """A whole run: every model on every task, and its provenance.

    Attributes
    ----------
    suite:
        The suite's name.
    results:
        One record per model and task.
    provenance:
        How the run was made (see the module docstring).
    """

    suite: str
    results: tuple[TaskResult, ...]
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        """Models in run order."""
        return list(dict.fromkeys(r.model for r in self.results))

    def table(self) -> pd.DataFrame:
        """Long table, one row per model, task and metric, with the interval and counts."""
        rows = []
        for r in self.results:
            for name, m in r.metrics.items():
                rows.append(
                    {
                        "model": r.model,
                        "task": r.task,
                        "metric": name,
                        "value": m.value,
                        "ci_lower": m.ci_lower,
                        "ci_upper": m.ci_upper,
                        "stderr": m.stderr,
                        "ci_method": m.method,
                        "n": m.n,
                        "n_failed": r.n_failed,
                    }
                )
        return pd.DataFrame(rows)

    def score(self, model: str, task: str, metric: str | None = None) -> float:
        """One metric (the task's main metric by default)."""
        for r in self.results:
            if r.model == model and r.task == task:
                name = metric or next(iter(r.metrics))
                return r.metrics[name].value
        raise KeyError((model, task))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what ``results.json`` holds)."""
        return {
            "suite": self.suite,
            "results": [r.as_dict() for r in self.results],
            "provenance": self.provenance,
        }


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _metric(v: dict[str, Any]) -> MetricValue:
    return MetricValue(
        _num(v["value"]),
        _num(v["ci_lower"]),
        _num(v["ci_upper"]),
        _num(v["stderr"]),
        v["method"],
        int(v["n"]),
    )


def read_results(path: Path) -> EvalResults:
    """Read a ``results.json`` written by :func:`arena.harness.evaluate`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        results = tuple(
            TaskResult(
                r["model"],
                r["task"],
                r["kind"],
                {k: _metric(v) for k, v in r["metrics"].items()},
                r["n_samples"],
                r["n_failed"],
                r["seconds"],
            )
            for r in data["results"]
        )
        return EvalResults(data["suite"], results, data.get("provenance", {}))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(
            f"{path}: not a results.json of 'arena eval' ({type(exc).__name__}: {exc})"
        ) from None


def _fmt(v: float, digits: int = 4) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _wide(res: EvalResults) -> tuple[list[str], list[list[str]]]:
    tasks = list(dict.fromkeys(r.task for r in res.results))
    main: dict[str, str] = {}
    for r in res.results:  # the headline metric comes first (TaskSpec.headline)
        main.setdefault(r.task, next(iter(r.metrics)))
    header = ["model"] + [f"{t} ({main[t]})" for t in tasks]
    cells: dict[tuple[str, str], str] = {}
    for r in res.results:
        m = r.metrics[main[r.task]]
        text = f"{_fmt(m.value)} [{_fmt(m.ci_lower)}, {_fmt(m.ci_upper)}]"
        if r.n_samples and r.n_failed >= r.n_samples:
            text = f"all {r.n_samples} failed"
        elif r.n_failed:
            text += f" ({r.n_failed} failed)"
        cells[(r.model, r.task)] = text
    rows = [[model] + [cells.get((model, t), "") for t in tasks] for model in res.models]
    return header, rows


def render_results(res: EvalResults, fmt: str) -> str:
    """The results table as text in ``fmt`` (csv, json, md, latex)."""
    fmt = check_format(fmt, RESULT_FORMATS, "results")
    if fmt == "csv":
        return str(res.table().to_csv(index=False))
    if fmt == "json":
        return json.dumps(res.as_dict(), indent=2, allow_nan=False, default=str) + "\n"
    header, rows = _wide(res)
    prov = res.provenance
    note = (
        f"suite {res.suite} (sha256 {str(prov.get('suite_sha256', ''))[:12]}), "
        f"chat template {'on' if prov.get('options', {}).get('chat_template') else 'off'}, "
        "95 % intervals"
    )
    align = "l" + "r" * (len(header) - 1)
    if fmt == "md":
        return "\n".join([f"<!-- {note} -->", *markdown_table(header, rows, align)]) + "\n"
    if fmt == "latex":
        return "\n".join([f"% {note}", *latex_tabular(header, rows, align)]) + "\n"
    raise AssertionError(fmt)  # check_format above


def write_results_table(res: EvalResults, path: Path, fmt: str) -> None:
    """Write the table atomically."""
    write_atomic(path, render_results(res, fmt).encode("utf-8"))
