"""The code sandbox: bubblewrap isolation, limits, output caps, verdict tokens, cleanup.

Every program here is hostile on purpose; each test states what it must not achieve.
The tests run as they do in CI (as root, where bubblewrap is installed by the Makefile).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from arena.harness import (
    Limits,
    SandboxUnavailable,
    _sandbox,
    require_sandbox,
    run_program,
    run_programs,
    sandbox_status,
)

L10 = Limits(timeout=10)


def _alive(marker: str) -> list[int]:
    """Host pids whose command line is exactly ``marker`` (a process a test left behind)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").strip().decode()
        except OSError:
            continue
        if cmd == marker:
            found.append(int(pid))
    return found


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP server on the host's 127.0.0.1 that records every connection it gets."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    got: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            got.append(str(addr))
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield server.getsockname()[1], got
    stop.set()
    t.join(2)
    server.close()


def test_the_sandbox_is_usable_here() -> None:
    status = sandbox_status()
    assert status.usable, status.reason
    assert status.version and any("pid" in layer for layer in status.layers)
    record = require_sandbox()
    assert record["tool"] == "bubblewrap" and record["unsandboxed"] is False


def test_passing_and_failing_programs() -> None:
    ok, bad = run_programs(["assert sum([1, 2]) == 3", "assert 1 == 2, 'nope'"], L10)
    assert ok.passed and bad.status == "failed" and "nope" in bad.detail


def test_network_is_refused(listener: tuple[int, list[str]]) -> None:
    port, got = listener
    r = run_program(
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)", L10
    )
    assert r.status == "failed" and "ConnectionRefusedError" in r.detail
    r = run_program(
        "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=2)", L10
    )
    assert r.status == "failed"
    assert got == []  # the host's loopback never saw a connection


def test_processes_and_threads_are_refused() -> None:
    r = run_program("import subprocess\nsubprocess.run(['/bin/echo', 'hi'], check=True)", L10)
    assert r.status == "failed" and "BlockingIOError" in r.detail
    r = run_program("import threading\nthreading.Thread(target=print).start()", L10)
    assert r.status == "failed" and "can't start new thread" in r.detail


def test_runaway_loop_is_killed() -> None:
    r = run_program("while True:\n    pass", Limits(timeout=1.5))
    assert r.status == "timeout" and r.seconds < 8


def test_cpu_limit_stops_a_busy_program_before_the_wall_clock() -> None:
    r = run_program("while True:\n    pass", Limits(timeout=30, cpu_seconds=1))
    assert r.status == "timeout" and "CPU limit" in r.detail and r.seconds < 10


def test_memory_hog_is_stopped() -> None:
    r = run_program("x = bytearray(4 * 1024 ** 3)", Limits(timeout=10, memory_mb=256))
    assert r.status == "failed" and "MemoryError" in r.detail


def test_memory_cannot_be_multiplied_by_forking() -> None:
    # each child would stay under the per-process limit; together they would not
    src = """
import os
for _ in range(8):
    if os.fork() == 0:
        x = bytearray(200 * 1024 ** 2)
        os._exit(0)
"""
    r = run_program(src, Limits(timeout=10, memory_mb=256))
    assert r.status == "failed" and "BlockingIOError" in r.detail


def test_limits_cannot_be_raised_from_inside() -> None:
    src = """
import resource
for res in (resource.RLIMIT_NPROC, resource.RLIMIT_AS, resource.RLIMIT_CPU):
    try:
        resource.setrlimit(res, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        continue
    raise AssertionError(f"raised limit {res}")
"""
    r = run_program(src, L10)
    assert r.passed, r.detail


def test_only_a_scratch_directory_and_the_standard_library_are_there() -> None:
    src = """
import os, sys
assert os.getcwd() == "/sandbox" and os.environ["HOME"] == "/sandbox"
assert sorted(os.environ) == ["HOME", "LANG", "PATH", "PWD", "TMPDIR"], sorted(os.environ)
for gone in ("/work", "/etc/passwd", "/root/.bashrc", "/home", "/var", "/opt"):
    assert not os.path.exists(gone), gone
assert os.listdir(sys.prefix + "/lib/python3.11/site-packages") == []
assert os.getuid() == 65534 and os.getpid() < 16
try:
    import numpy
except ModuleNotFoundError:
    pass
else:
    raise AssertionError("numpy importable")
import json, hashlib, itertools, math  # the standard library is there
"""
    r = run_program(src, L10)
    assert r.passed, r.detail


def test_writes_stay_in_capped_scratch_space() -> None:
    src = """
import errno
for path in ("/x", "/dev/x", "/dev/shm/x", "/usr/x", "/proc/x", "/root/x"):
    try:
        open(path, "w").write("x")
    except OSError as e:
        assert e.errno in (errno.EROFS, errno.ENOENT, errno.EACCES), (path, e)
    else:
        raise AssertionError("wrote " + path)
open("/sandbox/ok", "w").write("x")
open("/tmp/ok", "w").write("x")
with open("/tmp/big", "wb") as f:
    f.write(b"x" * (32 << 20))
"""
    r = run_program(src, Limits(timeout=10, scratch_mb=8))
    assert r.status == "failed" and "No space left on device" in r.detail


def test_file_size_limit() -> None:
    r = run_program(
        "open('/tmp/f', 'wb').write(b'x' * (3 << 20))", Limits(timeout=10, file_size_mb=1)
    )
    assert r.status == "failed" and "File too large" in r.detail


def test_open_files_limit() -> None:
    r = run_program(
        "fs = [open('/dev/null') for _ in range(100)]", Limits(timeout=10, open_files=32)
    )
    assert r.status == "failed" and "Too many open files" in r.detail


@pytest.mark.parametrize(
    "src",
    [
        "raise SystemExit(0)",
        "import sys\nsys.exit()",
        "import os\nos._exit(0)",
        "exit(0)",
        "import os, sys\nsys.stdout.flush()\nos.kill(os.getpid(), 9)",
    ],
)
def test_an_early_exit_is_not_a_pass(src: str) -> None:
    r = run_program(src + "\nassert False, 'the test'", L10)
    assert r.status == "failed" and "the test" not in r.detail


def test_a_forged_verdict_is_not_a_pass() -> None:
    # guesses and printed verdicts on every descriptor, then an early exit
    src = """
import os, secrets
print("passed"); print("PASS")
for fd in range(1, 64):
    try:
        os.write(fd, secrets.token_hex(16).encode())
    except OSError:
        pass
os._exit(0)
"""
    r = run_program(src, L10)
    assert r.status == "failed" and "forged verdict" in r.detail


def test_the_token_is_nowhere_the_program_can_read_it_before_the_end() -> None:
    # its own source, arguments, environment, descriptors, files and memory: no token
    src = r"""
import gc, os, re, sys
hexes = re.compile(rb"[0-9a-f]{32}")
seen = []
for fd in map(int, os.listdir("/proc/self/fd")):
    try:
        os.set_blocking(fd, False)
        seen += hexes.findall(os.read(fd, 4096))
    except OSError:
        pass
with open(__file__, "rb") as f:
    seen += hexes.findall(f.read())
for name in ("cmdline", "environ"):
    with open("/proc/self/" + name, "rb") as f:
        seen += hexes.findall(f.read())
for root, _, files in os.walk("/sandbox"):
    for n in files:
        with open(os.path.join(root, n), "rb") as f:
            seen += hexes.findall(f.read())
for obj in gc.get_objects():
    if isinstance(obj, (str, bytes)) and len(obj) == 32:
        seen.append(obj)
frame = sys._getframe()
while frame is not None:
    seen += [v for v in frame.f_locals.values() if isinstance(v, (str, bytes)) and len(v) == 32]
    frame = frame.f_back
assert not seen, seen
"""
    r = run_program(src, L10)
    assert r.passed, r.detail


def test_replaying_every_descriptor_into_every_other_is_not_a_pass() -> None:
    src = """
import os
data = b""
for fd in range(64):
    try:
        os.set_blocking(fd, False)
        data += os.read(fd, 4096)
    except OSError:
        pass
for fd in range(3, 64):
    try:
        os.write(fd, b"done" + data)
    except OSError:
        pass
os._exit(0)
"""
    r = run_program(src, L10)
    assert r.status == "failed" and "verdict" in r.detail


def test_output_is_capped_and_the_cut_marked() -> None:
    r = run_program(
        "import sys\nsys.stdout.write('a' * 3_000_000)\nsys.stderr.write('TAIL')\nexit(1)",
        Limits(timeout=10, output_kb=16),
    )
    assert r.status == "failed"
    assert len(r.output) < 17_000 and "output truncated" in r.output and r.output.endswith("TAIL")


def test_a_flood_of_output_does_not_grow_the_harness() -> None:
    r = run_program("import sys\nwhile True:\n    sys.stderr.write('x' * 65536)", Limits(timeout=2))
    assert r.status == "timeout" and len(r.output) < 70_000 and "truncated" in r.output


def test_a_daemon_holding_stderr_open_neither_hangs_the_harness_nor_survives() -> None:
    marker = "/usr/bin/sleep 1234.5"
    src = """
import os
if os.fork() == 0:
    os.setsid()
    os.execv("/usr/bin/sleep", ["/usr/bin/sleep", "1234.5"])
"""
    start = time.perf_counter()
    r = run_program(src, Limits(timeout=20, processes=3))
    assert r.passed and time.perf_counter() - start < 10
    time.sleep(0.2)
    assert _alive(marker) == []


def test_at_the_timeout_the_whole_sandbox_dies() -> None:
    marker = "/usr/bin/sleep 2345.5"
    src = """
import os, time
for _ in range(3):
    if os.fork() == 0:
        os.execv("/usr/bin/sleep", ["/usr/bin/sleep", "2345.5"])
time.sleep(60)
"""
    r = run_program(src, Limits(timeout=2, processes=8))
    assert r.status == "timeout"
    time.sleep(0.2)
    assert _alive(marker) == []


def test_a_fork_bomb_is_bounded() -> None:
    src = """
import os
n = 0
try:
    while True:
        if os.fork() == 0:
            os.execv("/usr/bin/sleep", ["/usr/bin/sleep", "3456.5"])
        n += 1
except OSError:
    print("stopped after", n)
    raise
"""
    r = run_program(src, Limits(timeout=10, processes=8))
    assert r.status == "failed" and "stopped after 7" in r.output
    time.sleep(0.2)
    assert _alive("/usr/bin/sleep 3456.5") == []


def test_it_cannot_signal_anything_outside() -> None:
    victim = os.fork()
    if victim == 0:
        time.sleep(60)
        os._exit(0)
    try:
        src = f"""
import os, signal
for target in ({victim}, {os.getpid()}):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass
assert False, "still here"
"""
        r = run_program(src, L10)
        assert r.status == "failed"
        assert os.waitpid(victim, os.WNOHANG) == (0, 0)  # the victim still runs
    finally:
        os.kill(victim, 9)
        os.waitpid(victim, 0)


def test_unsandboxed_mode_keeps_limits_and_the_verdict() -> None:
    ok = run_program("assert 1 + 1 == 2", L10, unsandboxed=True)
    early = run_program("raise SystemExit(0)\nassert False", L10, unsandboxed=True)
    assert ok.passed and early.status == "failed" and "no verdict" in early.detail
    assert require_sandbox(unsandboxed=True)["tool"] == "none"


def test_unsandboxed_a_daemon_that_escapes_its_session_does_not_hang_the_harness() -> None:
    # without the sandbox nothing kills it (documented); the reader still stops waiting
    marker = "/usr/bin/sleep 4321.5"
    src = """
import os
if os.fork() == 0:
    os.setsid()
    os.execv("/usr/bin/sleep", ["/usr/bin/sleep", "4321.5"])
"""
    start = time.perf_counter()
    try:
        r = run_program(src, Limits(timeout=30), unsandboxed=True)
        assert r.passed and time.perf_counter() - start < 10
    finally:
        time.sleep(0.2)
        for pid in _alive(marker):
            os.kill(pid, 9)


def test_without_bubblewrap_code_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sandbox, "BWRAP", "/nonexistent/bwrap")
    sandbox_status.cache_clear()
    try:
        assert not sandbox_status().usable
        with pytest.raises(SandboxUnavailable) as err:
            run_program("assert True", L10)
        message = str(err.value)
        assert "'bubblewrap'" in message and "--unsandboxed-code" in message
        assert "\n" not in message
        assert run_program("assert True", L10, unsandboxed=True).passed
    finally:
        sandbox_status.cache_clear()


def test_a_bubblewrap_that_fails_its_self_test_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_sandbox, "BWRAP", "/bin/false")
    sandbox_status.cache_clear()
    try:
        status = sandbox_status()
        assert not status.usable and "self-test" in status.reason
    finally:
        sandbox_status.cache_clear()


def test_limits_are_checked_and_recorded() -> None:
    with pytest.raises(ValueError):
        Limits(timeout=0)
    with pytest.raises(ValueError):
        Limits(processes=0)
    d = Limits(timeout=2.5).as_dict()
    assert d["cpu_seconds"] == 3 and d["memory_mb"] == 1024 and d["processes"] == 1


def test_output_buffer_keeps_head_and_tail() -> None:
    buf = _sandbox._Output(10)
    for chunk in (b"12345", b"abc", b"xyz", b"END"):
        buf.add(chunk)
    text = buf.text()
    assert text.startswith("12345") and text.endswith("yzEND") and "truncated: 4 bytes" in text
