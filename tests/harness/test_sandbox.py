"""The code sandbox refuses the network and processes, and kills runaway and greedy programs."""

from __future__ import annotations

from arena.harness import run_program, run_programs


def test_passing_and_failing_programs() -> None:
    ok, bad = run_programs(["assert sum([1, 2]) == 3", "assert 1 == 2, 'nope'"], timeout=10)
    assert ok.passed and bad.status == "failed" and "nope" in bad.detail


def test_network_is_refused() -> None:
    r = run_program(
        "import socket\ns = socket.create_connection(('127.0.0.1', 80), timeout=1)", timeout=10
    )
    assert r.status == "failed" and "sandbox" in r.detail
    r = run_program(
        "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=2)", timeout=10
    )
    assert r.status == "failed"


def test_processes_are_refused() -> None:
    r = run_program("import os\nos.system('echo hi')", timeout=10)
    assert r.status == "failed" and "os.system" in r.detail


def test_runaway_loop_is_killed() -> None:
    r = run_program("while True:\n    pass", timeout=1.5)
    assert r.status == "timeout" and r.seconds < 8


def test_memory_hog_is_stopped() -> None:
    r = run_program("x = bytearray(4 * 1024 ** 3)", timeout=10, memory_mb=256)
    assert r.status == "failed" and "MemoryError" in r.detail


def test_runs_in_a_temporary_directory() -> None:
    r = run_program(
        "import os\nassert os.path.basename(os.getcwd()).startswith('arena-sandbox-')", timeout=10
    )
    assert r.passed
