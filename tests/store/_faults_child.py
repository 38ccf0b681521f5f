"""A process that writes to a vote database while the test breaks it (tests/store/test_faults.py).

``python -m tests.store._faults_child DB SCENARIO`` writes one battle, then waits for
the test to apply the fault (it prints ``ready`` and reads a line from stdin), then
keeps writing. It prints one JSON line: how many writes were acknowledged after the
fault and what error ended them. A SIGBUS would kill it before it prints (the test
checks the exit status).
"""

from __future__ import annotations

import json
import sys

from arena.store import (
    StoreError,
    create_battle,
    database_faults,
    make_engine,
    make_sessionmaker,
    upsert_models,
)


def main(path: str, scenario: str) -> None:
    engine = make_engine(f"sqlite:///{path}")
    sessions = make_sessionmaker(engine)
    reads = make_sessionmaker(engine, read_only=True)
    with sessions.begin() as session:
        upsert_models(session, [{"name": "a"}, {"name": "b"}])
        create_battle(session, "a", "b", ["before the fault"])
    print("ready", flush=True)
    sys.stdin.readline()  # the test applies the fault now
    acknowledged = 0
    error: StoreError | None = None
    text = "x" * (200_000 if scenario == "full" else 10)
    for _ in range(200):
        try:
            with database_faults(), sessions.begin() as session:
                create_battle(session, "a", "b", [text])
            acknowledged += 1
        except StoreError as caught:
            error = caught
            break
    try:
        with database_faults(), reads() as session:
            session.execute(__import__("sqlalchemy").text("SELECT count(*) FROM battles")).one()
        read = "ok"
    except StoreError as caught:
        read = str(caught)
    print(
        json.dumps(
            {
                "acknowledged": acknowledged,
                "error": type(error).__name__ if error else None,
                "message": str(error) if error else None,
                "read": read,
            }
        ),
        flush=True,
    )
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
