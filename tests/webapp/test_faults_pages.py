"""Store faults on the battle page: a clear message, never "Thanks for voting", no crash.

The database file is really deleted, or really made read-only (``chattr +i``, which
binds root too) between the answers and the vote.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from .test_pages import db, no_exceptions


@pytest.fixture
def unfreeze(db_path: Path) -> Iterator[None]:
    yield
    for file in db_path.parent.glob("arena.db*"):
        subprocess.run(["chattr", "-i", str(file)], capture_output=True)


def _ready_round(app: Callable[[], AppTest]) -> AppTest:
    at = app().run()
    at.chat_input(key="arena.prompt").set_value("Name three rivers").run()
    no_exceptions(at)
    assert not at.button(key="arena-vote-A").disabled
    return at


def _freeze(db_path: Path) -> None:
    for file in sorted(db_path.parent.glob("arena.db*")):
        if not file.name.endswith(".lock"):
            done = subprocess.run(["chattr", "+i", str(file)], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("fault", ["deleted", "read-only"])
def test_vote_on_a_broken_database_says_so(
    app: Callable[[], AppTest],
    db_path: Path,
    fault: str,
    unfreeze: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    at = _ready_round(app)
    if fault == "deleted":
        db_path.unlink()
    else:
        _freeze(db_path)
    with caplog.at_level(logging.ERROR, logger="arena.store.engine"):
        at.button(key="arena-vote-A").click().run()
    no_exceptions(at)
    errors = [str(e.value) for e in at.error]
    expected = "was deleted while the server ran" if fault == "deleted" else "has become read-only"
    assert any(expected in e and "nothing was written" in e for e in errors), errors
    assert not any("Thanks for voting" in str(s.value) for s in at.success)
    assert at.subheader[0].value == "Model A"  # nothing revealed: there was no vote
    assert any(expected in r.getMessage() for r in caplog.records)  # and in the log
    # The page still draws (the catalog comes from the cache) and says what is wrong.
    at.run()
    no_exceptions(at)
    if fault == "read-only":
        subprocess.run(["chattr", "-i", *map(str, db_path.parent.glob("arena.db*"))])
        at.button(key="arena-vote-A").click().run()  # writable again: the vote is taken
        no_exceptions(at)
        assert any("Thanks for voting" in str(s.value) for s in at.success)
        assert db(db_path) == [("model_a", True)]


def test_admin_page_on_a_read_only_database_says_so(
    app: Callable[[], AppTest], app_env: Callable[..., None], db_path: Path, unfreeze: None
) -> None:
    from .conftest import PASSWORD

    app_env(ARENA_ADMIN_PASSWORD=PASSWORD)
    at = app().run()
    at.switch_page("views/admin.py").run()
    at.text_input(key="admin.password").input(PASSWORD)
    at.button[0].click().run()
    assert [t.label for t in at.tabs] == ["Models", "Votes", "Exports"]
    _freeze(db_path)
    at.run()
    no_exceptions(at)
    assert any("The vote database cannot be read" in str(e.value) for e in at.error)
    assert any("has become read-only" in str(e.value) for e in at.error)
