"""32 writer processes voting at once: no vote lost, none duplicated, no spurious error.

Each process casts 100 votes on battles of its own, and also races three other
processes for 8 shared ("hot") battles, where exactly one of the four may win. The
processes are spawned (fresh interpreters, like web-app workers; started once per test
session) and released together by a barrier.
"""

from __future__ import annotations

import time

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from arena.store import (
    OUTCOMES,
    Battle,
    BattleStatus,
    Conversation,
    Vote,
    Voter,
    upsert_models,
)

from ._workers import WorkerPool

WORKERS = 32
VOTES_EACH = 100
HOT = 64  # each hot battle is raced by WORKERS * HOT_EACH / HOT = 4 processes
HOT_EACH = 8


def make_ready_battles(sessions: sessionmaker[Session], n: int) -> list[int]:
    """Insert ``n`` ready battles in bulk (the test is about votes, not set-up)."""
    with sessions.begin() as session:
        a, b = upsert_models(session, [{"name": "model-a"}, {"name": "model-b"}])
        session.execute(
            insert(Conversation),
            [{"id": i, "text": f"prompt {i}", "turns": [f"prompt {i}"]} for i in range(1, n + 1)],
        )
        session.execute(
            insert(Battle),
            [
                {
                    "id": i,
                    "conversation_id": i,
                    "model_a_id": a.id,
                    "model_b_id": b.id,
                    "answers_a": ["A"],
                    "answers_b": ["B"],
                    "status": BattleStatus.READY.value,
                }
                for i in range(1, n + 1)
            ],
        )
    return list(range(1, n + 1))


def plan(battles: list[int]) -> list[tuple[list[int], list[str]]]:
    """Per worker: battle ids to vote on (own ones with hot ones mixed in) and outcomes."""
    own, hot = battles[: WORKERS * VOTES_EACH], battles[WORKERS * VOTES_EACH :]
    plans = []
    for w in range(WORKERS):
        ids = own[w * VOTES_EACH : (w + 1) * VOTES_EACH]
        mine_hot = [hot[(w * HOT_EACH + k) % HOT] for k in range(HOT_EACH)]
        for k, battle_id in enumerate(mine_hot):
            ids.insert(k * (VOTES_EACH // HOT_EACH) + 5, battle_id)
        plans.append((ids, [OUTCOMES[(i + w) % len(OUTCOMES)] for i in ids]))
    return plans


def test_32_processes_vote_without_loss_or_duplicates(
    db_url: str, sessions: sessionmaker[Session], worker_pool: WorkerPool
) -> None:
    assert worker_pool.size == WORKERS
    battles = make_ready_battles(sessions, WORKERS * VOTES_EACH + HOT)
    plans = plan(battles)
    started = time.perf_counter()
    reports = worker_pool.run(
        "vote", [{"url": db_url, "battle_ids": ids, "outcomes": outs} for ids, outs in plans]
    )
    elapsed = time.perf_counter() - started

    assert [r for r in reports if "crash" in r] == []
    assert [e for r in reports for e in r["errors"]] == []
    won = {
        battle_id: (f"voter-{w}", outcome)
        for w, r in enumerate(reports)
        for battle_id, outcome in r["won"]
    }
    assert sum(len(r["won"]) for r in reports) == len(won) == len(battles)  # each won once
    # every other racer for a hot battle was told "already voted", and nothing else was
    assert sum(len(r["duplicates"]) for r in reports) == WORKERS * HOT_EACH - HOT
    hot = set(battles[WORKERS * VOTES_EACH :])
    for w, r in enumerate(reports):  # 0 lost: each process's own battles all took its vote
        own = set(plans[w][0]) - hot
        assert len(own) == VOTES_EACH
        assert own <= {battle_id for battle_id, _ in r["won"]}

    with sessions() as session:
        rows = session.execute(
            select(Vote.battle_id, Voter.token, Vote.outcome).join(Voter, Vote.voter_id == Voter.id)
        ).all()
        statuses = dict(
            session.execute(select(Battle.status, func.count()).group_by(Battle.status)).all()
        )
    stored = {battle_id: (token, outcome) for battle_id, token, outcome in rows}
    assert len(rows) == len(stored) == len(battles)  # 0 duplicated
    assert stored == won  # what each process was told is what the database holds
    assert statuses == {"voted": len(battles)}
    print(f"{db_url.split(':')[0]}: {len(rows)} votes from {WORKERS} processes in {elapsed:.1f} s")
