"""The service draws with the configured policy and records it with every battle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from arena.errors import UserError
from arena.service import ArenaService, Choice, ServiceConfig
from arena.store import get_battle, make_sessionmaker

from .conftest import battle_id

VOTER = "visitor-sampling"


def params(service: ArenaService, ticket: str) -> dict[str, Any]:
    with make_sessionmaker(service.engine)() as session:
        return dict(get_battle(session, battle_id(ticket)).params)


def test_weighted_is_the_default_and_recorded(service: ArenaService) -> None:
    round_ = service.start_battle(VOTER, "hello")
    record = params(service, round_.ticket)["pair_sampling"]
    # three models of weight 1, one a preview: every one of the 3 pairs is allowed
    assert record == {
        "policy": "weighted",
        "pair_probability": pytest.approx(1 / 3),
        "n_pairs": 3,
        "fit_votes": None,
    }
    assert params(service, round_.ticket)["max_new_tokens"] > 0  # generation settings kept


def test_adaptive_records_its_probability_and_learns_from_votes(
    make_service: Callable[..., ArenaService],
) -> None:
    service = make_service(pair_sampling="adaptive", adaptive_refresh_s=3600.0)
    first = service.start_battle(VOTER, "one")
    record = params(service, first.ticket)["pair_sampling"]
    assert record["policy"] == "adaptive" and record["n_pairs"] == 3
    assert 0 < record["pair_probability"] <= 1
    for i in range(6):
        round_ = service.generate(service.start_battle(VOTER, f"prompt {i}"), VOTER)
        service.vote(round_, VOTER, Choice.A)
    fitted = service._uncertainty.refresh()  # what the background refit computes
    assert fitted is not None and fitted.n_votes == 6
    assert set(fitted.models) == {"fake-alpha", "fake-beta", "fake-gamma"}
    later = service.start_battle(VOTER, "after the refit")
    record = params(service, later.ticket)["pair_sampling"]
    assert record["policy"] == "adaptive" and record["fit_votes"] == 6
    # the recorded probabilities are those of one distribution over the pairs
    seen: dict[frozenset[str], float] = {}
    for i in range(40):
        r = service.start_battle(VOTER, f"draw {i}")
        with make_sessionmaker(service.engine)() as session:
            b = get_battle(session, battle_id(r.ticket))
            pair = frozenset((b.model_a.name, b.model_b.name))
            seen[pair] = b.params["pair_sampling"]["pair_probability"]
    total = sum(seen.values())
    assert total <= 1 + 1e-9
    assert min(seen.values()) >= 0.1 / 3  # the floor


def test_regenerated_battle_keeps_the_original_draw(
    make_service: Callable[..., ArenaService],
) -> None:
    service = make_service(pair_sampling="adaptive")
    first = service.generate(service.start_battle(VOTER, "one"), VOTER)
    again = service.regenerate(first, VOTER)
    assert params(service, again.ticket)["pair_sampling"] == (
        params(service, first.ticket)["pair_sampling"]
    )


def test_side_by_side_battles_record_no_draw(service: ArenaService) -> None:
    round_ = service.start_side_by_side(VOTER, "fake-alpha", "fake-beta", "compare")
    assert "pair_sampling" not in params(service, round_.ticket)


def test_policy_comes_from_the_environment_and_is_checked() -> None:
    config = ServiceConfig.from_env(
        {"ARENA_SAMPLING": "adaptive", "ARENA_ADAPTIVE_MIX": "0.5", "ARENA_ADAPTIVE_FLOOR": "0.2"}
    )
    assert config.pair_sampling == "adaptive"
    assert (config.adaptive_mix, config.adaptive_floor) == (0.5, 0.2)
    assert ServiceConfig.from_env({}).pair_sampling == "weighted"
    for env, message in (
        ({"ARENA_SAMPLING": "greedy"}, "pair sampling must be one of weighted, adaptive"),
        ({"ARENA_ADAPTIVE_MIX": "1.5"}, "mix must be in"),
        ({"ARENA_ADAPTIVE_FLOOR": "0"}, "floor must be in"),
        ({"ARENA_ADAPTIVE_FLOOR": "nan"}, "adaptive_floor must be a finite number"),
        ({"ARENA_ADAPTIVE_REFRESH_S": "-1"}, "adaptive_refresh_s must be > 0"),
        ({"ARENA_ADAPTIVE_REFRESH_S": "soon"}, "must be a number"),
    ):
        with pytest.raises(UserError, match=message):
            ServiceConfig.from_env(env)
