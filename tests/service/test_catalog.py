"""The catalog's one public-name rule: what a vote reveals is what the board shows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from arena.service import ArenaService, Choice
from arena.service.catalog import PublicNames, public_label

from .conftest import write_models

VOTER = "catalog-voter"

#: A preview whose codename is another model's display name: the board must tell them
#: apart, and so must the reveal.
TWO_NOVAS = """
[[models]]
name = "fake-alpha"
backend = "fake"
display_name = "Nova"
organization = "Alpha Labs"
seed = 1

[[models]]
name = "fake-gamma"
backend = "fake"
display_name = "Gamma Chat"
organization = "Gamma Inc"
codename = "Nova"
seed = 3
"""


def _vote_once(service: ArenaService) -> dict[str, str]:
    """One battle voted; public name revealed per side's store name order (a, b)."""
    ready = service.generate(service.start_battle(VOTER, "Name a river."), VOTER)
    voted = service.vote(ready, VOTER, Choice.A)
    assert voted.vote is not None
    return {"a": voted.vote.label_a, "b": voted.vote.label_b}


def test_revealed_names_are_the_boards_names(
    tmp_path: Path, make_service: Callable[..., ArenaService]
) -> None:
    service = make_service(write_models(tmp_path, TWO_NOVAS, "novas.toml"))
    revealed = set(_vote_once(service).values())
    assert revealed == {"Nova", "Nova #2"}  # never "Nova" twice: the voter could not tell
    view = service.board(wait=60)
    assert view is not None and view.leaderboard is not None
    assert set(view.table["Model"]) == revealed
    assert dict(zip(view.table["Model"], view.table["Organization"], strict=True)) == {
        "Nova": "Alpha Labs",
        "Nova #2": "Preview",  # the preview's maker stays hidden
    }

    service.reveal("fake-gamma")  # announced: its real name, on the board and in reveals
    revealed = set(_vote_once(service).values())
    assert revealed == {"Nova", "Gamma Chat"}
    service.leaderboard.refresh()
    view = service.board()
    assert view is not None and set(view.table["Model"]) == revealed


def test_side_by_side_offers_the_boards_names(
    tmp_path: Path, make_service: Callable[..., ArenaService]
) -> None:
    service = make_service(write_models(tmp_path, TWO_NOVAS, "novas.toml"))
    assert [m.label for m in service.side_by_side_models()] == ["Nova"]  # preview hidden
    service.reveal("fake-gamma")
    assert sorted(m.label for m in service.side_by_side_models()) == ["Gamma Chat", "Nova"]


def test_public_label_is_the_rule_the_names_number() -> None:
    class Row:
        def __init__(self, name: str, display: str, codename: str | None) -> None:
            self.name, self.display_name, self.codename = name, display, codename
            self.organization: str | None = "Org"

    rows = [Row("a", "Nova", None), Row("b", "Gamma", "Nova"), Row("c", "Nova", None)]
    names = PublicNames.from_models(rows)
    assert [public_label(r) for r in rows] == ["Nova", "Nova", "Nova"]
    assert [names.of(r.name) for r in rows] == ["Nova", "Nova #2", "Nova #3"]
    assert names.organization == {"a": "Org", "b": "Preview", "c": "Org"}
