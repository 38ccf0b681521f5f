"""The Leaderboard page's history: moved markers and a model's rating over the snapshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from arena.service.history import BOARD_SOURCE, moves_against
from arena.store import make_engine, make_sessionmaker
from arena.store.snapshots import save_snapshot
from tests.service.test_history import Row, constructed

from .test_leaderboard_page import open_board, vote
from .test_pages import assert_absent, no_exceptions, texts


def store(db_path: Path, rows: list[Row], sha: str) -> None:
    engine = make_engine(f"sqlite:///{db_path}")
    with make_sessionmaker(engine).begin() as session:
        save_snapshot(session, constructed(rows, sha), source=BOARD_SOURCE)
    engine.dispose()


def test_no_snapshots_no_markers_and_no_history(app: Callable[[], AppTest]) -> None:
    at = app().run()
    vote(at, 4)
    open_board(at)
    assert "Moved" not in at.dataframe[0].value.columns
    assert not any(t.startswith("Moved:") for t in texts(at))
    assert "Rating over time" not in [s.value for s in at.subheader]
    assert [s.key for s in at.selectbox] == ["lb.category"]
    assert len(at.get("vega_lite_chart")) == 2  # CI chart and heatmap only


def test_markers_and_rating_over_time(app: Callable[[], AppTest], db_path: Path) -> None:
    at = app().run()
    vote(at, 6)
    # the previous snapshot names the preview by its store name and has a retired model
    store(
        db_path,
        [("fake-gamma", 1100.0, 1040.0, 1160.0), ("Beta Chat", 1050.0, None, None),
         ("Retired Model", 900.0, 850.0, 950.0)],
        sha="a" * 64,
    )
    open_board(at)
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["Rank (UB)", "Model", "Moved"]
    expected = moves_against(list(table["Model"]), ["kestrel", "Beta Chat", "Retired Model"])
    assert dict(zip(table["Model"], table["Moved"], strict=True)) == expected
    assert expected["Alpha Chat"] == "new"
    assert any(t.startswith("Moved: places since snapshot 1 of") for t in texts(at))

    assert "Rating over time" in [s.value for s in at.subheader]
    picker = at.selectbox(key="lb.history_model")
    assert picker.options == ["kestrel", "Beta Chat", "Retired Model"]
    assert len(at.get("vega_lite_chart")) == 3
    assert any(t.startswith("kestrel over 1 snapshot(s)") for t in texts(at))
    shown = [*texts(at), *picker.options, *table["Model"], *table["Organization"]]
    assert_absent(shown, ["fake-gamma", "Gamma Chat", "Gamma Inc"])

    picker.select("Retired Model").run()
    no_exceptions(at)
    assert any(t.startswith("Retired Model over 1 snapshot(s)") for t in texts(at))
    # the category board is not what the snapshots hold: no markers there
    at.selectbox(key="lb.category").select("general").run()
    no_exceptions(at)
    assert "Moved" not in at.dataframe[0].value.columns
