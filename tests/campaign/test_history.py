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


def test_the_web_app_stores_snapshots_on_a_schedule(tmp_path: Path) -> None:
    import time

    from arena.service import ArenaService, Choice, ServiceConfig
    from arena.store import make_engine, make_sessionmaker
    from arena.store.snapshots import list_snapshots
    from tests.service.conftest import write_models

    url = f"sqlite:///{tmp_path / 'arena.db'}"
    upgrade(url)
    models = write_models(tmp_path)
    voting = ArenaService.open(url, models, ServiceConfig(rate_limit=None, secret=b"s"))
    try:
        for i in range(6):
            round_ = voting.generate(voting.start_battle("v", f"prompt {i}"), "v")
            voting.vote(round_, "v", Choice.A)
    finally:
        voting.close()
    config = ServiceConfig(rate_limit=None, secret=b"s", snapshot_every_s=1.0)
    service = ArenaService.open(url, models, config)
    try:

        def stored() -> list[object]:
            engine = make_engine(url)
            try:
                with make_sessionmaker(engine)() as session:
                    return list(list_snapshots(session))
            finally:
                engine.dispose()

        deadline = time.monotonic() + 20
        while not stored() and time.monotonic() < deadline:
            time.sleep(0.2)
        first = stored()
        assert len(first) == 1 and first[0].n_battles == 6  # type: ignore[attr-defined]
        time.sleep(2.5)  # more ticks, no new votes: no new snapshot
        assert len(stored()) == 1
        assert service.scheduled_snapshot() is None
        round_ = service.generate(service.start_battle("v", "one more"), "v")
        service.vote(round_, "v", Choice.B)
        assert service.scheduled_snapshot() is not None  # new votes, new snapshot
    finally:
        service.close()
    with pytest.raises(Exception, match="snapshot_every_s must be at least 1 second"):
        ServiceConfig(snapshot_every_s=0.1)
    assert ServiceConfig.from_env({"ARENA_SNAPSHOT_EVERY_S": "0"}).snapshot_every_s is None
