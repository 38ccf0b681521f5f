"""The Leaderboard page's history: moved markers since the previous snapshot, a model over time."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import pandas as pd

from arena.battles.table import Battles, Outcome
from arena.leaderboard import compute_leaderboard
from arena.records import Leaderboard
from arena.service import ArenaService
from arena.service.history import BOARD_SOURCE, HISTORY_COLUMNS, moves_against
from arena.store import make_sessionmaker
from arena.store.snapshots import save_snapshot

from .test_leaderboard import cast

Row = tuple[str, float, float | None, float | None]


def constructed(rows: Sequence[Row], sha: str) -> Leaderboard:
    """A leaderboard record whose table is ``rows`` (model, rating, lower, upper), best first."""
    base = compute_leaderboard(
        Battles.from_names(["x", "y", "x"], ["y", "x", "y"], [Outcome.A, Outcome.B, Outcome.A]),
        method="bt",
        ci="none",
    )
    table = pd.DataFrame(
        {
            "model": [r[0] for r in rows],
            "rank_ub": list(range(1, len(rows) + 1)),
            "rating": [r[1] for r in rows],
            "ci_lower": [math.nan if r[2] is None else r[2] for r in rows],
            "ci_upper": [math.nan if r[3] is None else r[3] for r in rows],
            "battles": [10] * len(rows),
        }
    )
    return dataclasses.replace(base, columns=table, data_sha256=sha, n_models=len(rows))


def store(service: ArenaService, rows: Sequence[Row], sha: str, source: str = BOARD_SOURCE) -> int:
    with make_sessionmaker(service.engine).begin() as session:
        return save_snapshot(session, constructed(rows, sha), source=source)


def test_markers_are_places_gained_lost_or_new() -> None:
    got = moves_against(["a", "b", "c", "e", "d"], ["b", "c", "a", "e"])
    assert got == {"a": "↑2", "b": "↓1", "c": "↓1", "d": "new", "e": "="}
    assert moves_against(["a"], []) == {"a": "new"}


def test_moves_and_history_against_constructed_snapshots(
    make_service: Callable[..., ArenaService],
) -> None:
    service = make_service(leaderboard_ttl_s=0)
    cast(service, 30)
    service.leaderboard.refresh()
    view = service.board()
    assert view is not None and view.leaderboard is not None
    assert service.board_moves(view) is None  # no snapshot yet: no markers, no history
    assert service.history_models() == ()
    assert service.model_history("kestrel").empty

    now = list(view.leaderboard.table["model"])
    assert sorted(now) == ["Alpha Chat", "Beta Chat", "kestrel"]
    # The previous snapshot: stored by an older process under the preview's store name,
    # with a model that has left since, and no interval for the preview.
    store(service, [("fake-gamma", 1100.0, None, None), ("Beta Chat", 1050.0, 1000.0, 1090.0),
                    ("Retired Model", 900.0, 850.0, 950.0)], sha="a" * 64)
    moves = service.board_moves(view)
    assert moves is not None
    expected = moves_against(now, ["kestrel", "Beta Chat", "Retired Model"])
    assert moves.markers == expected and moves.markers["Alpha Chat"] == "new"
    shown = moves.annotate(view.table)
    assert list(shown.columns[:3]) == ["Rank (UB)", "Model", "Moved"]
    assert list(shown["Moved"]) == [expected[m] for m in view.table["Model"]]
    # the newest snapshot's models, public names only (the store name is relabelled)
    assert service.history_models() == ("kestrel", "Beta Chat", "Retired Model")

    # A snapshot of the very board shown is skipped: markers still say what moved since
    # the snapshot before it. One from other battles (arena leaderboard FILE) is ignored.
    current_id = service.store_snapshot()
    store(service, [("Alpha Chat", 1.0, None, None)], sha="b" * 64, source="/data/x.json")
    again = service.board_moves(view)
    assert again is not None and again.markers == expected and again.snapshot != current_id
    assert service.history_models() == tuple(now)

    points = service.model_history("kestrel")
    assert list(points.columns) == list(HISTORY_COLUMNS)
    assert len(points) == 2 and list(points["snapshot"]) == [moves.snapshot, current_id]
    first, last = points.iloc[0], points.iloc[1]
    assert first["rating"] == first["ci_lower"] == first["ci_upper"] == 1100.0  # band at the line
    assert first["place"] == 1
    row = view.leaderboard.table.set_index("model").loc["kestrel"]
    assert last["rating"] == row["rating"] and last["ci_lower"] == row["ci_lower"]
    assert last["place"] == now.index("kestrel") + 1
    assert len(service.model_history("Retired Model")) == 1
    assert len(service.model_history("Alpha Chat")) == 1  # the other-source point left out
    # a preview's store or display name finds nothing: it is only known by its codename
    assert service.model_history("fake-gamma").empty
    assert service.model_history("Gamma Chat").empty

    # other boards than the one the snapshots hold get no markers
    for other in (service.board("general"), service.board(style_control=True)):
        assert other is None or service.board_moves(other) is None

    # revealed: the store-name point is shown under the real name; the point stored
    # while it was a preview stays under its codename (no record of past codenames)
    service.reveal("fake-gamma")
    revealed = service.model_history("Gamma Chat")
    assert list(revealed["snapshot"]) == [moves.snapshot]
    assert list(service.model_history("kestrel")["snapshot"]) == [current_id]


def test_snapshots_are_cached_until_one_is_stored(
    make_service: Callable[..., ArenaService],
) -> None:
    service = make_service(leaderboard_ttl_s=3600)
    cast(service, 12)
    assert service.history_models() == ()
    store(service, [("Beta Chat", 1000.0, 990.0, 1010.0)], sha="c" * 64)
    assert service.history_models() == ()  # within the TTL: the cached (empty) list
    service.store_snapshot()  # storing through the service reads them again
    assert len(service.history_models()) == 3
    points = service.model_history("Beta Chat")
    assert len(points) == 2 and points["rating"].iloc[0] == 1000.0
