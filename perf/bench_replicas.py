"""Load test: two ``arena serve`` replicas on one PostgreSQL, behind nginx, models on vLLM.

What it runs (the README's "Deployment" section is this setup):

* a PostgreSQL server of its own (``initdb`` in a temporary folder, as the tests do;
  :func:`arena.store.pgtemp.temporary_postgres`, fsync on);
* a vLLM server (``perf/.venv-vllm/bin/vllm serve``, CPU build) serving SmolLM2-135M-
  Instruct under two names, ``smollm2-a`` and ``smollm2-b``, the two models of the models
  file (``--vllm-url`` reuses a running one that serves both names);
* ``--replicas`` (2) ``arena serve`` processes on 127.0.0.1, one PostgreSQL URL, the same
  models file and ``ARENA_SECRET``, started together (the migration lock serialises their
  start-up migrations);
* nginx (Debian's ``nginx-light``) in front with sticky sessions by cookie and websocket
  upgrade (:func:`nginx_config`, printed with ``--print-nginx``);
* ``--voters`` simulated voters, each a Chromium page (Playwright, Debian's
  ``/usr/bin/chromium``) over a real websocket through the proxy, each doing rounds: load
  the page, send a prompt, wait for both answers, vote, wait for "Thanks for voting"
  (the page says it only after the vote is committed).

``--kill-after`` seconds into the run one replica gets SIGKILL (its whole process
group). Its voters' websockets close; they load the page again through the proxy, which
sends them to the surviving replica, and go on. At the end the votes acknowledged (the
page showed the reveal) are checked against the votes stored in PostgreSQL, prompt by
prompt (each prompt carries a unique tag): every acknowledged vote must be stored. A vote
stored but not acknowledged (committed, then the replica died before the page showed it)
is counted apart: the voter did not see it, nothing is lost.

Printed: a table (rounds, votes acknowledged / stored / lost, errors by kind, p50/p99
page-load, answer and vote latencies, rounds per replica), written to
``perf/out/replicas.json`` and, with ``--results``, to ``perf/RESULTS.md`` between the
markers ``<!-- replicas:begin -->`` / ``<!-- replicas:end -->``.

Run from the project root (a few minutes; vLLM start-up alone takes minutes on 2 cores)::

    .venv/bin/python perf/bench_replicas.py --results
    .venv/bin/python perf/bench_replicas.py --vllm-url http://127.0.0.1:8101/v1 --voters 12
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VLLM = ROOT / "perf" / ".venv-vllm" / "bin" / "vllm"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SERVED_NAMES = ("smollm2-a", "smollm2-b")
#: Name of the cookie nginx pins a browser to a replica with.
STICKY_COOKIE = "arena_replica"
RESULTS_BEGIN = "<!-- replicas:begin -->"
RESULTS_END = "<!-- replicas:end -->"
QUESTIONS = (
    "Why is the sky blue?",
    "Give me three tips for learning to cook.",
    "What is the capital of France?",
    "Explain what a prime number is.",
    "Write a haiku about autumn.",
    "How do plants make food?",
    "What does a compiler do?",
    "Name two uses of a paperclip.",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(url: str, timeout: float = 3.0) -> bytes | None:
    """The body of a 200 answer, or None (refused, error, timeout)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bytes(response.read()) if response.status == 200 else None
    except OSError:
        return None


@dataclass
class Proc:
    """A child process in its own process group, with its log."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self) -> None:
        if not self.alive():
            return
        self.kill(signal.SIGTERM)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def start(name: str, command: list[str], log: Path, env: dict[str, str] | None = None) -> Proc:
    handle = log.open("wb")
    popen = subprocess.Popen(
        command,
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        start_new_session=True,  # its own process group: SIGKILL takes its children too
    )
    handle.close()
    return Proc(name, popen, log)


def wait_until(what: str, check: Any, timeout: float, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc is not None and not proc.alive():
            raise SystemExit(f"{what}: the process exited\n{proc.tail()}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not ready after {timeout:.0f} s" +
                             (f"\n{proc.tail()}" if proc else ""))
        time.sleep(0.5)


def vllm_serves_both(base_url: str) -> bool:
    body = http_ok(f"{base_url}/models")
    if body is None:
        return False
    # vLLM lists its first served name only; a chat request proves the others.
    for name in SERVED_NAMES:
        request = urllib.request.Request(
            f"{base_url}/chat/completions",
            data=json.dumps(
                {"model": name, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                if response.status != 200:
                    return False
        except OSError:
            return False
    return True


def start_vllm(tmp: Path, port: int) -> tuple[Proc, str]:
    """vLLM's CPU build serving SmolLM2-135M-Instruct as both models (the Makefile's way)."""
    if not VLLM.is_file():
        raise SystemExit(f"vLLM is not installed ({VLLM} is missing): run `make vllm` first")
    from arena.backends.convert import model_folder

    folder = model_folder("smollm2-135m-instruct", None)
    command = [str(VLLM), "serve", str(folder), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--dtype", "float32", "--max-model-len", "2048", "--enforce-eager"]
    command += ["--served-model-name", *SERVED_NAMES]
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    proc = start("vllm", command, tmp / "vllm.log", env)
    url = f"http://127.0.0.1:{port}/v1"
    wait_until("vLLM", lambda: http_ok(f"{url}/models") is not None, 1500, proc)
    return proc, url


def models_file(path: Path, base_url: str) -> Path:
    """Two models on the one vLLM server (two served names of the same weights)."""
    entries = []
    for name, display in zip(SERVED_NAMES, ("SmolLM2 A", "SmolLM2 B"), strict=True):
        entries.append(
            f'[[models]]\nname = "{name}"\nbackend = "openai"\nbase_url = "{base_url}"\n'
            f'model = "{name}"\ndisplay_name = "{display}"\norganization = "Hugging Face"\n'
        )
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


def nginx_config(listen: int, replicas: list[int], prefix: Path) -> str:
    """nginx in front of the replicas: sticky by cookie, websocket upgrade, fail-over.

    A browser without the cookie is given a replica at random (``split_clients``) and
    the cookie naming it; later requests (the page, its static files, the websocket) go
    to that replica's upstream group, whose other servers are ``backup``: when the
    replica dies, nginx sends the browser to the next one (connection refused is an
    ``error`` for ``proxy_next_upstream``), and the page reconnects its websocket there.
    """
    n = len(replicas)
    groups = []
    for i in range(n):
        servers = [f"        server 127.0.0.1:{replicas[i]} max_fails=1 fail_timeout=10s;"]
        for j in range(1, n):
            servers.append(f"        server 127.0.0.1:{replicas[(i + j) % n]} backup;")
        groups.append(f"    upstream arena_r{i + 1} {{\n" + "\n".join(servers) + "\n    }")
    split = "\n".join(
        f"        {100 / n:.4g}% arena_r{i + 1};" if i < n - 1 else f"        * arena_r{i + 1};"
        for i in range(n)
    )
    known = "|".join(f"arena_r{i + 1}" for i in range(n))
    return f"""# nginx in front of {n} `arena serve` replicas (perf/bench_replicas.py)
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

{chr(10).join(groups)}

    # A new browser gets a replica at random; the cookie keeps it there.
    split_clients "${{remote_addr}}${{remote_port}}${{msec}}" $arena_new {{
{split}
    }}
    map $cookie_{STICKY_COOKIE} $arena_pick {{
        ~^({known})$ $cookie_{STICKY_COOKIE};
        default $arena_new;
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    server {{
        listen 127.0.0.1:{listen};
        location / {{
            proxy_pass http://$arena_pick;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;      # a voter's websocket stays open for the session
            proxy_send_timeout 1h;
            proxy_buffering off;        # answers stream
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
            add_header Set-Cookie "{STICKY_COOKIE}=$arena_pick; Path=/; HttpOnly; SameSite=Lax";
            add_header X-Arena-Upstream $upstream_addr;  # which replica answered
        }}
    }}
}}
"""


def start_nginx(tmp: Path, listen: int, replicas: list[int]) -> Proc:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).is_file():
        raise SystemExit(
            "nginx is not installed: apt-get install nginx-light (Debian's nginx, the "
            "proxy of this load test and of the README's deployment section)"
        )
    prefix = tmp / "nginx"
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(listen, replicas, prefix), encoding="utf-8")
    command = [nginx, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]
    if os.geteuid() == 0:  # workers run as root here: the temp folders are root's
        command[-1] = "daemon off; user root;"
    proc = start("nginx", command, prefix / "stderr.log")
    wait_until("nginx", lambda: http_ok(f"http://127.0.0.1:{listen}/_stcore/health") == b"ok",
               30, proc)
    return proc


def start_replica(i: int, port: int, database: str, models: Path, tmp: Path,
                  env: dict[str, str]) -> Proc:
    command = [sys.executable, "-m", "arena.cli.serve", "--host", "127.0.0.1",
               "--port", str(port), "--database", database, "--models", str(models)]
    return start(f"replica{i}", command, tmp / f"replica{i}.log", env)


@dataclass
class Stats:
    """What the voters measured."""

    page_s: list[float] = field(default_factory=list)
    answer_s: list[float] = field(default_factory=list)
    vote_s: list[float] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    interrupted: int = 0
    rounds: int = 0
    by_replica: Counter[str] = field(default_factory=Counter)
    after_kill_by_replica: Counter[str] = field(default_factory=Counter)
    voters_moved: set[int] = field(default_factory=set)


class Interrupted(Exception):
    """The page's websocket closed (its replica died): load the page again."""


class Voter:
    """One simulated voter: a browser context doing rounds through the proxy."""

    def __init__(self, i: int, context: Any, base: str, stats: Stats, killed: asyncio.Event,
                 names: dict[str, str], seed: int) -> None:
        self.i, self.context, self.base, self.stats = i, context, base, stats
        self.killed, self.names = killed, names
        self.rng = random.Random(seed * 1000 + i)
        self.closed = asyncio.Event()
        self.page: Any = None
        self.stage = "page"

    def _on_socket(self, ws: Any) -> None:
        if "/_stcore/stream" in ws.url:
            ws.on("close", lambda *_: self.closed.set())

    async def run(self, stop_at: float) -> None:
        """Rounds until ``stop_at``; a closed websocket is a reconnect, not an error."""
        from playwright.async_api import Error as PlaywrightError

        self.page = await self.context.new_page()
        self.page.on("websocket", self._on_socket)
        round_no = 0
        try:
            while time.monotonic() < stop_at:
                round_no += 1
                tag = f"[v{self.i}r{round_no}-{secrets.token_hex(3)}]"
                try:
                    await self.round(f"{tag} {self.rng.choice(QUESTIONS)}", tag)
                except Interrupted:
                    self._interrupted()
                except (PlaywrightError, TimeoutError, RuntimeError) as error:
                    if self.closed.is_set():  # the websocket went down under it
                        self._interrupted()
                        continue
                    line = str(error).splitlines()[0][:80] if str(error) else ""
                    self.stats.errors[f"{self.stage}: {type(error).__name__}: {line}"] += 1
                    await asyncio.sleep(1.0)
        finally:
            await self.context.close()

    def _interrupted(self) -> None:
        self.stats.interrupted += 1
        self.stats.voters_moved.add(self.i)

    async def round(self, prompt: str, tag: str) -> None:
        """Load the page, send ``prompt``, wait for both answers, vote, see the reveal."""
        page, stats = self.page, self.stats
        self.stage = "page"
        self.closed.clear()
        after_kill = self.killed.is_set()  # only loads begun after the kill count as after
        t0 = time.monotonic()
        response = await page.goto(self.base + "/", wait_until="domcontentloaded",
                                   timeout=60_000)
        box = page.get_by_test_id("stChatInputTextArea")
        await box.wait_for(timeout=60_000)
        await page.get_by_role("button", name="A is better", exact=True).wait_for(
            timeout=60_000)
        stats.page_s.append(time.monotonic() - t0)
        # the server nginx used (after a refused connection it lists both: the last)
        upstream = ({} if response is None else response.headers).get("x-arena-upstream", "?")
        replica = self.names.get(upstream.split(",")[-1].strip(), upstream)
        stats.by_replica[replica] += 1
        if after_kill:
            stats.after_kill_by_replica[replica] += 1
        stats.rounds += 1
        self.stage = "answer"
        await box.fill(prompt)
        await box.press("Enter")
        t1 = time.monotonic()
        choice = self.rng.choice(["A is better", "B is better", "Tie", "Both are bad"])
        button = page.get_by_role("button", name=choice, exact=True)
        while not await button.is_enabled():
            self._check(t1, 240)
            if await page.get_by_text("start a new round").count():
                raise RuntimeError("round failed")
            await asyncio.sleep(0.25)
        stats.answer_s.append(time.monotonic() - t1)
        self.stage = "vote"
        t2 = time.monotonic()
        await button.click()
        thanks = page.get_by_text("Thanks for voting")
        while not await thanks.count():
            self._check(t2, 60)
            await asyncio.sleep(0.05)
        stats.vote_s.append(time.monotonic() - t2)
        stats.acknowledged.append(tag)

    def _check(self, since: float, limit_s: float) -> None:
        if self.closed.is_set():
            raise Interrupted
        if time.monotonic() - since > limit_s:
            raise TimeoutError(f"no progress in {limit_s:.0f} s")


async def drive(base: str, n_voters: int, duration: float, kill_after: float | None,
                victim: Proc | None, names: dict[str, str],
                seed: int) -> tuple[Stats, float | None]:
    from playwright.async_api import async_playwright

    stats = Stats()
    killed = asyncio.Event()
    kill_time: list[float] = []

    async def killer(start: float) -> None:
        if kill_after is None or victim is None:
            return
        await asyncio.sleep(kill_after)
        victim.kill(signal.SIGKILL)
        kill_time.append(time.monotonic() - start)
        killed.set()
        print(f"  {kill_time[0]:.0f} s: SIGKILL to {victim.name} (pid {victim.popen.pid})",
              flush=True)

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            start_at = time.monotonic()
            stop_at = start_at + duration
            tasks = [asyncio.create_task(killer(start_at))]
            for i in range(n_voters):
                context = await browser.new_context()
                one = Voter(i, context, base, stats, killed, names, seed)
                tasks.append(asyncio.create_task(one.run(stop_at)))
                await asyncio.sleep(0.5)  # arrivals spread over a few seconds
            await asyncio.gather(*tasks)
        finally:
            await browser.close()
    return stats, (kill_time[0] if kill_time else None)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError, ValueError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {"cpus": os.cpu_count(), "cpu": model, "memory_mb": mem,
            "python": platform.python_version(), "system": platform.platform()}


@contextlib.contextmanager
def processes() -> Iterator[list[Proc]]:
    procs: list[Proc] = []
    try:
        yield procs
    finally:
        for proc in reversed(procs):
            proc.stop()


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def report(result: dict[str, Any]) -> str:
    """The Markdown table printed and written to perf/RESULTS.md."""
    lat = result["latency_s"]
    v = result["votes"]
    lines = [
        "| measure | value |",
        "|---|---|",
        f"| voters / replicas / duration | {result['voters']} / {result['replicas']} / "
        f"{result['duration_s']:.0f} s |",
        f"| replica killed (SIGKILL) at | {fmt(result['killed_at_s'])} s |",
        f"| rounds started | {result['rounds']} |",
        f"| votes acknowledged (page showed the reveal) | {v['acknowledged']} |",
        f"| votes stored (PostgreSQL) | {v['stored']} |",
        f"| acknowledged but not stored (lost) | {v['lost']} |",
        f"| stored but not acknowledged (replica died before the page showed it) | "
        f"{v['unacknowledged']} |",
        f"| rounds interrupted by the kill (websocket closed; page reloaded) | "
        f"{result['interrupted']} |",
        f"| voters whose round the kill interrupted (page reloaded through nginx) | "
        f"{result['voters_moved']} |",
        f"| page loads per replica (all / after the kill) | "
        f"{result['by_replica']} / {result['after_kill_by_replica']} |",
        f"| battles by status at the end | {result['battles_by_status']} |",
        f"| scheduled snapshots (both replicas, every 30 s; one per slot) | "
        f"{result['scheduled_snapshots']} |",
        f"| errors | {sum(result['errors'].values())} "
        + (f"({'; '.join(f'{k}: {n}' for k, n in result['errors'].items())})"
           if result["errors"] else "") + " |",
    ]
    for name, label in (("page", "page load (to a usable chat box)"),
                        ("answer", "both answers complete (prompt sent to vote buttons on)"),
                        ("vote", "vote (click to 'Thanks for voting')")):
        q = lat[name]
        lines.append(f"| {label}: p50 / p99 / n | {fmt(q['p50'])} s / {fmt(q['p99'])} s / "
                     f"{q['n']} |")
    lines.append(f"| load average before / after | {result['load_before']} / "
                 f"{result['load_after']} |")
    return "\n".join(lines)


def write_results(path: Path, result: dict[str, Any], table: str) -> None:
    m = result["machine"]
    section = "\n".join([
        RESULTS_BEGIN,
        "## Web app as replicas: two `arena serve` on one PostgreSQL behind nginx "
        "(`perf/bench_replicas.py`)",
        "",
        f"Run {result['when']} on {m['cpus']} CPU cores ({m['cpu']}), {m['memory_mb']} MB, "
        f"{m['system']}; shared with other work (load average before "
        f"{result['load_before']}, after {result['load_after']}). Models: SmolLM2-135M-"
        "Instruct on vLLM's CPU build under two served names "
        f"(`smollm2-a`, `smollm2-b`), answers capped at {result['max_new_tokens']} tokens; "
        f"PostgreSQL {result['postgres']} (fsync on); nginx {result['nginx']} with sticky "
        "cookies; Chromium pages over real websockets. Command:",
        "",
        "```sh",
        result["command"],
        "```",
        "",
        table,
        "",
        "Every acknowledged vote was checked in PostgreSQL by its prompt's unique tag. "
        "Latencies include the browser's own work (Chromium, the replicas, nginx, "
        "PostgreSQL and vLLM share the cores with whatever else runs: see the load "
        "average); the answers' time is vLLM's. With fewer than 100 samples p99 is the "
        "slowest one. Battles left `generating` are the rounds the kill interrupted: "
        "they never take a vote.",
        RESULTS_END,
    ])
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if RESULTS_BEGIN in text and RESULTS_END in text:
        head, rest = text.split(RESULTS_BEGIN, 1)
        _, tail = rest.split(RESULTS_END, 1)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def tool_version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    found = re.search(r"\d+(?:\.\d+)+", out.stdout + out.stderr)
    return found.group(0) if found else "?"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voters", type=int, default=8, help="simulated voters (1-20)")
    parser.add_argument("--replicas", type=int, default=2, help="arena serve processes (2-4)")
    parser.add_argument("--duration", type=float, default=150.0,
                        help="seconds during which voters start rounds (10-600)")
    parser.add_argument("--kill-after", type=float, default=60.0,
                        help="seconds into the run to SIGKILL replica 1 (negative: never)")
    parser.add_argument("--vllm-url", default=None,
                        help="reuse a running vLLM (serving smollm2-a and smollm2-b), "
                             "e.g. http://127.0.0.1:8101/v1; default: start one on --vllm-port")
    parser.add_argument("--vllm-port", type=int, default=8101)
    parser.add_argument("--max-new-tokens", type=int, default=48,
                        help="answer cap per side (ARENA_MAX_NEW_TOKENS)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", action="store_true",
                        help="write the section of perf/RESULTS.md")
    parser.add_argument("--print-nginx", action="store_true",
                        help="print the nginx configuration for two replicas and exit")
    args = parser.parse_args(argv)
    if not 1 <= args.voters <= 20:
        parser.error("--voters must be between 1 and 20 (a bounded load on 127.0.0.1)")
    if not 2 <= args.replicas <= 4:
        parser.error("--replicas must be between 2 and 4")
    if not 10 <= args.duration <= 600:
        parser.error("--duration must be between 10 and 600 seconds")
    if not 1 <= args.max_new_tokens <= 1024:
        parser.error("--max-new-tokens must be between 1 and 1024")
    args.kill_after = None if args.kill_after < 0 else args.kill_after
    if args.kill_after is not None and args.kill_after >= args.duration:
        parser.error("--kill-after must fall inside --duration")
    return args


def replica_env(args: argparse.Namespace) -> dict[str, str]:
    """The settings every replica gets (the README's deployment section lists them)."""
    return {
        "ARENA_SECRET": secrets.token_urlsafe(32),  # the same on every replica
        "ARENA_MAX_NEW_TOKENS": str(args.max_new_tokens),
        "ARENA_TRUSTED_PROXY_HEADER": "X-Forwarded-For",
        "ARENA_TRUSTED_PROXY_HOPS": "1",
        "ARENA_RATE_LIMIT": "1000",  # the limiter runs (in PostgreSQL) on every message;
        "ARENA_CLIENT_RATE_LIMIT": "100000",  # every simulated voter is 127.0.0.1
        "ARENA_LEADERBOARD_TTL_S": "10",
        "ARENA_SNAPSHOT_EVERY_S": "30",
        "PYTHONPATH": str(ROOT),
    }


def store_counts(database: str) -> tuple[list[str], dict[str, int], int]:
    """First prompt of every voted battle, battles per status, scheduled snapshots."""
    import psycopg

    url = database.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        prompts = [str(r[0]) for r in conn.execute(
            "SELECT c.text FROM votes v JOIN battles b ON b.id = v.battle_id "
            "JOIN conversations c ON c.id = b.conversation_id").fetchall()]
        statuses = {str(k): int(n) for k, n in conn.execute(
            "SELECT status, count(*) FROM battles GROUP BY status").fetchall()}
        snapshots = conn.execute(
            "SELECT count(*) FROM leaderboard_snapshots WHERE schedule_slot IS NOT NULL"
        ).fetchone()
    return prompts, statuses, int(snapshots[0]) if snapshots else 0


def summarise(stats: Stats, database: str) -> dict[str, Any]:
    """Votes acknowledged against votes stored (by tag), latencies, errors."""
    prompts, statuses, snapshots = store_counts(database)
    stored_tags = {p.split(" ", 1)[0] for p in prompts if p.startswith("[v")}
    acked = set(stats.acknowledged)
    lost = sorted(acked - stored_tags)
    return {
        "rounds": stats.rounds,
        "votes": {
            "acknowledged": len(stats.acknowledged),
            "stored": len(prompts),
            "lost": len(lost),
            "lost_tags": lost,
            "unacknowledged": len(stored_tags - acked),
        },
        "battles_by_status": statuses,
        "scheduled_snapshots": snapshots,
        "interrupted": stats.interrupted,
        "voters_moved": len(stats.voters_moved),
        "by_replica": dict(sorted(stats.by_replica.items())),
        "after_kill_by_replica": dict(sorted(stats.after_kill_by_replica.items())),
        "errors": dict(stats.errors),
        "latency_s": {
            name: {"p50": pct(values, 50), "p99": pct(values, 99), "n": len(values),
                   "mean": statistics.fmean(values) if values else None}
            for name, values in (("page", stats.page_s), ("answer", stats.answer_s),
                                 ("vote", stats.vote_s))
        },
    }


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Start everything, drive the voters, count; every process stopped on the way out."""
    from arena.store.pgtemp import temporary_postgres

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="arena-replicas-") as folder, processes() as procs:
        tmp = Path(folder)
        print("starting PostgreSQL …", flush=True)
        with temporary_postgres(durable=True) as database:
            if args.vllm_url:
                vllm_url = args.vllm_url.rstrip("/")
                print(f"reusing vLLM at {vllm_url} …", flush=True)
            else:
                print("starting vLLM (minutes on 2 cores) …", flush=True)
                vllm, vllm_url = start_vllm(tmp, args.vllm_port)
                procs.append(vllm)
            if not vllm_serves_both(vllm_url):
                raise SystemExit(f"vLLM at {vllm_url} does not serve {', '.join(SERVED_NAMES)}")
            models = models_file(tmp / "models.toml", vllm_url)
            env = replica_env(args)
            ports = [free_port() for _ in range(args.replicas)]
            print(f"starting {args.replicas} replicas on ports {ports} …", flush=True)
            replicas = [start_replica(i + 1, port, database, models, tmp, env)
                        for i, port in enumerate(ports)]
            procs.extend(replicas)
            for proc, port in zip(replicas, ports, strict=True):
                wait_until(proc.name, lambda port=port: http_ok(
                    f"http://127.0.0.1:{port}/_stcore/health") == b"ok", 180, proc)
            listen = free_port()
            procs.append(start_nginx(tmp, listen, ports))
            base = f"http://127.0.0.1:{listen}"
            print(f"nginx on {base}; {args.voters} voters for {args.duration:.0f} s"
                  + (f", replica1 killed at {args.kill_after:.0f} s"
                     if args.kill_after is not None else ""), flush=True)
            names = {f"127.0.0.1:{port}": p.name for port, p in zip(ports, replicas, strict=True)}
            started = time.monotonic()
            stats, killed_at = asyncio.run(drive(
                base, args.voters, args.duration, args.kill_after, replicas[0], names,
                args.seed))
            wall = time.monotonic() - started
            result = summarise(stats, database)
            result["replicas_alive_at_end"] = [p.name for p in replicas if p.alive()]
            for proc in replicas:
                proc.stop()
    result.update({
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": command,
        "machine": machine(),
        "voters": args.voters,
        "replicas": args.replicas,
        "duration_s": wall,
        "killed_at_s": killed_at,
        "max_new_tokens": args.max_new_tokens,
        "load_before": load_before,
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "postgres": tool_version(["/usr/lib/postgresql/15/bin/postgres", "--version"]),
        "nginx": tool_version([shutil.which("nginx") or "/usr/sbin/nginx", "-v"]),
    })
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.print_nginx:
        print(nginx_config(8080, [8501, 8502], Path("/var/lib/arena-nginx")))
        return 0
    if not CHROMIUM.is_file():
        raise SystemExit("Debian's Chromium is missing: apt-get install chromium")
    command = "python perf/bench_replicas.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    result = run(args, command.strip())
    table = report(result)
    print(table)
    out = ROOT / "perf" / "out"
    out.mkdir(exist_ok=True)
    (out / "replicas.json").write_text(json.dumps(result, indent=2, default=str))
    if args.results:
        write_results(ROOT / "perf" / "RESULTS.md", result, table)
        print("wrote perf/RESULTS.md (replicas section)")
    if result["votes"]["lost"] or not result["votes"]["acknowledged"]:
        print("FAILED: acknowledged votes missing from the store, or no vote at all",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
