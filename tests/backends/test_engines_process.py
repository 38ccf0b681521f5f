"""The server-process helper of the engine tests: a killed test run leaves no server behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.backends.engines import REPO


def test_a_server_dies_with_the_test_process_that_started_it(tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "models").write_text('{"data": []}')
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from tests.backends.engines import ServerProcess, free_port
        port = free_port()
        command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                   "--directory", {str(tmp_path)!r}]
        server = ServerProcess(command, port, Path({str(tmp_path / "log")!r}), timeout=60)
        print(server.process.pid, flush=True)
        time.sleep(120)
    """)
    owner = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    pid = int(owner.stdout.readline())
    os.kill(pid, 0)  # serving
    owner.send_signal(signal.SIGKILL)  # no teardown runs
    owner.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # reaped by init once it exits; a zombie still answers kill(0): look at its state
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError("the server outlived the test process that started it")
