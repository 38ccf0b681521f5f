"""Run untrusted, model-written programs inside bubblewrap, with limits and a verdict token.

Every completion is treated as hostile. Each program runs in a throw-away sandbox made by
Debian's bubblewrap (``/usr/bin/bwrap``)::

    harness (root)
     └ bwrap #1, root, a mount namespace only: makes the interpreter's files (which may
       live under /root) reachable at their own paths, and nothing else
        └ setpriv: real uid/gid 65534, no groups, no capabilities, no_new_privs
           └ bwrap #2, unprivileged: new user, pid, network, IPC, UTS and cgroup
             namespaces, uid/gid 65534, no capabilities, no further user namespaces,
             cleared environment, own session, dies with its parent
              └ python -I -B -c DRIVER        (the test driver, then the program)

A harness that is not root runs bwrap #2 directly (as its own user). Inside, the program
sees read-only ``/usr`` (with the ``/lib*``, ``/bin`` links) and the interpreter's prefix
with its ``site-packages`` hidden, so only the standard library imports; a fresh
``/proc`` of its own pid namespace (the harness and every other process are invisible,
so no ``/proc/PID/environ``, ``/proc/PID/ns`` or ``kill``); a minimal read-only ``/dev``
(the root is read-only too); and two size-capped tmpfs, ``/sandbox`` (working
directory, ``HOME``) and ``/tmp``, that vanish with it. Nothing else of the host
(``/etc``, ``/root``, ``/work``, the project, the venv) is there, the network namespace
holds only a loopback of its own, and ``/usr/local`` is hidden unless the interpreter
lives there.

The driver sets the limits of :class:`Limits` with ``setrlimit`` before the program runs
(address space, CPU time, processes and threads, file size, open files, no core dumps);
the harness enforces the wall-clock limit and reads standard output and error through
one pipe, incrementally, keeping at most ``output_kb`` (the head and the tail, the cut
marked). At the wall-clock limit, or when the harness is done, the sandbox's pid 1 is
killed, which ends every process in its pid namespace: nothing outlives a test, and a
daemon holding the output pipe open cannot make the harness wait.

The verdict: no secret is in the sandbox while the program runs. The driver holds the
write end of a verdict pipe; after the program has run to its end without an exception,
it writes ``done`` there, and only then does the harness send it a fresh random token
(through a second pipe, empty until that moment), which the driver writes back and exits
at once. A pass is exactly ``done`` and the token, with exit status 0; anything else on
the verdict pipe fails the run, and anything before ``done`` poisons it (the token is
never sent). So exiting
early with any status (``raise SystemExit(0)``, ``os._exit(0)``), crashing, printing a
verdict, and reading the program's own source, ``/proc/self`` (arguments, environment,
every descriptor) or memory for a secret, then writing it everywhere, all fail.

Limits of the guarantee: the program and its tests share one interpreter, so a program
written against this driver (speaking its protocol itself, or redefining what the test
compares) can pass a test it should fail; the sandbox keeps such code from reaching
anything outside, not its score honest. The kernel is shared (no seccomp filter), and
tmpfs pages are not counted in the address-space limit (each tmpfs is capped instead).

Where bubblewrap is missing or fails its self-test, :func:`sandbox_status` says why and
:func:`require_sandbox` refuses with one line naming the Debian package ``bubblewrap``;
``unsandboxed=True`` runs the same driver in a plain subprocess (limits, verdict, a new
session killed at the end), with no isolation at all.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Literal

from arena.errors import UserError

__all__ = [
    "ExecResult",
    "Limits",
    "SandboxStatus",
    "SandboxUnavailable",
    "require_sandbox",
    "run_program",
    "run_programs",
    "sandbox_status",
]

#: Debian's bubblewrap (package ``bubblewrap``).
BWRAP = "/usr/bin/bwrap"
#: util-linux's setpriv (drops a root harness's sandboxes to an unprivileged uid).
SETPRIV = "/usr/bin/setpriv"
#: The uid and gid programs run as (``nobody``).
SANDBOX_ID = 65534
#: Debian package that provides :data:`BWRAP`.
PACKAGE = "bubblewrap"

#: What the driver writes on its verdict pipe once the program has run to its end.
_DONE = b"done"
#: Seconds the harness keeps reading after the sandbox ended (pipes of the unsandboxed mode
#: may be held open by a process that escaped the session; the sandbox leaves none).
_DRAIN_SECONDS = 0.5

# The test driver: trusted code, the first thing that runs inside the sandbox.
# argv: token fd, verdict fd, address space, CPU s, processes (0: no limit), file size,
# open files.
_DRIVER = r"""
import os, resource, sys
def _driver():
    token_fd, verdict_fd, mem, cpu, nproc, fsize, nofile = map(int, sys.argv[1:8])
    read, write, close, exit_, blocking = os.read, os.write, os.close, os._exit, os.set_blocking
    R = resource
    limits = ((R.RLIMIT_AS, mem, mem), (R.RLIMIT_CPU, cpu, cpu + 1),
              (R.RLIMIT_FSIZE, fsize, fsize), (R.RLIMIT_NOFILE, nofile, nofile),
              (R.RLIMIT_CORE, 0, 0))
    if nproc:
        # counted in the sandbox's own user namespace: its pid 1 and this process, and
        # the allowance (this process included)
        running = sum(1 for d in os.listdir("/proc") if d.isdigit())
        limits += ((R.RLIMIT_NPROC, running - 1 + nproc, running - 1 + nproc),)
    for res, soft, hard in limits:
        R.setrlimit(res, (soft, hard))
    chunks = []
    while True:
        chunk = read(0, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    close(0)
    os.open(os.devnull, os.O_RDONLY)
    source = b"".join(chunks).decode("utf-8")
    del chunks
    with open("program.py", "w", encoding="utf-8") as f:
        f.write(source)
    code = compile(source, "program.py", "exec")
    del source
    exec(code, {"__name__": "__main__", "__file__": "program.py",
                "__builtins__": __builtins__})
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    # the program ran to its end: ask for the token, give it back, leave at once
    write(verdict_fd, b"done")
    blocking(token_fd, True)  # whatever the program did to the descriptor
    token = read(token_fd, 256)
    write(verdict_fd, token)
    exit_(0)
_driver()
"""


@dataclass(frozen=True)
class Limits:
    """What one program may use (all enforced per program; recorded in the results).

    Attributes
    ----------
    timeout:
        Wall-clock seconds before the whole sandbox is killed.
    cpu_seconds:
        CPU seconds (``RLIMIT_CPU``); None: the timeout rounded up.
    memory_mb:
        Address space of each process (``RLIMIT_AS``); a program that asks for more gets
        ``MemoryError``. With ``processes`` above 1 the total is at most
        ``processes * memory_mb``.
    processes:
        Processes and threads the program may run, itself included (``RLIMIT_NPROC`` in
        its own user namespace): 1 allows no fork and no thread.
    file_size_mb:
        Largest file it may write (``RLIMIT_FSIZE``).
    open_files:
        Open file descriptors (``RLIMIT_NOFILE``).
    output_kb:
        Standard output and error kept (head and tail); the rest is counted and dropped.
    scratch_mb:
        Size of each of its tmpfs, ``/sandbox`` and ``/tmp``.
    """

    timeout: float = 10.0
    cpu_seconds: int | None = None
    memory_mb: int = 1024
    processes: int = 1
    file_size_mb: int = 16
    open_files: int = 64
    output_kb: int = 64
    scratch_mb: int = 64

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")
        for name in ("memory_mb", "processes", "file_size_mb", "output_kb", "scratch_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.open_files < 8:
            raise ValueError(f"open_files must be at least 8, got {self.open_files}")
        if self.cpu_seconds is not None and self.cpu_seconds < 1:
            raise ValueError(f"cpu_seconds must be at least 1, got {self.cpu_seconds}")

    @property
    def cpu(self) -> int:
        """CPU seconds in effect."""
        if self.cpu_seconds is not None:
            return self.cpu_seconds
        return max(1, int(-(-self.timeout // 1)))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict, ``cpu_seconds`` resolved."""
        return asdict(self) | {"cpu_seconds": self.cpu}


@dataclass(frozen=True)
class ExecResult:
    """Outcome of one program.

    Attributes
    ----------
    status:
        ``"passed"`` (ran to its end: the driver's ``done`` and token came back, exit 0),
        ``"failed"`` (an exception, an early exit, a wrong or missing verdict, a limit
        that raised), ``"timeout"`` (killed at the wall-clock or CPU limit).
    detail:
        Why it failed: the last lines of its output (a traceback) or what the harness saw.
    seconds:
        Wall-clock time.
    output:
        Its standard output and error, at most ``Limits.output_kb`` (the cut marked).
    """

    status: Literal["passed", "failed", "timeout"]
    detail: str
    seconds: float
    output: str = ""

    @property
    def passed(self) -> bool:
        """Whether the program passed."""
        return self.status == "passed"


class SandboxUnavailable(UserError):
    """No usable sandbox for model-written code, and running it unsandboxed was not asked for."""


@dataclass(frozen=True)
class SandboxStatus:
    """Whether bubblewrap can run programs here.

    Attributes
    ----------
    usable:
        It passed its self-test (a program ran isolated and gave its verdict back).
    tool:
        ``"bubblewrap"``.
    version:
        ``bwrap --version`` (None when it did not run).
    reason:
        Why it is not usable ("" when it is).
    layers:
        How programs are isolated, for the results.
    """

    usable: bool
    tool: str
    version: str | None
    reason: str
    layers: tuple[str, ...] = ()


# -- the interpreter inside ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Interpreter:
    executable: str
    binds: tuple[str, ...]  # read-only, at the same paths
    hidden: tuple[str, ...]  # covered by an empty read-only tmpfs


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


@functools.cache
def _interpreter() -> _Interpreter:
    """The harness's base interpreter (never a venv's: its site-packages stay outside)."""
    exe = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    binds: list[str] = []
    if not _inside(prefix, "/usr"):
        binds.append(prefix)
    if not _inside(exe, "/usr") and not any(_inside(exe, b) for b in binds):
        binds.append(os.path.dirname(exe))
    hidden: list[str] = []
    scheme = sysconfig.get_paths(vars={"base": prefix, "platbase": prefix})
    for key in ("purelib", "platlib"):
        path = os.path.realpath(scheme[key])
        if os.path.isdir(path) and path not in hidden and any(_inside(path, b) for b in binds):
            hidden.append(path)
    local = _inside(prefix, "/usr/local") or _inside(exe, "/usr/local")
    if not local and os.path.isdir("/usr/local"):
        hidden.append("/usr/local")
    return _Interpreter(exe, tuple(binds), tuple(hidden))


def _system_links() -> list[str]:
    """``/bin``, ``/lib``, ... as the host has them: links (merged /usr) or read-only binds."""
    args: list[str] = []
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def _inner_command(limits: Limits, interp: _Interpreter, info_fd: int) -> list[str]:
    scratch = str(limits.scratch_mb << 20)
    args = [
        BWRAP,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--uid",
        str(SANDBOX_ID),
        "--gid",
        str(SANDBOX_ID),
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/sandbox",
        "--setenv",
        "TMPDIR",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--ro-bind",
        "/usr",
        "/usr",
        *_system_links(),
    ]
    for path in interp.binds:
        args += ["--ro-bind", path, path]
    for path in interp.hidden:
        args += ["--size", "4096", "--tmpfs", path, "--remount-ro", path]
    # the root and /dev are tmpfs of bwrap's: made read-only (no uncapped memory to fill);
    # the two writable tmpfs are mounted after that, each with a size cap
    args += ["--proc", "/proc", "--dev", "/dev", "--dir", "/tmp", "--dir", "/sandbox"]
    args += ["--remount-ro", "/dev", "--remount-ro", "/"]
    args += ["--size", scratch, "--tmpfs", "/tmp", "--size", scratch, "--tmpfs", "/sandbox"]
    args += ["--chdir", "/sandbox", "--info-fd", str(info_fd), "--"]
    return args


def _outer_command(interp: _Interpreter) -> list[str]:
    """The outer bwrap (root): the host's files the inner sandbox binds, reachable by uid 65534."""
    args = [BWRAP, "--die-with-parent", "--ro-bind", "/usr", "/usr", *_system_links()]
    made: set[str] = set()
    for path in interp.binds:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            anc = "/" + "/".join(parts[:i])
            if anc not in made and not _inside(anc, "/usr"):
                made.add(anc)
                args += ["--perms", "0755", "--dir", anc]
        args += ["--ro-bind", path, path]
    # the host's /proc (bwrap #2 may mount a fresh proc only where one is fully visible;
    # the sandbox never sees this one) and /tmp (bwrap #2 builds its new root there)
    args += ["--bind", "/proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--", SETPRIV]
    args += [f"--reuid={SANDBOX_ID}", f"--regid={SANDBOX_ID}", "--clear-groups"]
    args += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return args


def _driver_args(limits: Limits, token_fd: int, verdict_fd: int, *, sandbox: bool) -> list[str]:
    return [
        "-I",
        "-B",
        "-c",
        _DRIVER,
        str(token_fd),
        str(verdict_fd),
        str(limits.memory_mb << 20),
        str(limits.cpu),
        str(limits.processes if sandbox else 0),
        str(limits.file_size_mb << 20),
        str(limits.open_files),
    ]


# -- status -------------------------------------------------------------------------------------

_SELF_TEST = """
import os
assert os.getuid() == 65534 and os.getgid() == 65534, (os.getuid(), os.getgid())
assert os.getpid() < 16, os.getpid()
assert not os.path.exists("/etc/passwd") and not os.path.exists("/work")
with open("/proc/net/dev") as f:
    assert [l.split(":")[0].strip() for l in f.readlines()[2:]] == ["lo"]
"""


def _isolated_layers() -> tuple[str, ...]:
    layers: tuple[str, ...] = (
        "user, pid, network, ipc, uts, cgroup namespaces",
        f"uid/gid {SANDBOX_ID}",
        "no capabilities",
        "no new user namespaces",
        "read-only /usr and interpreter prefix (site-packages hidden)",
        "fresh /proc, minimal /dev, tmpfs /sandbox and /tmp",
        "cleared environment, own session, dies with the harness",
    )
    if os.geteuid() == 0:
        layers += (f"real uid {SANDBOX_ID} outside (setpriv, no_new_privs)",)
    return layers


@functools.cache
def sandbox_status() -> SandboxStatus:
    """Whether bubblewrap is installed and passes its self-test (cached per process)."""
    if not (os.path.isfile(BWRAP) and os.access(BWRAP, os.X_OK)):
        return SandboxStatus(False, PACKAGE, None, f"{BWRAP} not found")
    if os.geteuid() == 0 and not os.access(SETPRIV, os.X_OK):
        return SandboxStatus(False, PACKAGE, None, f"{SETPRIV} (util-linux) not found")
    try:
        out = subprocess.run(
            [BWRAP, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
        version = out.stdout.strip().removeprefix("bubblewrap ") or None
    except (OSError, subprocess.SubprocessError) as exc:
        return SandboxStatus(False, PACKAGE, None, f"{BWRAP} does not run: {exc}")
    result = _run(_SELF_TEST, Limits(timeout=30, cpu_seconds=10, memory_mb=512), sandbox=True)
    if not result.passed:
        why = (result.detail.strip().splitlines() or [result.status])[-1]
        return SandboxStatus(False, PACKAGE, version, f"{BWRAP} fails its self-test: {why}")
    return SandboxStatus(True, PACKAGE, version, "", _isolated_layers())


def require_sandbox(*, unsandboxed: bool = False) -> dict[str, Any]:
    """The sandbox in use, for the results; raises :class:`SandboxUnavailable` without one.

    ``unsandboxed``: the user asked to run model-written code without a sandbox
    (``--unsandboxed-code``); nothing is checked, and the record says so.
    """
    if unsandboxed:
        return {
            "tool": "none",
            "version": None,
            "unsandboxed": True,
            "layers": ["none: plain subprocess, rlimits, own session (--unsandboxed-code)"],
        }
    status = sandbox_status()
    if not status.usable:
        raise SandboxUnavailable(
            f"code tasks run model-written code in a bubblewrap sandbox, which is not usable "
            f"here ({status.reason}); install the Debian package '{PACKAGE}' "
            f"(apt-get install {PACKAGE}), or pass --unsandboxed-code to run the code "
            "without any sandbox"
        )
    return {
        "tool": status.tool,
        "version": status.version,
        "unsandboxed": False,
        "layers": list(status.layers),
    }


# -- running ------------------------------------------------------------------------------------


class _Output:
    """Head and tail of a byte stream, at most ``cap`` bytes kept, the rest counted."""

    def __init__(self, cap: int):
        self.half = max(1, cap // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            over = len(self.tail) - self.half
            if over > 0:
                del self.tail[:over]
                self.dropped += over

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if self.dropped:
            return f"{head}\n[... output truncated: {self.dropped} bytes left out ...]\n{tail}"
        return head + tail


def _detail(output: str, lines: int = 5, width: int = 2000) -> str:
    tail = "\n".join(output.strip().splitlines()[-lines:])
    return tail[-width:]


def _kill(proc: subprocess.Popen[bytes], child_pid: int | None) -> None:
    """End the sandbox: its pid 1 (which takes its pid namespace along) and our process group."""
    if child_pid is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child_pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _run(program: str, limits: Limits, *, sandbox: bool) -> ExecResult:
    start = time.perf_counter()
    token = secrets.token_hex(16).encode()
    token_r, token_w = os.pipe()  # empty until the driver says done
    verdict_r, verdict_w = os.pipe()
    info_r, info_w = os.pipe()
    interp = _interpreter()
    tmp = None
    try:
        with tempfile.TemporaryFile() as source:
            source.write(program.encode("utf-8"))
            source.seek(0)
            cmd = [interp.executable, *_driver_args(limits, token_r, verdict_w, sandbox=sandbox)]
            if sandbox:
                cmd = _inner_command(limits, interp, info_w) + cmd
                if os.geteuid() == 0:
                    cmd = _outer_command(interp) + cmd
                cwd, env = "/", {"PATH": "/usr/bin:/bin"}
            else:
                # no isolation at all (--unsandboxed-code): a temporary working directory
                tmp = tempfile.mkdtemp(prefix="arena-unsandboxed-")
                cwd = tmp
                env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8"}
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=env,
                stdin=source,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(token_r, verdict_w, info_w),
                start_new_session=True,
            )
        for fd in (token_r, verdict_w, info_w):
            os.close(fd)
        token_r = verdict_w = info_w = -1
        owned, token_w = token_w, -1  # _watch closes it
        return _watch(proc, limits, token, owned, verdict_r, info_r, start)
    finally:
        for fd in (token_r, token_w, verdict_w, info_w, verdict_r, info_r):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _watch(
    proc: subprocess.Popen[bytes],
    limits: Limits,
    token: bytes,
    token_w: int,
    verdict_r: int,
    info_r: int,
    start: float,
) -> ExecResult:
    """Read output, verdict and bwrap's info until the end, the deadline, or the drain.

    ``token_w`` belongs to this function, which closes it: after sending the token on
    ``done``, at once when the verdict pipe carries anything else, or at the end.
    """
    assert proc.stdout is not None
    out = _Output(limits.output_kb << 10)
    verdict = bytearray()
    info = bytearray()
    deadline = start + limits.timeout
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ, "out")
    sel.register(verdict_r, selectors.EVENT_READ, "verdict")
    sel.register(info_r, selectors.EVENT_READ, "info")
    timed_out = False
    ended_at: float | None = None
    try:
        while sel.get_map():
            now = time.perf_counter()
            if proc.poll() is not None and ended_at is None:
                ended_at = now
            if ended_at is not None and now - ended_at > _DRAIN_SECONDS:
                break
            if now >= deadline:
                timed_out = True
                break
            wait = min(deadline - now, 0.1 if ended_at is not None else 0.25)
            for key, _ in sel.select(wait):
                fd = int(key.fd)
                data = os.read(fd, 1 << 16)
                if not data:
                    sel.unregister(fd)
                elif key.data == "out":
                    out.add(data)
                elif key.data == "verdict":
                    verdict += data[: 1024 - len(verdict)]
                    said = bytes(verdict)
                    if token_w >= 0 and (said == _DONE or not _DONE.startswith(said)):
                        if said == _DONE:  # never sent after anything else
                            with contextlib.suppress(OSError):  # the reader may be gone
                                os.write(token_w, token)
                        os.close(token_w)
                        token_w = -1
                else:
                    info += data[: 4096 - len(info)]
    finally:
        sel.close()
        if token_w >= 0:
            os.close(token_w)
        child_pid = _child_pid(bytes(info), proc.pid)
        _kill(proc, child_pid)
        proc.stdout.close()
    seconds = time.perf_counter() - start
    if timed_out:
        return ExecResult("timeout", f"killed after {limits.timeout:g} s", seconds, out.text())
    return _verdict(proc.returncode, bytes(verdict), token, limits, seconds, out.text())


def _verdict(
    rc: int, said: bytes, token: bytes, limits: Limits, seconds: float, output: str
) -> ExecResult:
    """What a program that ended in time did: passed only with the driver's verdict and 0.

    ``said`` is what the verdict pipe carried (``done`` and the token from the driver, or
    whatever the program wrote there), ``rc`` the exit status.
    """
    if rc in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return ExecResult("timeout", f"CPU limit of {limits.cpu} s reached", seconds, output)
    if said == _DONE + token and rc == 0:
        return ExecResult("passed", "", seconds, output)
    tail = _detail(output)
    if said == _DONE:
        why = f"an incomplete verdict: 'done', but the token never came back (exit status {rc})"
    elif said == _DONE + token:
        why = f"the verdict came back, but the process ended with exit status {rc}"
    elif said:
        why = "a forged verdict: the verdict pipe carried something other than the driver's"
    elif rc == 0:
        why = "the program exited before its test finished (status 0, no verdict)"
    elif rc < 0:
        why = f"killed by signal {-rc}"
    else:
        why = f"exit status {rc}"
    return ExecResult("failed", f"{tail}\n{why}" if tail else why, seconds, output)


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2 :].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _child_pid(info: bytes, bwrap: int) -> int | None:
    """The sandbox's pid 1 as bwrap reported it, if it really descends from our bwrap.

    (bwrap closes its info pipe before the program starts; the check keeps a forged report
    from ever making the harness kill anything else.)
    """
    try:
        pid = json.loads(info.decode("utf-8")).get("child-pid")
    except (ValueError, AttributeError):
        return None
    if not isinstance(pid, int) or pid <= 1:
        return None
    parent = _parent(pid)
    if parent == bwrap or (parent is not None and _parent(parent) == bwrap):
        return pid
    return None


def run_program(
    program: str, limits: Limits = Limits(), *, unsandboxed: bool = False
) -> ExecResult:
    """Run one Python program in the sandbox (see the module docstring).

    Raises :class:`SandboxUnavailable` when bubblewrap is not usable, unless
    ``unsandboxed`` (then the program runs in a plain subprocess, isolated by nothing).
    """
    if not unsandboxed:
        require_sandbox()
    return _run(program, limits, sandbox=not unsandboxed)


def run_programs(
    programs: Sequence[str],
    limits: Limits = Limits(),
    *,
    unsandboxed: bool = False,
    workers: int | None = None,
) -> list[ExecResult]:
    """Run programs in parallel sandboxes (one each), results in the order given."""
    if not programs:
        return []
    if not unsandboxed:
        require_sandbox()
    n = workers or max(1, min(len(programs), os.cpu_count() or 1))
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda p: _run(p, limits, sandbox=not unsandboxed), programs))
