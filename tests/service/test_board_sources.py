"""The leaderboard over live votes and imported battles; notes; style-control floor; freshness.

Constructed data with known answers: on a tree of battles Bradley–Terry's maximum
likelihood gives each edge its observed log-odds exactly, so a live model that drew
30-30 with an imported one lands exactly on that model's public rating.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena.battles import STYLE_FEATURES, Battles
from arena.service import ArenaService, Choice
from arena.service.leaderboard import LiveLeaderboard, PublicNames, build_board
from arena.store import make_sessionmaker, vote_counts
from arena.store.imports import import_battles

NAMES = PublicNames({}, {})
POINTS = 400 / math.log(10)


def pairs(*rows: tuple[str, str, int, int]) -> Battles:
    """Battles from ``(a, b, wins of a, wins of b)`` rows."""
    a, b, outcome, count = [], [], [], []
    for x, y, wins_x, wins_y in rows:
        a += [x, x]
        b += [y, y]
        outcome += [0, 1]
        count += [wins_x, wins_y]
    return Battles.from_names(
        np.array(a, dtype=object), np.array(b, dtype=object), np.array(outcome), count=count,
        ordered=False,
    )


PUBLIC = pairs(("pub-A", "pub-B", 90, 10), ("pub-B", "pub-C", 75, 25))


def ratings(board_table: pd.DataFrame) -> dict[str, float]:
    return dict(zip(board_table["model"], board_table["rating"], strict=True))


def test_a_few_live_votes_place_a_new_model_on_the_public_scale() -> None:
    live = pairs(("our-preview", "pub-B", 30, 30))
    board = build_board(live, NAMES, source="all", imported=PUBLIC)
    assert board.leaderboard is not None and board.n_votes == 260 and board.n_imported == 200
    r = ratings(board.leaderboard.table)
    assert r["our-preview"] == pytest.approx(r["pub-B"], abs=1e-6)  # 30-30 against pub-B
    assert r["pub-A"] - r["pub-B"] == pytest.approx(POINTS * math.log(9), abs=1e-6)
    assert r["pub-B"] - r["pub-C"] == pytest.approx(POINTS * math.log(3), abs=1e-6)
    assert not any("No bridging model" in n for n in board.notes)
    alone = build_board(live, NAMES)  # live only: two models, nothing public
    assert alone.leaderboard is not None and set(ratings(alone.leaderboard.table)) == {
        "our-preview",
        "pub-B",
    }
    public = build_board(None, NAMES, source="imported", imported=PUBLIC)
    assert public.leaderboard is not None and "our-preview" not in ratings(public.leaderboard.table)


def test_without_a_bridging_model_the_board_says_so() -> None:
    live = pairs(("ours-1", "ours-2", 20, 10))
    board = build_board(live, NAMES, source="all", imported=PUBLIC)
    assert board.leaderboard is not None
    note = next(n for n in board.notes if "No bridging model" in n)
    assert "ours-1" in note and "ours-2" in note and "not on the imported scale" in note
    linked = build_board(pairs(("ours-1", "ours-2", 20, 10), ("ours-2", "pub-C", 5, 5)), NAMES,
                         source="all", imported=PUBLIC)
    assert not any("No bridging model" in n for n in linked.notes)  # linked through ours-2


def test_four_votes_say_why_ranks_are_tied_and_what_it_takes() -> None:
    board = build_board(pairs(("x", "y", 2, 2)), NAMES)
    assert board.leaderboard is not None
    assert list(board.table["Rank (UB)"]) == [1, 1]
    note = board.notes[0]
    assert note.startswith("4 votes between 2 models.")
    assert "share a rank" in note and "overlap" in note
    half = float(
        (board.leaderboard.table["ci_upper"] - board.leaderboard.table["ci_lower"]).median() / 2
    )
    expected = math.ceil(4 * (half / 25) ** 2)  # width ∝ 1/sqrt(votes)
    assert f"roughly {expected:,} votes in all" in note


def test_many_votes_need_no_projection() -> None:
    board = build_board(pairs(("x", "y", 6000, 4000), ("y", "z", 6000, 4000)), NAMES)
    assert board.leaderboard is not None
    note = board.notes[0]
    assert note.startswith("20,000 votes between 3 models.")
    assert "votes in all" not in note and "share a rank" not in note


def styled(n: int) -> Battles:
    rng = np.random.default_rng(0)
    models = np.array(["x", "y", "z"], dtype=object)
    a = rng.integers(0, 3, n)
    b = (a + rng.integers(1, 3, n)) % 3
    return Battles.from_names(
        models[a],
        models[b],
        rng.integers(0, 4, n),
        style_a=rng.integers(1, 400, (n, len(STYLE_FEATURES))),
        style_b=rng.integers(1, 400, (n, len(STYLE_FEATURES))),
        style_names=STYLE_FEATURES,
    )


def test_style_control_is_refused_below_its_documented_minimum() -> None:
    few = build_board(styled(4), NAMES, style_control=True)
    assert few.leaderboard is None and few.message is not None
    assert "Style control needs at least 60 votes" in few.message  # 10 x (2 ratings + 4)
    assert "there are 4" in few.message
    enough = build_board(styled(60), NAMES, style_control=True)
    assert enough.leaderboard is not None and enough.message is None
    half_widths = enough.leaderboard.table["ci_upper"] - enough.leaderboard.table["ci_lower"]
    assert (half_widths > 0).all()


def cast(service: ArenaService, n: int) -> None:
    for i in range(n):
        voter = f"v{i % 5}"
        round_ = service.generate(service.start_battle(voter, f"prompt {i}"), voter)
        service.vote(round_, voter, list(Choice)[i % 4])


def test_the_first_visit_after_votes_shows_them(service: ArenaService) -> None:
    """Regression: the board computed at start-up said "No votes yet" until the TTL ran out."""
    empty = service.board(wait=30)
    assert empty is not None and "No votes yet" in (empty.message or "")
    cast(service, 3)
    view = service.board(wait=15)  # within the TTL (30 s): no clock has moved
    assert view is not None and view.message is None and view.n_votes == 3
    assert view.notes[0].startswith("3 votes between")


def test_a_board_with_votes_is_not_recomputed_per_vote(service: ArenaService) -> None:
    cast(service, 4)
    service.board(wait=30)
    for thread in list(service.leaderboard._threads.values()):  # the start-up refresh
        thread.join(30)
    first = service.board()
    assert first is not None and first.n_votes == 4
    cast(service, 2)  # within the TTL a board that has votes stays as it is
    assert service.board(wait=1) is first


def test_imported_battles_feed_the_live_board(
    service: ArenaService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = tmp_path / "public.csv"
    pd.DataFrame(
        {
            "model_a": ["pub-A", "fake-beta"],
            "model_b": ["fake-beta", "pub-C"],
            "wins_a": [90, 75],
            "wins_b": [10, 25],
        }
    ).to_csv(counts, index=False)
    with make_sessionmaker(service.engine).begin() as session:
        import_battles(session, counts, "public")
    cast(service, 8)
    service.leaderboard.refresh()
    assert service.leaderboard.has_imported()
    live = service.board()
    imported = service.board(source="imported")
    both = service.board(source="all")
    assert live is not None and imported is not None and both is not None
    assert live.n_votes == 8 and imported.n_votes == 200 and both.n_votes == 208
    assert set(imported.table["Model"]) == {"pub-A", "Beta Chat", "pub-C"}  # public names
    assert set(both.table["Model"]) == {"pub-A", "pub-C", "Alpha Chat", "Beta Chat", "kestrel"}
    assert not any("No bridging model" in n for n in both.notes)  # fake-beta bridges
    assert "fake-" not in both.download("csv").decode()
    assert service.board("general", source="all") is not None
    with pytest.raises(Exception, match="unknown source"):
        service.board(source="everything")


def test_wait_for_newer_gives_up_after_the_wait(
    service: ArenaService, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = LiveLeaderboard(service._read_sessions, ttl_s=30.0)
    assert board.board(wait=30) is not None
    gate = threading.Event()
    import arena.service.leaderboard as live

    real = live._vote_counts

    def slow(session):  # type: ignore[no-untyped-def]
        gate.wait(10)
        return real(session)

    monkeypatch.setattr(live, "_vote_counts", slow)
    board.note_vote()
    view = board.board(wait=0.2)  # the refresh is held: the page gets the old board
    assert view is not None and "No votes yet" in (view.message or "")
    gate.set()
    board.close()



def test_style_board_reads_the_stored_category_like_the_counts_board(
    service: ArenaService,
) -> None:
    """One source for a vote's category: the stored one (not recomputed from the prompt)."""
    from arena.service.leaderboard import style_battles
    from arena.store import create_battle, record_vote, set_answers, start_generation

    stored = ["coding", "math", None]  # what each battle was filed under when it started
    with service._sessions.begin() as session:
        for i, category in enumerate(stored):
            battle = create_battle(
                session, "fake-alpha", "fake-beta", "hello there", category=category
            )
            start_generation(session, battle.id)
            set_answers(session, battle.id, ["Answer **one**."], ["Answer two:\n- a\n- b"])
            record_vote(session, battle.id, "model_a", f"voter-{i}")
    with service._read_sessions() as session:
        battles, categories = style_battles(session)
        counts = vote_counts(session)
    assert battles is not None and battles.n_battles == 3
    assert categories.tolist() == stored  # "hello there" alone would be filed "general"
    assert sorted(c for c in counts["category"] if isinstance(c, str)) == ["coding", "math"]
    service.leaderboard.refresh(style_control=True)
    style_view = service.leaderboard.board("math", style_control=True)
    assert style_view is not None and style_view.message is not None
    assert "No votes in the category" not in style_view.message  # filed, just too few
