"""Real OpenAI-compatible servers for the tests, each a process owned by a fixture.

:class:`ServerProcess` starts a command, keeps its output in a log file, waits until
``GET /v1/models`` answers (or the process dies, or the deadline passes: then the test
fails with the log's tail), and kills the whole process group at the end; a server whose
test process dies without that teardown gets SIGTERM from the kernel. Used for the small
transformers server of ``lm_server.py`` and for vLLM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the test process dies (PR_SET_PDEATHSIG).

    A test run killed before its fixtures' teardown (a timeout, SIGKILL) would otherwise
    leave the server running, in its own session, for good.
    """
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """A server process on 127.0.0.1:``port`` serving ``/v1``; see the module docstring."""

    def __init__(
        self,
        command: list[str],
        port: int,
        log: Path,
        *,
        env: dict[str, str] | None = None,
        timeout: float = 120.0,
    ):
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        self.log = log
        self.started = time.monotonic()
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,  # its own process group: killed whole at the end
                preexec_fn=_die_with_parent,
            )
        try:
            self._wait(timeout)
        except BaseException:
            self.close()
            raise
        self.startup_seconds = time.monotonic() - self.started

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with status {self.process.returncode} before it "
                    f"answered; the end of {self.log}:\n{self.tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/models", timeout=2.0).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the server did not answer /v1/models within {timeout:g} s; the end of "
                    f"{self.log}:\n{self.tail()}"
                )
            time.sleep(0.5)

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
