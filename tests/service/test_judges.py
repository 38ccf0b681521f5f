"""Judge leaderboards of the service: public names, the TTL cache, a reveal, the rank
correlation with the human leaderboard."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from arena.battles import from_frame
from arena.errors import UserError
from arena.service import ArenaService
from arena.service.judges import JudgeBoard, build_judge_board, rank_agreement
from arena.service.leaderboard import PublicNames, build_board
from arena.store import store_judge_battles

ORDER = ["fake-beta", "fake-alpha", "fake-gamma"]


def store(service: ArenaService, winner: str = "model_a", label: str = "/runs/j") -> None:
    battles = [
        {"model_a": ORDER[i], "model_b": ORDER[j], "winner": winner}
        for _ in range(2)
        for i in range(3)
        for j in range(i + 1, 3)
    ]
    battles.append({"model_a": ORDER[2], "model_b": ORDER[0], "winner": "model_a"})
    with service._sessions.begin() as session:
        store_judge_battles(session, label, "fake-gamma", battles)


def test_no_judge_battles(service: ArenaService) -> None:
    assert service.judges() == ()
    with pytest.raises(UserError, match="no battles of the judge 'x' are stored; judges: none"):
        service.judge_board("x")


def test_judge_board_with_public_names_cached_and_refreshed(
    make_service: Callable[..., ArenaService],
) -> None:
    service = make_service(leaderboard_ttl_s=3600)
    store(service)
    assert service.judges() == ("kestrel",)  # a preview judge: its codename
    view = service.judge_board("kestrel")
    assert list(view.table["Model"]) == ["Beta Chat", "Alpha Chat", "kestrel"]
    assert view.n_battles == 7 and view.table["Battles"].sum() == 14
    store(service, winner="model_b")  # stored again: the cache keeps the old board a while
    assert service.judge_board("kestrel") is view
    service.reveal("fake-gamma")  # names changed: read again
    assert service.judges() == ("Gamma Chat",)
    fresh = service.judge_board("Gamma Chat")
    assert fresh.table["Model"].iloc[0] == "Gamma Chat"


def test_rank_agreement_on_common_models() -> None:
    names = PublicNames({}, {})
    frame = pd.DataFrame(
        {
            "model_a": ["a", "a", "b", "a", "c"],
            "model_b": ["b", "c", "c", "d", "d"],
            "winner": ["model_a", "model_a", "model_a", "model_a", "model_a"],
        }
    )
    human = build_board(from_frame(frame, style=False), names)
    same = build_judge_board(frame, "j", names)
    agreement = rank_agreement(human, same)
    assert agreement.spearman == pytest.approx(1.0)
    assert set(agreement.models) == {"a", "b", "c", "d"}
    flipped = frame.assign(winner="model_b")
    reverse = rank_agreement(human, build_judge_board(flipped, "j", names))
    assert reverse.spearman == pytest.approx(-1.0)
    two = frame[frame["model_b"] == "b"]
    few = rank_agreement(human, build_judge_board(two, "j", names))
    assert few.spearman is None and set(few.models) == {"a", "b"}
    empty: JudgeBoard = build_judge_board(frame.iloc[:0], "j", names)
    assert empty.message is not None and rank_agreement(human, empty).spearman is None


def test_human_and_judge_tables_share_one_format() -> None:
    """The same battles shown by both boards: same ranks, names, scores and intervals."""
    names = PublicNames({}, {"a": "Org A", "b": "Org B", "c": "Org C"})
    frame = pd.DataFrame(
        {
            "model_a": ["a", "a", "b", "a", "c", "b"] * 3,
            "model_b": ["b", "c", "c", "b", "a", "a"] * 3,
            "winner": ["model_a", "model_a", "model_b", "tie", "model_b", "model_a"] * 3,
        }
    )
    human = build_board(from_frame(frame, style=False), names).table
    judge = build_judge_board(frame, "j", names).table
    assert list(human.columns) == ["Rank (UB)", "Model", "Organization", "Score", "95% CI", "Votes"]
    assert list(judge.columns) == ["Rank (UB)", "Model", "Score", "95% CI", "Battles"]
    assert list(human["Organization"]) == [f"Org {m.upper()}" for m in human["Model"]]
    assert list(human["Votes"]) == list(judge["Battles"])
    shared = ["Rank (UB)", "Model", "Score"]
    pd.testing.assert_frame_equal(human[shared], judge[shared])
    for text in [*human["95% CI"], *judge["95% CI"]]:  # "+up / -down" whole points
        up, down = text.split(" / ")
        assert up.startswith("+") and down.startswith("-")
        assert up[1:].isdigit() and down[1:].isdigit()
