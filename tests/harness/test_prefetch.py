"""A fresh run loads its first model in the background while the samples are prepared.

What a user sees: ``arena eval`` starts asking the model sooner (the imports and the
weights load while the suite's samples are built), a resumed run still loads nothing it
does not need, a load that fails fails every request of that model with its message
(recorded, as when the model is made on first use), and a run stopped
before its first request (a broken suite) releases the model that was loading.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from arena.backends import BackendError, ModelConfig, create_backend
from arena.errors import UserError
from arena.harness import RunOptions, evaluate, load_suite

QUIET = RunOptions(progress=False, limit=2, tasks=("smoke_mc",))
ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    """A backend factory that records which thread created each model and its closing."""

    def __init__(self, fail: bool = False):
        self.fail = fail
        self.created: list[tuple[str, bool]] = []  # (model, in the main thread)
        self.closed: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, config: ModelConfig) -> Any:
        with self.lock:
            self.created.append(
                (config.name, threading.current_thread() is threading.main_thread())
            )
        if self.fail:
            raise BackendError(config.name, "load", "weights are unreadable")
        backend = create_backend(config)
        recorder = self

        class Recorded:
            def close(self) -> None:
                with recorder.lock:
                    recorder.closed.append(config.name)
                backend.close()

            def __getattr__(self, name: str) -> Any:
                return getattr(backend, name)

        return Recorded()


def test_a_fresh_run_loads_its_first_model_in_the_background(
    tmp_path: Path, fake_models: list[ModelConfig]
) -> None:
    suite = load_suite("smoke")
    plain = evaluate(suite, fake_models, options=QUIET)
    factory = Recorder()
    res = evaluate(suite, fake_models, output=tmp_path / "run", options=QUIET, factory=factory)
    # the same numbers as a run whose models were made on first use
    assert [r.metrics["acc"].value for r in res.results] == [
        r.metrics["acc"].value for r in plain.results
    ]
    # the first model was made off the main thread (prefetched), the second on first use
    assert factory.created == [("fake-a", False), ("fake-b", True)]
    assert sorted(factory.closed) == ["fake-a", "fake-b"]


def test_a_resumed_run_loads_nothing_ahead(tmp_path: Path, fake_models: list[ModelConfig]) -> None:
    suite = load_suite("smoke")
    evaluate(suite, fake_models, output=tmp_path / "run", options=QUIET)
    factory = Recorder()
    evaluate(
        suite, fake_models, output=tmp_path / "run", options=QUIET, resume=True, factory=factory
    )
    assert factory.created == []  # every answer was cached: no model was made at all


def test_a_failed_background_load_is_recorded_like_a_lazy_one(
    tmp_path: Path, fake_models: list[ModelConfig]
) -> None:
    res = evaluate(
        load_suite("smoke"),
        fake_models,
        output=tmp_path / "run",
        options=QUIET,
        factory=Recorder(fail=True),
    )
    # every request of the model failed, with the load's message, none dropped
    first = res.results[0]
    assert (first.model, first.n_failed, first.n_samples) == ("fake-a", 2, 2)
    log = (tmp_path / "run" / "samples" / "fake-a" / "smoke_mc.jsonl").read_text().splitlines()
    assert len(log) == 2
    assert all(json.loads(line)["error"].endswith("weights are unreadable") for line in log)


def test_a_run_stopped_before_its_first_request_releases_the_loading_model(
    tmp_path: Path, fake_models: list[ModelConfig]
) -> None:
    data = ROOT / "benchmarks" / "data" / "smoke" / "mc.jsonl"
    (tmp_path / "broken.toml").write_text(
        f"""
[suite]
name = "broken"

[[tasks]]
name = "mc"
kind = "multiple_choice"
dataset = {{ path = "{data}" }}
prompt = "Question: {{no_such_field}}\\nAnswer:"
choices = "{{choices}}"
target = "{{answer}}"
"""
    )
    broken = load_suite(str(tmp_path / "broken.toml"))
    factory = Recorder()
    options = dataclasses.replace(QUIET, tasks=None)
    with pytest.raises(UserError, match="no_such_field"):
        evaluate(broken, fake_models, options=options, factory=factory)
    deadline = time.monotonic() + 30  # the background load finishes, then closes its model
    while factory.closed != ["fake-a"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert factory.created == [("fake-a", False)]
    assert factory.closed == ["fake-a"]
