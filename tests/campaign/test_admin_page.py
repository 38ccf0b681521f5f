"""The admin page's standing section, headless (Streamlit's AppTest)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from arena.store import (
    create_battle,
    make_engine,
    make_sessionmaker,
    record_vote,
    set_answers,
    start_generation,
)
from tests.webapp.conftest import PASSWORD, app, app_env, db_path, webapp_template

__all__ = ["app", "app_env", "db_path", "webapp_template"]  # fixtures of the web-app tests


def _vote(db: Path, rows: list[tuple[str, str, str]]) -> None:
    engine = make_engine(f"sqlite:///{db}")
    try:
        with make_sessionmaker(engine).begin() as session:
            for i, (a, b, outcome) in enumerate(rows):
                battle = create_battle(session, a, b, f"prompt {i}", voter="v")
                start_generation(session, battle.id)
                set_answers(session, battle.id, "x", "y")
                record_vote(session, battle.id, outcome, "v")
    finally:
        engine.dispose()


def test_admin_page_shows_a_models_standing(
    app: Callable[[], AppTest], app_env: Callable[..., None], db_path: Path
) -> None:
    app_env(ARENA_ADMIN_PASSWORD=PASSWORD)
    at = app().run()
    at.switch_page("views/admin.py").run()
    at.text_input(key="admin.password").input(PASSWORD)
    at.button[0].click().run()
    at.selectbox(key="admin.standing.model").select("fake-gamma").run()
    at.button(key="admin.standing.go").click().run()
    assert [e.value for e in at.exception] == []
    assert any("no votes" in i.value for i in at.info)  # nothing to analyse yet
    pairs = [("fake-alpha", "fake-beta"), ("fake-beta", "fake-gamma"), ("fake-alpha", "fake-gamma")]
    rows = [(a, b, ("model_a", "model_b", "tie")[i % 3]) for i in range(30) for a, b in pairs]
    _vote(db_path, rows)
    at.button(key="admin.standing.go").click().run()
    assert [e.value for e in at.exception] == []
    shown = "\n".join(m.value for m in at.markdown)
    # the admin sees the preview's real name (its codename is "kestrel")
    assert "Standing of fake-gamma" in shown and "Rank (UB)" in shown


def test_admin_page_stores_a_leaderboard_snapshot(
    app: Callable[[], AppTest], app_env: Callable[..., None], db_path: Path
) -> None:
    from arena.store.snapshots import list_snapshots

    app_env(ARENA_ADMIN_PASSWORD=PASSWORD)
    pairs = [("fake-alpha", "fake-beta"), ("fake-beta", "fake-gamma"), ("fake-alpha", "fake-gamma")]
    at = app().run()  # the app writes the models first
    _vote(db_path, [(a, b, "model_a") for _ in range(5) for a, b in pairs])
    at.switch_page("views/admin.py").run()
    at.text_input(key="admin.password").input(PASSWORD)
    at.button[0].click().run()
    at.button(key="admin.snapshot").click().run()
    assert [e.value for e in at.exception] == []
    assert any("Stored the leaderboard as snapshot 1" in i.value for i in at.info)
    engine = make_engine(f"sqlite:///{db_path}")
    try:
        with make_sessionmaker(engine)() as session:
            (snapshot,) = list_snapshots(session)
    finally:
        engine.dispose()
    assert snapshot.n_battles == 15 and snapshot.source == "the web app's live votes"
