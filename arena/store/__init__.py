"""The vote store of the arena web app: models, battles and their one vote each.

The same database also keeps the results of ``arena eval`` runs (:mod:`arena.store.evals`),
so benchmark scores and arena ratings of the same models live side by side.

Typical use (the caller owns sessions and transactions)::

    from arena.store import open_engine, make_sessionmaker, record_vote

    engine = open_engine()                 # --database > $ARENA_DATABASE_URL > data/arena.db
    Session = make_sessionmaker(engine)
    with Session.begin() as session:
        record_vote(session, battle_id, "model_a", voter_token)

The schema is created by ``arena db upgrade`` (:func:`upgrade`), never at start-up.

The export (pandas), evaluation-results (pandas) and migration (Alembic) functions are
imported on first use, so a process that only records votes starts in a fraction of the
time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arena.store.battles import (
    add_turn,
    create_battle,
    get_battle,
    mark_failed,
    set_answers,
    start_generation,
)
from arena.store.catalog import ModelSpec, get_models, list_models, update_model, upsert_models
from arena.store.engine import (
    ENV_VAR,
    Engine,
    Session,
    SessionFactory,
    check_connection,
    database_faults,
    database_url,
    make_engine,
    make_sessionmaker,
    open_engine,
)
from arena.store.errors import (
    AlreadyVoted,
    BattleFailed,
    BattleNotReady,
    DatabaseBusy,
    DatabaseFault,
    DatabaseUnavailable,
    InvalidOutcome,
    InvalidTransition,
    SchemaNotCurrent,
    StoreError,
    UnknownBattle,
    UnknownEvalRun,
    UnknownModel,
    VoteError,
)
from arena.store.limits import RateBucket, RateDecision  # registers rate_limits on Base
from arena.store.schema import (
    OUTCOMES,
    Battle,
    BattleStatus,
    Conversation,
    EvalResult,
    EvalRun,
    JudgeBattle,
    Model,
    Vote,
    Voter,
)
from arena.store.snapshots import LeaderboardSnapshot, SnapshotRow  # registers on Base
from arena.store.votes import (
    COUNT_COLUMNS,
    ModelTally,
    VoteStats,
    ensure_voter,
    record_vote,
    vote_counts,
    vote_stats,
)

if TYPE_CHECKING:
    from arena.store.evals import (
        EVAL_RESULT_COLUMNS,
        EvalRunRecord,
        eval_results_frame,
        eval_run_key,
        list_eval_runs,
        store_eval_results,
    )
    from arena.store.export import (
        EXPORT_FORMATS,
        VOTE_COLUMNS,
        iter_votes,
        votes_battles,
        votes_frame,
        write_votes,
        write_votes_file,
    )
    from arena.store.judge import (
        JUDGE_BATTLE_COLUMNS,
        judge_battles_frame,
        list_judges,
        store_judge_battles,
    )
    from arena.store.migrate import SchemaState, require_current, schema_state, upgrade

_LAZY: dict[str, str] = {
    **dict.fromkeys(
        (
            "EXPORT_FORMATS",
            "VOTE_COLUMNS",
            "iter_votes",
            "votes_battles",
            "votes_frame",
            "write_votes",
            "write_votes_file",
        ),
        "arena.store.export",
    ),
    **dict.fromkeys(
        (
            "EVAL_RESULT_COLUMNS",
            "EvalRunRecord",
            "eval_results_frame",
            "eval_run_key",
            "list_eval_runs",
            "store_eval_results",
        ),
        "arena.store.evals",
    ),
    **dict.fromkeys(
        ("JUDGE_BATTLE_COLUMNS", "judge_battles_frame", "list_judges", "store_judge_battles"),
        "arena.store.judge",
    ),
    **dict.fromkeys(
        ("SchemaState", "require_current", "schema_state", "upgrade"), "arena.store.migrate"
    ),
}


def __getattr__(name: str) -> Any:
    """Import the export, evaluation-results and migration functions on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'arena.store' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "COUNT_COLUMNS",
    "ENV_VAR",
    "EVAL_RESULT_COLUMNS",
    "EXPORT_FORMATS",
    "JUDGE_BATTLE_COLUMNS",
    "OUTCOMES",
    "VOTE_COLUMNS",
    "AlreadyVoted",
    "Battle",
    "BattleFailed",
    "BattleNotReady",
    "BattleStatus",
    "Conversation",
    "DatabaseBusy",
    "DatabaseFault",
    "DatabaseUnavailable",
    "Engine",
    "EvalResult",
    "EvalRun",
    "EvalRunRecord",
    "InvalidOutcome",
    "InvalidTransition",
    "JudgeBattle",
    "LeaderboardSnapshot",
    "Model",
    "ModelSpec",
    "ModelTally",
    "RateBucket",
    "RateDecision",
    "SchemaNotCurrent",
    "SchemaState",
    "Session",
    "SessionFactory",
    "SnapshotRow",
    "StoreError",
    "UnknownBattle",
    "UnknownEvalRun",
    "UnknownModel",
    "Vote",
    "VoteError",
    "VoteStats",
    "Voter",
    "add_turn",
    "check_connection",
    "create_battle",
    "database_faults",
    "database_url",
    "ensure_voter",
    "eval_results_frame",
    "eval_run_key",
    "get_battle",
    "get_models",
    "iter_votes",
    "judge_battles_frame",
    "list_eval_runs",
    "list_judges",
    "list_models",
    "make_engine",
    "make_sessionmaker",
    "mark_failed",
    "open_engine",
    "record_vote",
    "require_current",
    "schema_state",
    "set_answers",
    "start_generation",
    "store_eval_results",
    "store_judge_battles",
    "update_model",
    "upgrade",
    "upsert_models",
    "vote_counts",
    "vote_stats",
    "votes_battles",
    "votes_frame",
    "write_votes",
    "write_votes_file",
]
