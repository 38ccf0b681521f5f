"""``arena eval``'s start-up trace (issue 10): what ``perf/bench_eval_startup.py`` reads.

With ``ARENA_TRACE_FIRST_REQUEST`` set, a run logs each model's first request once, after
the model loaded, with a monotonic timestamp taken between the process start and the
end of the run; without it, nothing is logged. (Here, not in tests/cli: the trace exists
for the start-up benchmark, beside the web app's start-up tests.)
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from arena.cli.main import main
from tests.service.conftest import write_models

MODELS = """
[[models]]
name = "fake-traced"
backend = "fake"
load_time = 0.2
"""
TRACE = re.compile(r"^arena: first request to (\S+) \((\w+)\) at monotonic ([0-9.]+)$", re.M)


def _run(tmp_path: Path, out: str) -> int:
    return main(
        [
            "eval",
            "--suite",
            "smoke",
            "--task",
            "smoke_mc",
            "--models",
            str(write_models(tmp_path, MODELS)),
            "--model",
            "fake-traced",
            "--output",
            str(tmp_path / out),
            "--no-store",
            "--no-progress",
        ]
    )


def test_the_first_request_is_logged_once_with_a_monotonic_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ARENA_TRACE_FIRST_REQUEST", "1")
    before = time.monotonic()
    assert _run(tmp_path, "run") == 0
    after = time.monotonic()
    lines = TRACE.findall(capsys.readouterr().err)
    assert len(lines) == 1, lines
    name, operation, at = lines[0]
    assert name == "fake-traced" and operation == "loglikelihood"
    assert before + 0.2 <= float(at) <= after  # after the 0.2 s load, before the end


def test_without_the_variable_nothing_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ARENA_TRACE_FIRST_REQUEST", raising=False)
    assert _run(tmp_path, "run") == 0
    assert "first request" not in capsys.readouterr().err
