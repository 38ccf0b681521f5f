"""The live leaderboard: same ratings as the analysts' path, public names only, cached."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from arena.leaderboard import compute_leaderboard
from arena.service import ArenaService, Choice
from arena.service import leaderboard as live
from arena.service.leaderboard import DISPLAY_COLUMNS, LiveLeaderboard
from arena.store import make_sessionmaker, votes_battles

from .conftest import write_models

CHOICES = list(Choice)


def cast(service: ArenaService, n: int, *, side_by_side: int = 0, prompt: str = "hello") -> None:
    for i in range(n):
        voter = f"v{i % 7}"
        round_ = service.generate(service.start_battle(voter, f"{prompt} {i}"), voter)
        service.vote(round_, voter, CHOICES[(i * 7 + i // 3) % 4])
    for _ in range(side_by_side):
        round_ = service.start_side_by_side("sbs", "fake-alpha", "fake-beta", "x")
        service.vote(service.generate(round_, "sbs"), "sbs", Choice.A)


def test_no_votes_yet(service: ArenaService) -> None:
    view = service.board(wait=30)
    assert view is not None and view.leaderboard is None
    assert "No votes yet" in (view.message or "")
    assert list(view.table.columns) == list(DISPLAY_COLUMNS)


def test_ratings_match_the_per_vote_computation(service: ArenaService) -> None:
    cast(service, 40, side_by_side=5)
    service.leaderboard.refresh()
    view = service.board()
    assert view is not None and view.leaderboard is not None
    assert view.n_votes == 40  # side-by-side votes are not anonymous: left out
    with make_sessionmaker(service.engine, read_only=True)() as session:
        battles = votes_battles(session)
    anonymous = battles.take(battles.meta["anony"].to_numpy(bool))
    expected = compute_leaderboard(anonymous, method="bt", ci="sandwich").table
    labels = {"fake-alpha": "Alpha Chat", "fake-beta": "Beta Chat", "fake-gamma": "kestrel"}
    got = view.leaderboard.table.set_index("model")
    for row in expected.itertuples():
        public = got.loc[labels[str(row.model)]]
        assert public["rating"] == pytest.approx(row.rating, abs=1e-6)
        assert public["ci_lower"] == pytest.approx(row.ci_lower, abs=1e-6)
        assert public["battles"] == row.battles
    table = view.table
    assert list(table.columns) == list(DISPLAY_COLUMNS)
    assert table["Votes"].sum() == 80
    assert dict(zip(table["Model"], table["Organization"], strict=True))["kestrel"] == "Preview"


def test_previews_stay_hidden_in_every_output(service: ArenaService) -> None:
    cast(service, 25)
    service.leaderboard.refresh()
    view = service.board()
    assert view is not None
    outputs = [
        view.download("csv").decode(),
        view.download("json").decode(),
        view.table.to_csv(),
        view.winrate.to_csv() if view.winrate is not None else "",
        view.ratings().to_csv(),
        view.winrate_pairs().to_csv(),
    ]
    for text in outputs:
        assert "fake-gamma" not in text and "Gamma" not in text
        assert "kestrel" in text
    meta = json.loads(view.download("json"))
    assert meta["metadata"]["params"]["filters"]["anonymous_only"] is True
    assert list(view.ratings()["model"]) == list(view.table["Model"])
    pairs = view.winrate_pairs()
    assert len(pairs) == 6 and pairs["win_rate"].between(0, 1).all()
    service.reveal("fake-gamma")
    service.leaderboard.refresh()
    revealed = service.board()
    assert revealed is not None and "Gamma Chat" in set(revealed.table["Model"])


def test_categories_and_style_control(service: ArenaService) -> None:
    cast(service, 20, prompt="write python code")
    cast(service, 20, prompt="tell me a story")
    service.leaderboard.refresh()
    assert service.leaderboard.categories() == ("coding", "general")
    coding = service.board("coding")
    assert coding is not None and coding.n_votes == 20 and coding.category == "coding"
    assert service.board("math") is not None and service.board("math").leaderboard is None  # type: ignore[union-attr]
    service.leaderboard.refresh(style_control=True)
    styled = service.board(style_control=True)
    assert styled is not None and styled.style_control and styled.n_votes == 40
    styled_coding = service.board("coding", style_control=True)
    assert styled_coding is not None and styled_coding.n_votes == 20


def test_page_views_read_the_cache_and_refresh_behind(
    service: ArenaService, monkeypatch: pytest.MonkeyPatch
) -> None:
    cast(service, 10)
    calls: list[int] = []
    gate = threading.Event()
    real = live._vote_counts

    def counting(session):  # type: ignore[no-untyped-def]
        calls.append(1)
        gate.wait(10)
        return real(session)

    monkeypatch.setattr(live, "_vote_counts", counting)
    now = [0.0]
    board = LiveLeaderboard(service._read_sessions, ttl_s=30.0, clock=lambda: now[0])
    assert board.board(wait=0.05) is None  # the first computation is running
    gate.set()
    first = board.board(wait=30)
    assert first is not None and first.n_votes == 10
    for _ in range(50):
        assert board.board() is first  # no recomputation per view
    assert len(calls) == 1
    cast(service, 5)
    now[0] = 31.0  # past the TTL: this view still gets the cached board ...
    assert board.board() is first
    deadline = 0
    while board.board() is first and deadline < 500:  # ... and the refresh lands behind it
        threading.Event().wait(0.02)
        deadline += 1
    assert board.board().n_votes == 15  # type: ignore[union-attr]
    assert len(calls) == 2
    board.close()


def test_identity_leaks_are_left_out(
    tmp_path: Path, make_service: Callable[..., ArenaService]
) -> None:
    models = write_models(
        tmp_path,
        """
[[models]]
name = "fake-alpha"
backend = "fake"
organization = "Alpha Labs"
answers = ["Alpha Labs built me.", "A plain answer."]

[[models]]
name = "fake-beta"
backend = "fake"
""",
        "leaky.toml",
    )
    service = make_service(models)
    leaks = 0
    for i in range(12):
        voted = service.vote(service.generate(service.start_battle("v", f"q{i}"), "v"), "v", "Tie")
        leaks += bool(voted.vote and voted.vote.identity_leak)
    assert 0 < leaks < 12
    service.leaderboard.refresh()
    view = service.board()
    assert view is not None and view.n_votes == 12 - leaks
