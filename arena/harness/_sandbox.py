"""Run untrusted generated code: a fresh subprocess with limits, no network, killed on timeout.

Each program runs in its own temporary directory, in a new Python process (``-I``: isolated
mode, no user site, no ``PYTHON*`` variables) that first

- caps its address space (``RLIMIT_AS``, so a memory hog gets ``MemoryError``), its CPU time
  (``RLIMIT_CPU``), the size of files it writes and core dumps, with :mod:`resource`;
- installs an audit hook (PEP 578) that refuses every ``socket.*`` event (creating,
  connecting, resolving), starting processes (``subprocess``, ``os.system``, ``os.exec*``,
  ``os.fork``, ``os.posix_spawn``) and loading C libraries through ``ctypes``;

and then runs the program as ``__main__``. When the harness runs as root and ``unshare``
works, the process also starts in a new, empty network namespace (``unshare -n``), so even
code that slipped past the hook finds no network. The process gets its own session; on
timeout the whole process group is killed. The program passes when it exits with status 0.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

__all__ = ["ExecResult", "network_isolation", "run_program", "run_programs"]

_CHILD = r"""
import resource, sys
mem, cpu = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 24, 1 << 24))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
_BLOCKED = ("socket.", "subprocess.", "os.system", "os.exec", "os.fork", "os.forkpty",
            "os.posix_spawn", "os.spawn", "ctypes.dlopen", "os.kill", "os.killpg")
def _hook(event, args):
    if event.startswith(_BLOCKED):
        raise PermissionError("sandbox: '" + event + "' is not allowed")
sys.addaudithook(_hook)
with open("program.py", encoding="utf-8") as f:
    _code = compile(f.read(), "program.py", "exec")
del resource, mem, cpu, f
exec(_code, {"__name__": "__main__", "__builtins__": __builtins__})
"""


@dataclass(frozen=True)
class ExecResult:
    """Outcome of one program.

    Attributes
    ----------
    status:
        ``"passed"`` (exit status 0), ``"failed"`` (an exception or another status),
        ``"timeout"`` (killed after the time limit).
    detail:
        The last lines of the program's standard error (why it failed).
    seconds:
        Wall-clock time.
    """

    status: Literal["passed", "failed", "timeout"]
    detail: str
    seconds: float

    @property
    def passed(self) -> bool:
        """Whether the program passed."""
        return self.status == "passed"


@functools.cache
def network_isolation() -> str:
    """How programs are kept off the network: ``"namespace+audit-hook"`` or ``"audit-hook"``."""
    unshare = shutil.which("unshare")
    if unshare and hasattr(os, "geteuid") and os.geteuid() == 0:
        try:
            ok = (
                subprocess.run(
                    [unshare, "-n", "true"], capture_output=True, timeout=10, check=False
                ).returncode
                == 0
            )
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return "namespace+audit-hook"
    return "audit-hook"


def run_program(program: str, *, timeout: float = 10.0, memory_mb: int = 1024) -> ExecResult:
    """Run one Python program in the sandbox (see the module docstring)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="arena-sandbox-") as tmp:
        with open(os.path.join(tmp, "program.py"), "w", encoding="utf-8") as f:
            f.write(program)
        cmd = [
            sys.executable,
            "-I",
            "-c",
            _CHILD,
            str(memory_mb << 20),
            str(max(1, int(timeout + 0.999))),
        ]
        if network_isolation().startswith("namespace"):
            cmd = [shutil.which("unshare") or "unshare", "-n", "--", *cmd]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "LANG": "C.UTF-8"}
        proc = subprocess.Popen(
            cmd,
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            return ExecResult("timeout", f"killed after {timeout:g} s", time.perf_counter() - start)
        finally:
            if proc.poll() is None:
                _kill_group(proc)
        _kill_group(proc)  # anything the program left behind in its session
        seconds = time.perf_counter() - start
        tail = "\n".join(err.decode("utf-8", "replace").strip().splitlines()[-5:])
        if proc.returncode == 0:
            return ExecResult("passed", "", seconds)
        if proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL) and not tail:
            return ExecResult("timeout", f"killed by signal {-proc.returncode}", seconds)
        return ExecResult("failed", tail or f"exit status {proc.returncode}", seconds)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_programs(
    programs: Sequence[str],
    *,
    timeout: float = 10.0,
    memory_mb: int = 1024,
    workers: int | None = None,
) -> list[ExecResult]:
    """Run programs in parallel sandboxes (one process each), results in the order given."""
    n = workers or max(1, min(len(programs), os.cpu_count() or 1))
    with ThreadPoolExecutor(n) as pool:
        return list(
            pool.map(lambda p: run_program(p, timeout=timeout, memory_mb=memory_mb), programs)
        )
