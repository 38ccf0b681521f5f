"""Leaderboard snapshots: stored with provenance, listed, a model over time, recomputed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from arena.cli.main import main
from arena.store import upgrade

from .conftest import sampled_battles


def _write(path: Path, ratings: dict[str, float], seed: int) -> Path:
    rows = sampled_battles(ratings, 40, np.random.default_rng(seed))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_snapshots_history_and_recompute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    upgrade(url)
    ratings = {"alpha": 1100.0, "beta": 1000.0, "gamma": 900.0}
    first = _write(tmp_path / "week1.jsonl", ratings, 1)
    second = _write(tmp_path / "week2.jsonl", {**ratings, "gamma": 1150.0}, 2)
    for path in (first, second):
        assert main(["leaderboard", str(path), "--ci", "bootstrap", "--rounds", "20",
                     "--seed", "7", "--snapshot", url, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["history", "--database", url]) == 0
    listing = capsys.readouterr().out
    assert "| 1 |" in listing and "| 2 |" in listing and "week2.jsonl" in listing

    assert main(["history", "gamma", "--database", url, "--format", "json",
                 "--plot", str(tmp_path / "gamma.png")]) == 0
    history = json.loads(capsys.readouterr().out)["history"]
    assert [h["snapshot"] for h in history] == [1, 2]
    assert history[0]["moved"] == "new" and history[1]["rating"] > history[0]["rating"]
    assert history[1]["moved"] == "+2"  # from third place to first
    assert (tmp_path / "gamma.png").read_bytes()[:4] == b"\x89PNG"

    # the same inputs and options give the same numbers (bootstrap seed included)
    assert main(["history", "--verify", "2", "--database", url]) == 0
    assert "same numbers" in capsys.readouterr().out
    # changed data is detected, not silently recomputed
    _write(second, ratings, 3)
    assert main(["history", "--verify", "2", "--database", url]) == 1
    assert "not reproducible" in capsys.readouterr().out
    assert main(["history", "--verify", "9", "--database", url]) == 2
    assert "no snapshot 9" in capsys.readouterr().err
    assert main(["history", "nobody", "--database", url]) == 2
    assert "no snapshot rates" in capsys.readouterr().err
