"""Reading votes out: FastChat layout, the ratings table, CSV/JSONL/Parquet round trips."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from arena.battles.table import Battles
from arena.errors import UserError
from arena.store import (
    VOTE_COLUMNS,
    create_battle,
    iter_votes,
    record_vote,
    set_answers,
    upsert_models,
    votes_battles,
    votes_frame,
    write_votes,
    write_votes_file,
)

VOTES = [
    # model_a, model_b, outcome, voter, language, anonymous, identity_leak, turns
    ("alpha", "beta", "model_a", "v1", "English", True, False, ["Hi", "More, please"]),
    ("beta", "gamma", "tie", "v2", None, True, False, ['Ça va ? «quotes», "double", commas']),
    ("gamma", "alpha", "model_b", "v1", "Deutsch", False, False, ["Line one\nline two"]),
    ("alpha", "gamma", "tie (bothbad)", "v3", "English", True, True, ["I am GPT?"]),
]


@pytest.fixture
def voted(sessions: sessionmaker[Session]) -> float:
    """Store :data:`VOTES` in order; return the time before the first one."""
    start = time.time()
    with sessions.begin() as session:
        upsert_models(session, [{"name": n} for n in ("alpha", "beta", "gamma", "unused")])
    for a, b, outcome, voter, language, anonymous, leak, turns in VOTES:
        with sessions.begin() as session:
            battle = create_battle(session, a, b, turns, language=language, anonymous=anonymous)
            answers_a = [f"{a} answers {t}" for t in turns]
            answers_b = [f"{b} answers {t}" for t in turns]
            set_answers(session, battle.id, answers_a, answers_b)
            record_vote(session, battle.id, outcome, voter, identity_leak=leak)
    return start


def expected_conversation(turns: list[str], model: str) -> list[dict[str, str]]:
    messages = []
    for t in turns:
        messages += [
            {"role": "user", "content": t},
            {"role": "assistant", "content": f"{model} answers {t}"},
        ]
    return messages


def check_frame(frame: pd.DataFrame, start: float) -> None:
    assert tuple(frame.columns) == VOTE_COLUMNS
    assert len(frame) == len(VOTES)
    for row, (a, b, outcome, voter, language, anonymous, leak, turns) in zip(
        frame.itertuples(index=False), VOTES, strict=True
    ):
        assert (row.model_a, row.model_b, row.winner, row.voter) == (a, b, outcome, voter)
        assert (bool(row.anony), bool(row.identity_leak)) == (anonymous, leak)
        assert (row.language if isinstance(row.language, str) else None) == language
        assert list(cast(Any, row.conversation_a)) == expected_conversation(turns, a)
        assert list(cast(Any, row.conversation_b)) == expected_conversation(turns, b)
    tstamp = frame["tstamp"].to_numpy(float)
    assert np.all(np.diff(tstamp) >= 0)  # vote order
    assert start - 1 <= tstamp[0] and tstamp[-1] <= time.time() + 1


def test_votes_frame(sessions: sessionmaker[Session], voted: float) -> None:
    with sessions() as session:
        frame = votes_frame(session)
    check_frame(frame, voted)
    assert frame["tstamp"].dtype == np.float64 and frame["anony"].dtype == bool


def test_iter_votes_in_chunks(sessions: sessionmaker[Session], voted: float) -> None:
    with sessions() as session:
        chunks = list(iter_votes(session, chunk_size=3, conversations=False))
    assert [len(c) for c in chunks] == [3, 1]
    assert "conversation_a" not in chunks[0].columns
    with sessions() as session:
        kept = votes_frame(session, include_identity_leaks=False)
    assert len(kept) == 3 and not kept["identity_leak"].any()


def test_empty_store(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        frame = votes_frame(session)
        battles = votes_battles(session)
        buffer = io.StringIO()
        assert write_votes(session, buffer, "csv") == 0
    assert tuple(frame.columns) == VOTE_COLUMNS and len(frame) == 0
    assert len(battles) == 0
    assert buffer.getvalue().strip() == ",".join(VOTE_COLUMNS)


def test_votes_battles_for_the_ratings_engine(
    sessions: sessionmaker[Session], voted: float
) -> None:
    with sessions() as session:
        battles = votes_battles(session)
        with_leaks = votes_battles(session, include_identity_leaks=True)
    assert isinstance(battles, Battles)
    assert len(battles) == 3 and len(with_leaks) == 4
    frame = battles.to_frame()
    assert list(frame["winner"]) == ["model_a", "tie", "model_b"]
    assert list(zip(frame.model_a, frame.model_b, strict=True)) == [
        ("alpha", "beta"),
        ("beta", "gamma"),
        ("gamma", "alpha"),
    ]
    assert set(battles.models) == {"alpha", "beta", "gamma"}  # "unused" has no vote
    assert {"tstamp", "anony", "language", "voter"} <= set(battles.meta.columns)
    assert list(battles.meta["voter"]) == ["v1", "v2", "v1"]
    assert list(battles.meta["anony"]) == [True, True, False]
    assert battles.ordered


def read_fastchat_csv(path: Path) -> pd.DataFrame:
    """What a FastChat-format reader does with a CSV: conversations are JSON strings."""
    frame = pd.read_csv(path, keep_default_na=False, na_values={"language": [""]})
    for column in ("conversation_a", "conversation_b"):
        frame[column] = frame[column].map(json.loads)
    return frame


def read_jsonl(path: Path) -> pd.DataFrame:
    with path.open(encoding="utf-8") as stream:
        return pd.DataFrame([json.loads(line) for line in stream])


def read_parquet(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    for column in ("conversation_a", "conversation_b"):
        frame[column] = frame[column].map(lambda c: [dict(m) for m in c])
    return frame


@pytest.mark.parametrize(
    ("fmt", "reader"),
    [("csv", read_fastchat_csv), ("jsonl", read_jsonl), ("parquet", read_parquet)],
)
def test_file_round_trip(
    sessions: sessionmaker[Session], voted: float, tmp_path: Path, fmt: str, reader: object
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    path = out / f"votes.{fmt}"
    path.write_text("old export")
    with sessions() as session:
        assert write_votes_file(session, path, fmt, chunk_size=2) == len(VOTES)
        original = votes_frame(session)
    back = reader(path)  # type: ignore[operator]
    check_frame(back, voted)
    np.testing.assert_array_equal(back["tstamp"].to_numpy(float), original["tstamp"].to_numpy())
    assert [p.name for p in out.iterdir()] == [path.name]  # no temporary file left


def test_stream_jsonl_matches_file(sessions: sessionmaker[Session], voted: float) -> None:
    buffer = io.StringIO()
    with sessions() as session:
        assert write_votes(session, buffer, "jsonl") == len(VOTES)
        with pytest.raises(UserError, match="stream"):
            write_votes(session, io.StringIO(), "parquet")
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [r["winner"] for r in records] == [v[2] for v in VOTES]
    assert records[1]["language"] is None


def test_failed_export_keeps_the_old_file(
    sessions: sessionmaker[Session], voted: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import arena.store.export as export

    out = tmp_path / "out"
    out.mkdir()
    path = out / "votes.csv"
    path.write_text("previous export\n")

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "_write_text", broken)
    with sessions() as session, pytest.raises(RuntimeError, match="disk full"):
        write_votes_file(session, path, "csv")
    assert path.read_text() == "previous export\n"
    assert [p.name for p in out.iterdir()] == ["votes.csv"]
