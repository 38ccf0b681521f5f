"""A model's standing on constructed battles whose answer is known."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.special import ndtri

from arena.campaign import battles_to_separate, model_standing
from arena.campaign.standing import _fit_covariance, battles_to_separate_spread
from arena.cli.main import main
from arena.leaderboard import compute_leaderboard

from .conftest import expected_battles, sampled_battles

#: Two clear leaders, a tight middle pair, a clear last.
RATINGS = {"top": 1200.0, "second": 1100.0, "mid-a": 1003.0, "mid-b": 1000.0, "last": 850.0}


def test_standing_matches_the_leaderboard_and_names_the_tied_models() -> None:
    battles = expected_battles(RATINGS, 400, tie_share=0.3)
    standing = model_standing(battles, "mid-a", rounds=60)
    overall = standing.categories[0]
    table = compute_leaderboard(battles).table.set_index("model")
    assert overall.category is None
    assert overall.rating == pytest.approx(table.loc["mid-a", "rating"])
    assert overall.ci_lower == pytest.approx(table.loc["mid-a", "ci_lower"])
    assert overall.rank_ub == table.loc["mid-a", "rank_ub"] == 3
    assert overall.tied == ("mid-b",)  # 3 points apart with 1,600 battles each
    assert sum(overall.rank_probabilities.values()) == pytest.approx(1.0)
    assert set(overall.rank_probabilities) <= {3, 4}  # never above "second" or below "last"
    assert 0.3 < overall.rank_probabilities[3] < 1.0
    leader = model_standing(battles, "top", rounds=30).categories[0]
    assert leader.tied == () and leader.rank_probabilities == {1: 1.0}
    assert leader.separations == ()


def test_votes_needed_has_the_closed_form_of_two_models() -> None:
    # two models, n battles at p = 1/2: Var(diff) = 1 / (n w), each centred sd half of it;
    # the intervals clear once z / sqrt((n + m) w) < gap, i.e. m = z^2 / (w gap^2) - n
    n, gap = 1000.0, 0.05
    w = 1 / (1 + math.exp(-gap)) * (1 / (1 + math.exp(gap)))
    cov = np.array([[1.0, -1.0], [-1.0, 1.0]]) / (4 * n * w)
    theta = np.array([gap / 2, -gap / 2])
    z = float(ndtri(0.975))
    expected = z**2 / (w * gap**2) - n
    got = battles_to_separate(cov, theta, (0, 1), (0, 1), level=0.95)
    assert got == pytest.approx(expected, rel=1e-6)
    # ties make each battle more informative about the score: w^2 / (w - tau / 4)
    with_ties = battles_to_separate(cov, theta, (0, 1), (0, 1), level=0.95, tie_share=0.4)
    w_eff = w * w / (w - 0.1)
    assert with_ties == pytest.approx(z**2 / (w_eff * gap**2) - n * w / w_eff, rel=1e-6)
    # already separated: nothing more is needed
    assert battles_to_separate(cov, theta * 40, (0, 1), (0, 1)) == 0.0


def _width(battles: Any, i: int, j: int) -> float:
    _, cov, _ = _fit_covariance(battles)
    return float(ndtri(0.975)) * (math.sqrt(cov[i, i]) + math.sqrt(cov[j, j]))


@pytest.mark.parametrize("tie_share", [0.0, 0.35])
def test_projected_battles_give_the_projected_interval_widths(tie_share: float) -> None:
    """Adding the projected battles (at their expected outcomes) to the data and refitting
    with the engine's sandwich makes the two intervals just touch: the derivation holds."""
    ratings = {"a": 1040.0, "b": 1020.0, "c": 1000.0, "d": 960.0}
    battles = expected_battles(ratings, 300, tie_share=tie_share)
    theta, cov, _ = _fit_covariance(battles)
    i, j = battles.models.index("b"), battles.models.index("c")
    gap = abs(theta[i] - theta[j])
    assert _width(battles, i, j) > gap  # tied now
    # every pairing of b or c that can separate them on its own
    names = battles.models
    checked = 0
    for played in [(x, y) for x in ("b", "c") for y in names if y != x]:
        a, b = names.index(played[0]), names.index(played[1])
        n = battles_to_separate(cov, theta, (i, j), (a, b), tie_share=tie_share)
        assert n > 0
        if math.isinf(n):
            continue
        checked += 1
        extra = expected_battles(ratings, {played: round(n)}, tie_share=tie_share, pairs=[played])
        more = type(battles).concat([battles, extra])
        k = more.models.index
        assert _width(more, k("b"), k("c")) == pytest.approx(gap, rel=0.03)
    assert checked >= 2
    spread = battles_to_separate_spread(cov, theta, (i, j), tie_share=tie_share)
    assert 0 < spread < math.inf


def test_a_pairing_that_can_never_separate_says_so() -> None:
    battles = expected_battles(RATINGS, 400)
    theta, cov, _ = _fit_covariance(battles)
    i, j = battles.models.index("mid-a"), battles.models.index("mid-b")
    # the direct pairing pins the difference but not each model's own interval
    assert battles_to_separate(cov, theta, (i, j), (i, j)) == math.inf
    standing = model_standing(battles, "mid-a", rounds=20).categories[0]
    (sep,) = standing.separations
    assert sep.opponent == "mid-b" and sep.gap == pytest.approx(3.0, abs=0.5)
    assert sep.direct is None
    assert sep.spread is not None and sep.spread > 0


def test_categories_are_reported_separately(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = sampled_battles({"x": 1100.0, "y": 1000.0, "z": 900.0}, 60, rng)
    for k, row in enumerate(rows):
        row["category_tag"] = {"criteria_v0.1": {}, "math_v0.1": {"math": k % 2 == 0}}
    path = tmp_path / "battles.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "standing.json"
    assert main(["standing", "y", str(path), "--rounds", "20", "--format", "json",
                 "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    cats = [c["category"] for c in report["categories"]]
    assert cats[0] is None and "math" in cats
    by = {c["category"]: c for c in report["categories"]}
    assert by["math"]["n_battles"] < by[None]["n_battles"]
    assert report["model"] == "y" and report["source"] == str(path)


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "b.jsonl"
    rows = sampled_battles({"x": 1100.0, "y": 1000.0}, 30, np.random.default_rng(0))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["standing", "why", str(path)]) == 2
    assert "no model 'why'" in capsys.readouterr().err
    assert main(["standing", "x", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["standing", "x", str(path), "--admin"]) == 2
    assert "--admin applies to the votes database" in capsys.readouterr().err
    assert main(["standing", "x", str(path), "--reweight"]) == 2
    assert "--reweight needs the votes database" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["standing", "x", str(path), "--level", "95"])
    assert "strictly between 0 and 1" in capsys.readouterr().err


MODELS = [
    {"name": "our-preview", "organization": "Our Lab", "codename": "kestrel"},
    {"name": "rival-one", "organization": "Rival"},
    {"name": "rival-two", "organization": "Other"},
]


def _db(make_votes_db: Callable[..., str]) -> str:
    rng = np.random.default_rng(5)
    rows = sampled_battles(
        {"our-preview": 1050.0, "rival-one": 1000.0, "rival-two": 950.0}, 40, rng
    )
    return make_votes_db(MODELS, rows)


def test_database_keeps_the_preview_codename(
    make_votes_db: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = _db(make_votes_db)
    assert main(["standing", "kestrel", "--database", url, "--rounds", "10"]) == 0
    text = capsys.readouterr().out
    assert "Standing of kestrel" in text and "our-preview" not in text and "Our Lab" not in text
    # asking by the real name tells nothing about which codename it has
    assert main(["standing", "our-preview", "--database", url]) == 2
    err = capsys.readouterr().err
    assert "known here only by its codename" in err and "kestrel" not in err


def test_admin_sees_real_names_with_the_password(
    make_votes_db: Callable[..., str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = _db(make_votes_db)
    monkeypatch.delenv("ARENA_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("secret\n"))
    assert main(["standing", "our-preview", "--database", url, "--admin"]) == 2
    assert "set $ARENA_ADMIN_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("ARENA_ADMIN_PASSWORD", "secret")
    monkeypatch.setattr("sys.stdin", io.StringIO("guess\n"))
    assert main(["standing", "our-preview", "--database", url, "--admin"]) == 2
    assert "wrong admin password" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("secret\n"))
    assert main(["standing", "our-preview", "--database", url, "--admin", "--rounds", "10"]) == 0
    assert "Standing of our-preview" in capsys.readouterr().out


def test_reweight_uses_the_recorded_draws(
    make_votes_db: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    from arena.campaign.data import load_database, reweighted

    rng = np.random.default_rng(9)
    truth = {"rival-one": 1000.0, "rival-two": 950.0, "our-preview": 1020.0}
    rows = sampled_battles(truth, 30, rng)
    for i, row in enumerate(rows):
        p = 0.5 if row["model_a"] == "rival-one" and row["model_b"] == "rival-two" else 0.25
        row["params"] = {"pair_sampling": {"policy": "adaptive", "pair_probability": p,
                                           "n_pairs": 3, "fit_votes": i}}
    url = make_votes_db(MODELS, rows)
    data = reweighted(load_database(url))
    assert sorted(set(np.round(data.battles.weight, 6))) == [pytest.approx(2 / 3),
                                                              pytest.approx(4 / 3)]
    assert main(["standing", "kestrel", "--database", url, "--reweight", "--rounds", "10",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["reweighted"] is True
    # a database without records, and a corrupt record, are refused with one line
    two = {"rival-one": 1000.0, "rival-two": 990.0}
    plain = make_votes_db(MODELS, sampled_battles(two, 5, rng))
    assert main(["standing", "rival-one", "--database", plain, "--reweight"]) == 2
    assert "needs the pair-sampling records" in capsys.readouterr().err
    rows[0]["params"] = {"pair_sampling": {"pair_probability": 0.0, "n_pairs": 3}}
    bad = make_votes_db(MODELS, rows)
    assert main(["standing", "kestrel", "--database", bad, "--reweight"]) == 2
    assert "probability in (0, 1]" in capsys.readouterr().err
