"""FitSpec: a leaderboard's choices, checked once, given as a record or as keywords."""

from __future__ import annotations

import numpy as np
import pytest

from arena.battles import Battles
from arena.errors import UserError
from arena.leaderboard import FitSpec, compute_leaderboard
from arena.ratings.scale import RatingScale


def battles() -> Battles:
    a = np.array([0, 1, 2, 0, 1, 2, 0, 2])
    b = np.array([1, 2, 0, 2, 0, 1, 1, 0])
    outcome = np.array([0, 1, 2, 0, 3, 1, 1, 0])
    return Battles.from_codes(["x", "y", "z"], a, b, outcome)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"method": "glicko"}, "unknown method 'glicko'; expected one of bt, davidson, elo"),
        ({"ci": "wald"}, "unknown interval kind 'wald'"),
        ({"ci": "bootstrap", "rounds": 1}, "--rounds must be at least 2"),
        ({"level": 1.0}, "confidence level must be between 0 and 1, got 1.0"),
        ({"method": "elo", "ci": "sandwich"}, "sandwich intervals are defined for the bt"),
        ({"method": "elo", "ci": "none", "style_control": True}, "needs a likelihood fit"),
        ({"method": "davidson", "style_control": True}, "for --method bt only"),
        ({"anchor": ("x", float("inf"))}, "anchor rating for 'x' must be a finite number"),
    ],
)
def test_a_spec_that_cannot_be_fitted_is_refused_when_made(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        FitSpec(**fields)  # type: ignore[arg-type]


def test_a_spec_and_its_keywords_give_the_same_leaderboard() -> None:
    spec = FitSpec(method="bt", ci="bootstrap", rounds=5, seed=3, anchor=("y", 1200.0))
    by_spec = compute_leaderboard(battles(), spec)
    by_keywords = compute_leaderboard(
        battles(), method="bt", ci="bootstrap", rounds=5, seed=3, anchor=("y", 1200.0)
    )
    assert by_spec.params == by_keywords.params
    assert by_spec.table.equals(by_keywords.table)
    row = by_spec.table.set_index("model").loc["y"]
    assert row["rating"] == pytest.approx(1200.0)  # the anchor holds


def test_a_spec_and_keywords_together_or_an_unknown_keyword_are_errors() -> None:
    with pytest.raises(TypeError, match="not both"):
        compute_leaderboard(battles(), FitSpec(), method="elo")
    with pytest.raises(TypeError, match="k_facter"):
        compute_leaderboard(battles(), k_facter=8.0)


def test_an_anchor_that_is_not_rated_names_the_closest_models() -> None:
    spec = FitSpec(anchor=("zz", 1000.0))
    with pytest.raises(UserError, match="anchor model 'zz' is not among the rated models"):
        compute_leaderboard(battles(), spec)


def test_the_spec_s_scale_is_the_table_s() -> None:
    spec = FitSpec(ci="none", scale=RatingScale(scale=100.0, base=np.e, offset=0.0))
    table = compute_leaderboard(battles(), spec).table
    assert table["rating"].mean() == pytest.approx(0.0, abs=1e-9)
    assert spec.params(None)["scale"] == 100.0
