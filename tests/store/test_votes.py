"""The vote API on SQLite and PostgreSQL: models, battle life cycle, one vote per battle."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from arena.errors import UserError
from arena.store import (
    OUTCOMES,
    AlreadyVoted,
    Battle,
    BattleNotReady,
    BattleStatus,
    InvalidOutcome,
    InvalidTransition,
    Model,
    ModelSpec,
    StoreError,
    UnknownBattle,
    UnknownModel,
    Vote,
    VoteError,
    Voter,
    add_turn,
    create_battle,
    get_battle,
    list_models,
    mark_failed,
    record_vote,
    set_answers,
    start_generation,
    upsert_models,
    vote_stats,
)

CONFIG: list[dict[str, Any]] = [
    {
        "name": "gpt-4o",
        "display_name": "GPT-4o",
        "organization": "OpenAI",
        "license": "Proprietary",
    },
    {"name": "llama-3-70b", "organization": "Meta", "licence": "Llama 3", "sampling_weight": 2},
    {
        "name": "preview-x",
        "codename": "anonymous-chatbot",
        "backend": {"provider": "openai", "model": "x", "base_url": "http://localhost:8000/v1"},
    },
]


def ready_battle(
    session: Session, a: str = "gpt-4o", b: str = "llama-3-70b", *, anonymous: bool = True
) -> int:
    battle = create_battle(
        session, a, b, "Why is the sky blue?", language="English", anonymous=anonymous
    )
    start_generation(session, battle.id)
    set_answers(
        session,
        battle.id,
        "Rayleigh scattering.",
        "Because of the air.",
        latency_a=1.5,
        latency_b=0.7,
    )
    return battle.id


@pytest.fixture
def models(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        upsert_models(session, CONFIG)


def count(sessions: sessionmaker[Session], table: type[object]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


# ---------------------------------------------------------------------------- models
def test_upsert_models_inserts_then_updates(sessions: sessionmaker[Session], models: None) -> None:
    with sessions() as session:
        rows = {m.name: m for m in list_models(session)}
    assert rows["gpt-4o"].display_name == "GPT-4o"
    assert rows["gpt-4o"].licence == "Proprietary"
    assert rows["llama-3-70b"].display_name == "llama-3-70b"
    assert rows["llama-3-70b"].sampling_weight == 2.0
    assert rows["preview-x"].codename == "anonymous-chatbot"
    assert rows["preview-x"].backend["base_url"] == "http://localhost:8000/v1"
    assert all(m.active for m in rows.values())
    first_id = rows["gpt-4o"].id

    with sessions.begin() as session:
        upsert_models(
            session,
            [
                ModelSpec("gpt-4o", display_name="GPT-4o (May)", sampling_weight=0.5),
                {"name": "new"},
            ],
            deactivate_missing=True,
        )
    with sessions() as session:
        rows = {m.name: m for m in list_models(session)}
        active = [m.name for m in list_models(session, active_only=True)]
    assert rows["gpt-4o"].id == first_id
    assert rows["gpt-4o"].display_name == "GPT-4o (May)"
    assert not rows["llama-3-70b"].active and not rows["preview-x"].active
    assert active == ["gpt-4o", "new"]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"name": "a", "colour": "red"}], "unknown key"),
        ([{"display_name": "no name"}], "without a name"),
        ([{"name": "a", "sampling_weight": -1}], "sampling_weight"),
        ([{"name": "a", "active": "yes"}], "active"),
        ([{"name": "a"}, {"name": "a"}], "more than once"),
        ([{"name": "a", "codename": "c"}, {"name": "b", "codename": "c"}], "codename"),
    ],
)
def test_bad_model_config_writes_nothing(
    sessions: sessionmaker[Session], entries: list[dict[str, object]], message: str
) -> None:
    with sessions.begin() as session:
        session.add(Voter(token="kept"))  # the caller's own work in the same transaction
        with pytest.raises(StoreError, match=message):
            upsert_models(session, entries)
    assert count(sessions, Model) == 0
    assert count(sessions, Voter) == 1


# ---------------------------------------------------------------------------- battles
def test_battle_life_cycle(sessions: sessionmaker[Session], models: None) -> None:
    with sessions.begin() as session:
        battle = create_battle(
            session, "gpt-4o", "llama-3-70b", "Hello", category="chat", params={"temperature": 0.7}
        )
        assert battle.status == BattleStatus.PENDING
        battle_id = battle.id
        start_generation(session, battle_id)
        with pytest.raises(InvalidTransition, match="it is generating"):
            start_generation(session, battle_id)
        with pytest.raises(StoreError, match="1 user turn"):
            set_answers(session, battle_id, ["a", "b"], ["c", "d"])
        set_answers(session, battle_id, "Hi!", "Hello there.", latency_a=0.1, latency_b=0.2)
        add_turn(session, battle_id, "And goodbye?")
        set_answers(session, battle_id, ["Hi!", "Bye."], ["Hello there.", "Farewell."])
    with sessions() as session:
        battle = get_battle(session, battle_id)
        assert battle.status == BattleStatus.READY
        assert battle.conversation.turns == ["Hello", "And goodbye?"]
        assert battle.answers_b == ["Hello there.", "Farewell."]
        assert battle.params == {"temperature": 0.7}
        assert battle.model_a.name == "gpt-4o" and battle.model_b.name == "llama-3-70b"
        assert battle.created_at is not None


def test_failed_battle(sessions: sessionmaker[Session], models: None) -> None:
    with sessions.begin() as session:
        battle_id = create_battle(session, "gpt-4o", "preview-x", "Hello").id
        mark_failed(session, battle_id, "side B: timeout after 60 s")
    with sessions.begin() as session:
        battle = get_battle(session, battle_id)
        assert (battle.status, battle.error) == ("failed", "side B: timeout after 60 s")
        with pytest.raises(InvalidTransition, match="it is failed"):
            set_answers(session, battle_id, "a", "b")
        with pytest.raises(BattleNotReady, match="failed"):
            record_vote(session, battle_id, "model_a", "v1")


def test_create_battle_errors(sessions: sessionmaker[Session], models: None) -> None:
    with sessions.begin() as session:
        with pytest.raises(UnknownModel, match="'nobody'"):
            create_battle(session, "gpt-4o", "nobody", "Hello")
        with pytest.raises(StoreError, match="two different models"):
            create_battle(session, "gpt-4o", "gpt-4o", "Hello")
        with pytest.raises(StoreError, match="prompt"):
            create_battle(session, "gpt-4o", "llama-3-70b", [])
        with pytest.raises(UnknownBattle):
            get_battle(session, 12345)
        with pytest.raises(UnknownBattle):
            mark_failed(session, 12345, "x")


def test_database_constraints_back_the_api(sessions: sessionmaker[Session], models: None) -> None:
    """Rows written around the API still cannot break the invariants."""
    from sqlalchemy.exc import IntegrityError

    with sessions.begin() as session:
        battle_id = ready_battle(session)
        record_vote(session, battle_id, "tie", "v1")
    statements = [
        f"INSERT INTO votes (battle_id, outcome, voter_id) VALUES ({battle_id}, 'tie', 1)",
        "UPDATE votes SET outcome = 'draw'",
        "UPDATE battles SET status = 'done'",
        "UPDATE battles SET model_b_id = model_a_id",
    ]
    for statement in statements:
        with pytest.raises(IntegrityError), sessions.begin() as session:
            session.execute(text(statement))


# ---------------------------------------------------------------------------- votes
def test_one_vote_per_battle(sessions: sessionmaker[Session], models: None) -> None:
    with sessions.begin() as session:
        battle_id = ready_battle(session)
    with sessions.begin() as session:
        vote = record_vote(session, battle_id, "model_b", "voter-1", identity_leak=True)
        assert (vote.outcome, vote.anonymous, vote.identity_leak) == ("model_b", True, True)
    for outcome, voter in (("model_a", "voter-2"), ("model_b", "voter-1")):
        with pytest.raises(AlreadyVoted, match="already has its vote"), sessions.begin() as session:
            record_vote(session, battle_id, outcome, voter)
    with sessions() as session:
        votes = session.execute(select(Vote.outcome, Voter.token).join(Voter)).all()
        assert [tuple(v) for v in votes] == [("model_b", "voter-1")]
        assert get_battle(session, battle_id).status == BattleStatus.VOTED
    assert count(sessions, Voter) == 1  # voter-2's token was not registered either


def test_duplicate_is_caught_by_the_unique_constraint(
    sessions: sessionmaker[Session], models: None
) -> None:
    """Two sessions both see the battle ready; the database takes only one vote."""
    with sessions.begin() as session:
        battle_id = ready_battle(session)
    with sessions.begin() as session:
        record_vote(session, battle_id, "model_a", "fast")
        # Simulate a racer that read the battle before that vote committed.
        session.execute(text(f"UPDATE battles SET status = 'ready' WHERE id = {battle_id}"))
    with pytest.raises(AlreadyVoted), sessions.begin() as session:
        record_vote(session, battle_id, "model_b", "slow")
    assert count(sessions, Vote) == 1


@pytest.mark.parametrize(
    ("prepare", "outcome", "error", "message"),
    [
        ("none", "model_a", UnknownBattle, "no battle"),
        ("pending", "model_a", BattleNotReady, "is pending"),
        ("generating", "tie", BattleNotReady, "is generating"),
        (
            "ready",
            "draw",
            InvalidOutcome,
            "expected one of model_a, model_b, tie, tie \\(bothbad\\)",
        ),
        ("ready", "Model_A", InvalidOutcome, "invalid outcome"),
    ],
)
def test_rejected_votes_write_nothing(
    sessions: sessionmaker[Session],
    models: None,
    prepare: str,
    outcome: str,
    error: type[VoteError],
    message: str,
) -> None:
    with sessions.begin() as session:
        battle_id = 9999
        if prepare != "none":
            battle_id = create_battle(session, "gpt-4o", "llama-3-70b", "Hi").id
        if prepare in ("generating", "ready"):
            start_generation(session, battle_id)
        if prepare == "ready":
            set_answers(session, battle_id, "a", "b")
    with sessions.begin() as session:
        session.add(Voter(token="callers-own-work"))
        session.flush()
        with pytest.raises(error, match=message):
            record_vote(session, battle_id, outcome, "new-voter")
        assert isinstance(error("x"), UserError)
    # The caller's transaction went on and committed; the vote left no trace.
    with sessions() as session:
        assert session.scalars(select(Voter.token)).all() == ["callers-own-work"]
        assert session.scalar(select(func.count()).select_from(Vote)) == 0
        if prepare != "none":
            assert get_battle(session, battle_id).status == prepare


def test_bad_voter_token(sessions: sessionmaker[Session], models: None) -> None:
    with sessions.begin() as session:
        battle_id = ready_battle(session)
        for token in ("", "x" * 200):
            with pytest.raises(VoteError, match="voter token"):
                record_vote(session, battle_id, "tie", token)
        assert get_battle(session, battle_id).status == BattleStatus.READY


def test_side_by_side_votes_are_not_anonymous(
    sessions: sessionmaker[Session], models: None
) -> None:
    with sessions.begin() as session:
        vote = record_vote(session, ready_battle(session, anonymous=False), "tie (bothbad)", "v")
        assert vote.anonymous is False


def test_vote_stats(sessions: sessionmaker[Session], models: None) -> None:
    with sessions.begin() as session:
        for outcome, voter in zip(OUTCOMES, ("v1", "v2", "v1", "v3"), strict=True):
            record_vote(session, ready_battle(session), outcome, voter)
        record_vote(session, ready_battle(session, "preview-x", "gpt-4o"), "model_a", "v1")
        ready_battle(session)
        create_battle(session, "gpt-4o", "preview-x", "pending one")
    with sessions() as session:
        stats = vote_stats(session)
    assert stats.n_votes == 5 and stats.n_voters == 3
    assert stats.outcomes == {"model_a": 2, "model_b": 1, "tie": 1, "tie (bothbad)": 1}
    assert stats.battles_by_status == {
        "pending": 1,
        "generating": 0,
        "ready": 1,
        "failed": 0,
        "voted": 5,
    }
    assert stats.first_vote is not None and stats.last_vote is not None
    assert stats.first_vote <= stats.last_vote and stats.first_vote.utcoffset() is not None
    tallies = {t.model: t for t in stats.per_model}
    gpt = tallies["gpt-4o"]
    assert (gpt.votes, gpt.wins, gpt.losses, gpt.ties, gpt.both_bad) == (5, 1, 2, 1, 1)
    assert tallies["preview-x"].wins == 1
    assert stats.per_model[0].model == "gpt-4o"


def test_empty_store_stats(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        stats = vote_stats(session)
    assert stats.n_votes == 0 and stats.first_vote is None and stats.per_model == ()
    assert set(stats.outcomes) == set(OUTCOMES)


def test_battle_rows_are_typed(sessions: sessionmaker[Session], models: None) -> None:
    with sessions.begin() as session:
        battle_id = ready_battle(session)
    with sessions() as session:
        battle = session.get(Battle, battle_id)
        assert battle is not None
        assert battle.latency_a == 1.5 and battle.anonymous is True
        assert battle.conversation.language == "English"


def test_vote_undone_when_the_battle_changes_under_it(
    sessions: sessionmaker[Session], models: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL race: the battle fails between the vote's INSERT and its UPDATE.

    Simulated by making the UPDATE find no ready battle; the vote and the voter
    registered for it must be taken back, and the caller's transaction go on.
    """
    import arena.store.votes as votes_module

    with sessions.begin() as session:
        battle_id = ready_battle(session)
    monkeypatch.setattr(votes_module, "rowcount", lambda *args, **kwargs: 0)
    with sessions.begin() as session:
        session.add(Voter(token="callers-own-work"))
        with pytest.raises(BattleNotReady, match="stopped being ready"):
            record_vote(session, battle_id, "model_a", "first-time-voter")
    with sessions() as session:
        assert session.scalars(select(Voter.token)).all() == ["callers-own-work"]
        assert session.scalar(select(func.count()).select_from(Vote)) == 0
