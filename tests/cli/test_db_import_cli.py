"""``arena db import`` and ``arena leaderboard --database``: public battles beside live votes.

Constructed data with a known answer: on a tree of battles Bradley–Terry gives each edge
its observed log-odds, so a live model that drew 3-3 with a public one gets its rating.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from arena.cli.main import main
from arena.report import read_leaderboard_csv
from arena.store import (
    create_battle,
    make_engine,
    make_sessionmaker,
    record_vote,
    set_answers,
    upgrade,
    upsert_models,
)

POINTS = 400 / math.log(10)


@pytest.fixture
def url(tmp_path: Path) -> str:
    address = f"sqlite:///{tmp_path / 'arena.db'}"
    upgrade(address)
    return address


@pytest.fixture
def public(tmp_path: Path) -> Path:
    path = tmp_path / "public.csv"
    pd.DataFrame(
        {
            "model_a": ["pub-A", "pub-B"],
            "model_b": ["pub-B", "pub-C"],
            "wins_a": [90, 75],
            "wins_b": [10, 25],
            "tie": [0, 0],
            "tie_bothbad": [0, 0],
        }
    ).to_csv(path, index=False)
    return path


def live_votes(url: str, a: str, b: str, outcomes: list[str]) -> None:
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        upsert_models(session, [{"name": a}, {"name": b}])
        for i, outcome in enumerate(outcomes):
            battle = create_battle(session, a, b, f"prompt {i}")
            set_answers(session, battle.id, "answer a", "answer b")
            record_vote(session, battle.id, outcome, f"voter{i}")
    engine.dispose()


def test_import_twice_adds_nothing(
    url: str, public: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "import", str(public), "--source", "public", "--database", url]) == 0
    assert "imported 200 battles of 3 models as source 'public'" in capsys.readouterr().out
    assert main(["db", "import", str(public), "--source", "public", "--database", url]) == 0
    assert "already imported" in capsys.readouterr().out
    assert main(["db", "sources", "--database", url]) == 0
    assert capsys.readouterr().out.strip() == "public: 200 battles from 1 file, 0 rows skipped"


def test_bad_rows_are_reported_and_bad_input_is_one_line(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "log.csv"
    log.write_text("model_a,model_b,winner\na,b,model_a\na,a,tie\nb,a,maybe\n")
    assert main(["db", "import", str(log), "--source", "mine", "--database", url]) == 0
    out = capsys.readouterr().out
    assert "imported 1 battle of 2 models" in out and "skipped 2 rows" in out
    assert "1 row with the same model on both sides (row 2)" in out
    missing = str(tmp_path / "nope.csv")
    assert main(["db", "import", missing, "--source", "x", "--database", url]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["db", "remove-source", "mine", "--database", url]) == 0
    assert "1 imported battle deleted" in capsys.readouterr().out


def test_a_few_live_votes_place_a_model_on_the_public_scale(
    url: str, public: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "import", str(public), "--source", "public", "--database", url]) == 0
    live_votes(url, "our-preview", "pub-B", ["model_a"] * 3 + ["model_b"] * 3)
    out = tmp_path / "lb.csv"
    args = ["leaderboard", "--database", url, "--output", str(out)]
    assert main([*args, "--source", "all"]) == 0
    assert "No bridging model" not in capsys.readouterr().err
    rating = read_leaderboard_csv(out).set_index("model")["rating"]
    assert rating["our-preview"] == pytest.approx(rating["pub-B"], abs=1e-6)
    assert rating["pub-A"] - rating["pub-B"] == pytest.approx(POINTS * math.log(9), abs=1e-6)
    assert main([*args, "--source", "live"]) == 0
    assert set(read_leaderboard_csv(out)["model"]) == {"our-preview", "pub-B"}
    assert main([*args, "--source", "imported"]) == 0
    assert set(read_leaderboard_csv(out)["model"]) == {"pub-A", "pub-B", "pub-C"}


def test_without_a_bridge_the_command_says_so(
    url: str, public: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "import", str(public), "--source", "public", "--database", url]) == 0
    live_votes(url, "ours-1", "ours-2", ["model_a", "model_b", "model_a"])
    capsys.readouterr()
    assert main(["leaderboard", "--database", url, "--format", "md"]) == 0
    err = capsys.readouterr().err
    assert "No bridging model: ours-1, ours-2" in err


def test_database_flags_are_checked(
    url: str, public: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["leaderboard", str(public), "--database", url]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["leaderboard", "--database", url]) == 2
    assert "no votes to rate" in capsys.readouterr().err
    assert main(["leaderboard", "--database", url, "--style-control"]) == 2
    assert "needs the answers" in capsys.readouterr().err
    assert main(["leaderboard", str(public), "--source", "live"]) == 2
    assert "add --database" in capsys.readouterr().err


def test_style_control_on_a_few_battles_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "few.jsonl"
    rows = [
        {
            "model_a": "x",
            "model_b": "y",
            "winner": w,
            "answer_a": "# A\n" + "- item **bold** words\n" * (i + 1),
            "answer_b": "plain " * (3 * i + 1),
        }
        for i, w in enumerate(("model_a", "model_b", "model_a", "tie"))
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["leaderboard", str(log), "--style-control", "--format", "md"]) == 0
    err = capsys.readouterr().err
    assert "Style control needs at least 50 battles" in err and "there are 4" in err
    assert "4 battles between 2 models" in err
