"""Where a finished run goes beyond its run directory: results sinks.

The run directory (``results.json``, the tables, ``samples/``) is always written by
:func:`~arena.harness.evaluate`; a sink keeps the run somewhere else as well, such as the
votes database (:class:`arena.store.evals.EvalStore`). :func:`deliver` hands a finished
run to its sinks, unless every sample failed: such a run measured nothing, so it is
refused with the first recorded error and kept nowhere (a model that did not load must
not land in a results table as zeros).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from arena.errors import UserError
from arena.harness._results import EvalResults
from arena.io import JsonlLineError, iter_jsonl

__all__ = ["ResultsSink", "deliver", "first_error"]


@runtime_checkable
class ResultsSink(Protocol):
    """Keeps a finished run (the store's :class:`~arena.store.evals.EvalStore` is one)."""

    def put(self, results: EvalResults, run_dir: Path, started: datetime) -> str:
        """Keep ``results`` (of the run in ``run_dir``, started at ``started``).

        Returns one line that says where it is kept, for the caller to print. A run put
        again (after ``--resume``) replaces what was kept of it, never adds a copy.
        """
        ...


def deliver(
    results: EvalResults, run_dir: Path, started: datetime, sinks: Sequence[ResultsSink]
) -> list[str]:
    """Hand a finished run to every sink; the lines they return, in order.

    Raises
    ------
    UserError
        Every sample failed (say, the model did not load): nothing is kept, and the
        message names the first error recorded in the sample logs.
    """
    asked = sum(r.n_samples for r in results.results)
    failed = sum(r.n_failed for r in results.results)
    if asked and failed >= asked:
        raise UserError(
            f"every sample failed ({failed} of {asked}), so the run measured nothing and is not "
            f"stored; the first error: {first_error(run_dir)} (all in {run_dir}/samples/)"
        )
    return [sink.put(results, run_dir, started) for sink in sinks]


def first_error(run_dir: Path) -> str:
    """The first error recorded in a run's sample logs (one line, shortened)."""
    for log in sorted((run_dir / "samples").glob("*/*.jsonl")):
        with log.open(encoding="utf-8") as f:
            try:
                for _, record in iter_jsonl(f):
                    error = record.get("error")
                    if error:
                        text = " ".join(str(error).split())
                        return text if len(text) <= 300 else text[:297] + "..."
            except JsonlLineError:
                continue  # a torn line (a killed run): the next log may say more
    return "none recorded"
