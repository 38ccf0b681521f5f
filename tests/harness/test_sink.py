"""Results sinks: a finished run goes to every sink once; a run that measured nothing to none."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from arena.errors import UserError
from arena.harness import EvalResults, MetricValue, ResultsSink, TaskResult, deliver
from arena.store.evals import EvalStore

STARTED = datetime(2026, 1, 1, tzinfo=UTC)


def run(n_samples: int, n_failed: int) -> EvalResults:
    acc = MetricValue(0.5, 0.4, 0.6, 0.05, "normal", n_samples - n_failed)
    task = TaskResult("m", "t", "multiple_choice", {"acc": acc}, n_samples, n_failed, 1.0)
    return EvalResults("smoke", (task,), {"suite_sha256": "ab" * 32})


class Kept:
    """A sink that keeps what it is given."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.runs: list[tuple[EvalResults, Path]] = []

    def put(self, results: EvalResults, run_dir: Path, started: datetime) -> str:
        self.runs.append((results, run_dir))
        return f"kept in {self.name}"


def test_a_finished_run_goes_to_every_sink_once_in_order(tmp_path: Path) -> None:
    a, b = Kept("a"), Kept("b")
    assert isinstance(a, ResultsSink)
    results = run(10, 3)  # some failures: still a measurement
    assert deliver(results, tmp_path, STARTED, [a, b]) == ["kept in a", "kept in b"]
    assert a.runs == b.runs == [(results, tmp_path)]
    assert deliver(results, tmp_path, STARTED, []) == []


def test_a_run_in_which_every_sample_failed_goes_nowhere_and_says_why(tmp_path: Path) -> None:
    log = tmp_path / "samples" / "m" / "t.jsonl"
    log.parent.mkdir(parents=True)
    torn = tmp_path / "samples" / "a" / "t.jsonl"  # sorted first; a killed run's torn line
    torn.parent.mkdir(parents=True)
    torn.write_text('{"id": 0, "err')
    lines = [{"id": 0, "error": None}, {"id": 1, "error": "model 'm' (load): weights\nunreadable"}]
    log.write_text("\n".join(json.dumps(x) for x in lines))
    sink = Kept("a")
    with pytest.raises(UserError) as info:
        deliver(run(2, 2), tmp_path, STARTED, [sink])
    assert "every sample failed (2 of 2)" in str(info.value)
    assert "the first error: model 'm' (load): weights unreadable" in str(info.value)
    assert sink.runs == []


def test_the_store_is_a_sink_and_a_second_put_replaces_the_first(tmp_path: Path) -> None:
    from arena.store import eval_results_frame, list_eval_runs, make_sessionmaker

    store = EvalStore.open(f"sqlite:///{tmp_path / 'arena.db'}")  # migrated on open
    try:
        assert isinstance(store, ResultsSink)
        first = deliver(run(10, 0), tmp_path / "run", STARTED, [store])
        again = deliver(run(10, 1), tmp_path / "run", STARTED, [store])
        assert first == again and first[0].startswith("stored as evaluation run 1 (1 results)")
        with make_sessionmaker(store.engine, read_only=True)() as session:
            (stored,) = list_eval_runs(session)
            frame = eval_results_frame(session, stored.id)
        assert list(frame["n_failed"]) == [1]  # the second put's numbers
        assert not math.isnan(frame["value"].iloc[0])
    finally:
        store.close()
