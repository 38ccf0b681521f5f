"""Start a real ``arena serve`` for the browser tests (free port, test database, log file)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.service.conftest import write_models

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    """A running server: its page URL, database file, process and log."""

    base: str
    db: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def healthy(self) -> bool:
        """Whether the process runs and answers its health check."""
        if self.proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{self.base}/_stcore/health", timeout=5) as response:
                return bool(response.read() == b"ok")
        except OSError:
            return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(tmp_path: Path, template: Path, models: str, **env: str) -> Iterator[Server]:
    """``arena serve`` on a copy of ``template`` with ``models``; stopped afterwards."""
    db = tmp_path / "arena.db"
    shutil.copy(template, db)
    port = _free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    environ.update(ARENA_RATE_LIMIT="0", PYTHONPATH=str(ROOT), **env)
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "arena.cli.serve",
                "--port",
                str(port),
                "--database",
                f"sqlite:///{db}",
                "--models",
                str(write_models(tmp_path, models)),
            ],
            cwd=tmp_path,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = Server(f"http://127.0.0.1:{port}", db, proc, log_path)
        deadline = time.monotonic() + 60
        while not server.healthy():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("arena serve did not start:\n" + log_path.read_text())
            time.sleep(0.2)
        try:
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
