"""Store faults under a running writer are never silent and never kill it.

Real mechanisms, no mocks: the database file deleted or replaced, made immutable
(``chattr +i``: read-only even for root, which these tests run as), a full disk (a
2 MiB tmpfs in a private mount namespace, ``unshare -m``), and a second process
holding the write lock. Each writer is a child process, so a SIGBUS (what a read-only
``-shm`` file did) shows as its exit status.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from arena.store import (
    DatabaseBusy,
    DatabaseFault,
    database_faults,
    make_engine,
    make_sessionmaker,
    upsert_models,
)

ROOT = Path(__file__).resolve().parents[2]
CHILD = [sys.executable, "-m", "tests.store._faults_child"]


def _run_child(
    db: Path, scenario: str, fault: Callable[[], None], prefix: list[str]
) -> dict[str, Any]:
    proc = subprocess.Popen(
        [*prefix, *CHILD, str(db), scenario],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", line + proc.stderr.read() if proc.stderr else line
    fault()
    out, err = proc.communicate("go\n", timeout=120)
    assert proc.returncode == 0, f"writer died with status {proc.returncode}: {err[-2000:]}"
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["log"] = err
    return result


@pytest.fixture
def db(sqlite_template: Path, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "arena.db"
    shutil.copy(sqlite_template, path)
    yield path
    for file in tmp_path.glob("arena.db*"):
        subprocess.run(["chattr", "-i", str(file)], capture_output=True)


def test_deleted_database_refuses_writes_instead_of_losing_them(db: Path) -> None:
    result = _run_child(db, "delete", lambda: db.unlink(), [])
    # Before the guard, all 200 writes were acknowledged into the unlinked inode.
    assert result["acknowledged"] == 0
    assert result["error"] == "DatabaseFault"
    assert "was deleted while the server ran: nothing was written" in result["message"]
    assert "was deleted" in result["log"]  # and in the log
    assert not db.exists()  # (no new empty database made in its place)


def test_replaced_database_refuses_writes(db: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    shutil.copy(db, other)
    result = _run_child(db, "replace", lambda: os.replace(other, db), [])
    assert result["acknowledged"] == 0 and result["error"] == "DatabaseFault"
    assert "was replaced while the server ran" in result["message"]


@pytest.mark.parametrize("files", ["arena.db", "arena.db-shm", "all"])
def test_read_only_database_is_a_clear_error_not_a_crash(db: Path, files: str) -> None:
    def make_read_only() -> None:
        targets = sorted(db.parent.glob("arena.db*")) if files == "all" else [db.parent / files]
        for target in targets:
            if target.name.endswith(".lock"):
                continue
            done = subprocess.run(["chattr", "+i", str(target)], capture_output=True, text=True)
            assert done.returncode == 0, f"chattr +i {target}: {done.stderr}"

    # An immutable -shm killed the writer with SIGBUS (status -7) at its next transaction.
    result = _run_child(db, "readonly", make_read_only, [])
    assert result["acknowledged"] == 0 and result["error"] == "DatabaseFault"
    assert "has become read-only" in result["message"]
    assert "nothing was written" in result["message"]


def test_full_disk_is_a_clear_error_and_keeps_what_was_acknowledged(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    script = (
        f"mount -t tmpfs -o size=2m tmpfs {mount} && "
        f"{sys.executable} -c 'from arena.store import upgrade; upgrade(\"sqlite:///{mount}/a.db\")'"
        f" && exec {' '.join(CHILD)} {mount}/a.db full"
    )
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        input="go\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0 < result["acknowledged"] < 200  # some fitted, then the disk was full
    assert result["error"] == "DatabaseFault"
    assert "disk holding the vote database is full" in result["message"]
    assert result["read"] == "ok"  # what was acknowledged is still there to read


HOLD_ARENA = """
import sys, time
from arena.store import make_engine, make_sessionmaker
from sqlalchemy import text
engine = make_engine(sys.argv[1])
with make_sessionmaker(engine).begin() as session:   # holds arena's writer queue and
    session.execute(text("UPDATE models SET sampling_weight = 2"))  # SQLite's write lock
    print("holding", flush=True)
    time.sleep(120)
"""
HOLD_SQLITE = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1].removeprefix("sqlite:///"), isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE models SET sampling_weight = 2")
print("holding", flush=True)
time.sleep(120)
"""
HOLD_POSTGRES = """
import sys, time
import psycopg
conn = psycopg.connect(sys.argv[1].replace("postgresql+psycopg://", "postgresql://"))
conn.execute("UPDATE models SET sampling_weight = 2")   # row locks, transaction left open
print("holding", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize(
    ("backend", "holder"),
    [("sqlite", HOLD_ARENA), ("sqlite", HOLD_SQLITE), ("postgresql", HOLD_POSTGRES)],
    ids=["sqlite-arena-writer", "sqlite-foreign-writer", "postgresql"],
)
def test_stalled_writer_makes_others_fail_after_the_busy_timeout(
    backend: str,
    holder: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import arena.store.engine as engine_module

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'arena.db'}"
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "arena.db")
    else:
        url = request.getfixturevalue("db_url_pg")
    setup = make_engine(url)
    with make_sessionmaker(setup).begin() as session:
        upsert_models(session, [{"name": "a"}])
    setup.dispose()
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_S", 1.5)
    proc = subprocess.Popen(
        [sys.executable, "-c", holder, url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        engine = make_engine(url)
        t0 = time.monotonic()
        busy = r"busy: another writer has held it for more than 1\.5 s"
        with (
            pytest.raises(DatabaseBusy, match=busy),
            database_faults(),
            make_sessionmaker(engine).begin() as session,
        ):
            session.execute(text("UPDATE models SET sampling_weight = 3"))
        waited = time.monotonic() - t0
        assert 1.0 < waited < 30  # the timeout, not forever (the holder sleeps 120 s)
        engine.dispose()
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def db_url_pg(request: pytest.FixtureRequest) -> Iterator[str]:
    from .conftest import drop_pg_database, pg_database

    url = pg_database(request.getfixturevalue("pg_server"))
    from arena.store import upgrade

    upgrade(url)
    yield url
    drop_pg_database(url)


def test_memory_mapped_io_is_off(db: Path) -> None:
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA mmap_size")).scalar() == 0
    engine.dispose()


def test_other_driver_errors_become_one_clear_fault(db: Path) -> None:
    engine = make_engine(f"sqlite:///{db}")
    with (
        pytest.raises(DatabaseFault, match=r"the vote database failed \(no such table"),
        database_faults(),
        make_sessionmaker(engine).begin() as session,
    ):
        session.execute(text("SELECT * FROM no_such_table"))
    engine.dispose()
    assert sqlite3.sqlite_version  # (SQLite is the one under test)
