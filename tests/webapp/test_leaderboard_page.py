"""The Leaderboard page: notes on few votes, the style-control floor, imported battles."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from arena.store import make_engine, make_sessionmaker
from arena.store.imports import import_battles

from .test_pages import no_exceptions, texts


def vote(at: AppTest, n: int) -> None:
    at.switch_page("views/arena.py").run()
    for i in range(n):
        at.chat_input(key="arena.prompt").set_value(f"tell a story {i}").run()
        at.button(key=f"arena-vote-{['A', 'B', 'TIE'][i % 3]}").click().run()
        at.button(key="arena.new").click().run()


def open_board(at: AppTest) -> None:
    at.switch_page("views/leaderboard.py").run()
    deadline = time.monotonic() + 30
    while not at.dataframe:
        assert time.monotonic() < deadline, texts(at)
        time.sleep(0.1)
        at.run()
    no_exceptions(at)


def test_few_votes_say_how_many_and_why_ranks_are_tied(app: Callable[[], AppTest]) -> None:
    at = app().run()
    vote(at, 4)
    open_board(at)
    shown = texts(at)
    note = next(t for t in shown if t.startswith("4 votes between"))
    assert "share a rank" in note and "votes in all" in note
    assert at.get("segmented_control") == []  # nothing imported: no source switch
    at.toggle(key="lb.style").set_value(True).run()
    no_exceptions(at)
    assert not at.dataframe  # no style-controlled scores on 4 votes ...
    assert any("Style control needs at least" in i.value for i in at.info)  # ... but why


def import_public(db_path: Path, tmp_path: Path, rows: list[tuple[str, str, int, int]]) -> None:
    counts = tmp_path / "public.csv"
    pd.DataFrame(rows, columns=["model_a", "model_b", "wins_a", "wins_b"]).to_csv(
        counts, index=False
    )
    engine = make_engine(f"sqlite:///{db_path}")
    with make_sessionmaker(engine).begin() as session:
        import_battles(session, counts, "public")
    engine.dispose()


def test_imported_battles_and_a_source_switch(
    app: Callable[[], AppTest], db_path: Path, tmp_path: Path
) -> None:
    public = [("pub-A", "fake-beta", 90, 10), ("fake-beta", "pub-C", 75, 25)]
    import_public(db_path, tmp_path, public)
    at = app().run()
    vote(at, 6)
    open_board(at)
    assert set(at.dataframe[0].value["Model"]) == {"Alpha Chat", "Beta Chat", "kestrel"}
    switch = at.segmented_control[0]
    assert switch.options == ["Live votes", "Imported", "All"]
    at.segmented_control(key="lb.source").set_value("All").run()
    no_exceptions(at)
    table = at.dataframe[0].value
    assert {"pub-A", "pub-C", "Beta Chat", "kestrel"} <= set(table["Model"])
    assert table["Votes"].sum() == 2 * (6 + 200)
    assert any("6 anonymous live votes and 200 imported battles" in t for t in texts(at))
    assert not any("No bridging model" in w.value for w in at.warning)
    at.segmented_control(key="lb.source").set_value("Imported").run()
    assert set(at.dataframe[0].value["Model"]) == {"pub-A", "Beta Chat", "pub-C"}


def test_no_bridging_model_is_said_on_the_page(
    app: Callable[[], AppTest], db_path: Path, tmp_path: Path
) -> None:
    import_public(db_path, tmp_path, [("pub-A", "pub-B", 90, 10)])
    at = app().run()
    vote(at, 3)
    open_board(at)
    at.segmented_control(key="lb.source").set_value("All").run()
    no_exceptions(at)
    warning = next(w.value for w in at.warning if "No bridging model" in w.value)
    assert "Alpha Chat" in warning and "fake-" not in warning  # public names only
