"""Web-app start-up: from ``arena serve`` to a page that answers, and to both models ready.

Each run starts ``arena serve`` (as a user types it: the venv's console script, a fresh
SQLite database that it migrates, the default models file, a free port on 127.0.0.1) and
measures, from the moment the command is started:

* ``health``: the first ``ok`` from ``/_stcore/health`` (the server listens);
* ``page``: a real browser (Debian's Chromium driven by Playwright, headless) opened at
  ``health`` shows the Arena page with its prompt box (the app's script ran: service,
  database, models pool);
* ``models ready``: the page's "N of M models are still loading" notice is gone (the
  notice re-checks every 2 s, ``webapp/common.py``'s ``LOADING_POLL_S``, so this figure
  is up to 2 s late). The models start loading when the first visitor's session opens
  the service (each backend is made and loaded in its own thread: the page does not
  wait for torch and transformers to be imported);
* ``first battle``: a prompt typed then ("Name three rivers.") is answered by both
  models (the vote buttons are on), with answers capped at ``--max-new-tokens`` (32;
  ``ARENA_MAX_NEW_TOKENS``, the app's default is 256): the figure says the models
  answer, not how fast a busy CPU writes 256 tokens.

The models come from a converted-model store (``--cache``, default
``perf/out/model-cache``, passed as ``$ARENA_MODEL_CACHE``). When it lacks a model the
first run converts the GGUF weights and is reported as ``cold``; the others are
``cached``, the figure that matters for every start but the first.

    .venv/bin/python perf/bench_serve.py --runs 3
    .venv/bin/python perf/bench_serve.py --runs 3 --write-results     # into RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

PERF = Path(__file__).resolve().parent
ROOT = PERF.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
BEGIN_MARK = "<!-- serve_startup:begin -->"
END_MARK = "<!-- serve_startup:end -->"
#: Where an older run of this script wrote its section (replaced by the new one).
OLD_MARKS = ("<!-- bench_serve:begin -->", "<!-- bench_serve:end -->")
LOADING_TEXT = "still loading"
PROMPT = "Name three rivers."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cache_complete(cache: Path) -> bool:
    """Whether the store holds both default models (each a folder with its weights)."""
    folders = (
        [p for p in cache.glob("*") if (p / "config.json").is_file()] if cache.is_dir() else []
    )
    return len(folders) >= 2


def _in_browser(
    base: str,
    proc: subprocess.Popen[bytes],
    log_path: Path,
    t0: float,
    deadline: float,
    out: dict[str, Any],
) -> None:
    """Open the page in Chromium; time the page, the models ready and the first battle."""
    from playwright.sync_api import sync_playwright

    timeout = deadline - t0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(base + "/", wait_until="domcontentloaded")
        page.wait_for_selector("[data-testid='stChatInput'] textarea", timeout=timeout * 1000)
        out["page_s"] = time.perf_counter() - t0
        out["loading_seen"] = page.get_by_text(LOADING_TEXT).count() > 0
        while page.get_by_text(LOADING_TEXT).count() > 0:
            if time.perf_counter() > deadline:
                raise RuntimeError("models still loading at the timeout")
            if proc.poll() is not None:
                raise RuntimeError(f"arena serve exited: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        out["ready_s"] = time.perf_counter() - t0
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill(PROMPT)
        box.press("Enter")
        vote = page.get_by_role("button", name="A is better", exact=True)
        vote.wait_for(timeout=timeout * 1000)
        remaining = max(1.0, deadline - time.perf_counter())
        page.wait_for_function(
            "() => [...document.querySelectorAll('button')].some("
            "b => b.innerText.trim() === 'A is better' && !b.disabled)",
            timeout=remaining * 1000,
        )
        out["battle_s"] = time.perf_counter() - t0
        browser.close()


def one_run(
    cache: Path,
    timeout: float,
    log_dir: Path,
    out: dict[str, Any],
    tree: Path | None = None,
    max_new_tokens: int = 32,
) -> None:
    """Start ``arena serve``, time health, page and models ready into ``out``; stop it.

    ``out`` keeps what was measured when a later step fails (e.g. the timeout).
    """

    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(
        ARENA_MODEL_CACHE=str(cache),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ARENA_RATE_LIMIT="0",
        ARENA_MAX_NEW_TOKENS=str(max_new_tokens),
    )
    if tree is not None:  # another checkout's arena package and web app (a baseline)
        env["PYTHONPATH"] = str(tree)
    log_path = log_dir / f"serve-{port}.log"
    log = log_path.open("w")
    cmd = [
        str(Path(sys.executable).parent / "arena"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database",
        f"sqlite:///{work / 'arena.db'}",
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    out.update(port=port, log=str(log_path))
    try:
        deadline = t0 + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"arena serve exited: {log_path.read_text()[-2000:]}")
            if time.perf_counter() > deadline:
                raise RuntimeError("no health answer before the timeout")
            time.sleep(0.05)
        out["health_s"] = time.perf_counter() - t0
        _in_browser(base, proc, log_path, t0, deadline, out)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def summary(runs: list[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in runs if key in r]
    if not values:
        return "-"
    return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}"


def markdown(info: dict[str, Any]) -> str:
    lines = [
        BEGIN_MARK,
        "## Web app start-up: `arena serve` to a page, and to both models ready "
        "(`perf/bench_serve.py`)",
        "",
        f"Run {info['date']} with `{info['command']}`; load average before / after: "
        f"**{info['load_before']} / {info['load_after']}**"
        + (" (not a quiet machine)" if info["busy"] else "")
        + f". {info['cpu']}, {info['cores']} cores. Default models file "
        "(SmolLM2-135M-Instruct, Gemma 3 270M), fresh SQLite database migrated by the "
        "command, headless Chromium.",
        "",
        "| store | runs | health s (min / median / max) | page s | both models ready s "
        "| first battle answered s |",
        "|---|---|---|---|---|---|",
    ]
    for kind in ("cold", "cached", "baseline"):
        runs = [r for r in info["runs"] if r["kind"] == kind and "error" not in r]
        label = f" (commit {info.get('baseline_rev', '?')})" if kind == "baseline" else ""
        if runs:
            lines.append(
                f"| {kind}{label} | {len(runs)} | {summary(runs, 'health_s')} | "
                f"{summary(runs, 'page_s')} | {summary(runs, 'ready_s')} | "
                f"{summary(runs, 'battle_s')} |"
            )
    failed = [r for r in info["runs"] if "error" in r]
    lines += [
        "",
        "Seconds from starting `arena serve`: `health` is the first `ok` of "
        "`/_stcore/health`, `page` the Arena page with its prompt box in the browser, "
        "`both models ready` the page's loading notice gone (checked every 2 s by the "
        "page, so up to 2 s late; the models start loading when the first visitor opens "
        "the app), `first battle answered` a prompt typed then answered by both models "
        f"(the vote buttons on; answers capped at {info['max_new_tokens']} tokens). `cold`: "
        "the GGUF weights converted into an empty model store; `cached`: read back from it"
        + (
            "; `baseline`: the same on the checkout given by `--baseline`, its runs "
            "alternating with the others."
            if any(r["kind"] == "baseline" for r in info["runs"])
            else "."
        ),
    ]
    if failed:
        said = []
        for r in failed:
            got = ", ".join(
                f"{k[:-2]} {r[k]:.1f} s" for k in ("health_s", "page_s", "ready_s") if k in r
            )
            said.append(f"{r['kind']}: {r['error']}" + (f" (measured: {got})" if got else ""))
        lines += ["", f"Runs that did not finish: {'; '.join(said)}."]
    lines.append(END_MARK)
    return "\n".join(lines) + "\n"


def write_results(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Performance results\n"
    if OLD_MARKS[0] in text and OLD_MARKS[1] in text and BEGIN_MARK not in text:
        text = text.replace(OLD_MARKS[0], BEGIN_MARK).replace(OLD_MARKS[1], END_MARK)
    if BEGIN_MARK in text and END_MARK in text:
        head, rest = text.split(BEGIN_MARK, 1)
        tail = rest.split(END_MARK, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="runs with the cached model store")
    ap.add_argument("--cache", type=Path, default=PERF / "out" / "model-cache")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per run at most")
    ap.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of an earlier commit (git worktree add ...): its runs alternate "
        "with this one's, on the same cached store, reported as 'baseline'",
    )
    ap.add_argument("--max-new-tokens", type=int, default=32, help="cap of the first battle")
    ap.add_argument("--write-results", action="store_true")
    ap.add_argument("--results-file", type=Path, default=PERF / "RESULTS.md")
    ap.add_argument("--json", type=Path, default=PERF / "out" / "bench_serve.json")
    args = ap.parse_args(argv)
    if not CHROMIUM.is_file():
        ap.error(f"{CHROMIUM} is missing (apt-get install chromium)")
    log_dir = PERF / "out" / "serve-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    import bench_ratings

    m = bench_ratings.machine()
    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python perf/bench_serve.py " + " ".join(argv or sys.argv[1:]),
        "cpu": m["cpu"],
        "cores": m["cores"],
        "load_before": loadavg(),
        "max_new_tokens": args.max_new_tokens,
        "runs": [],
    }
    print(f"load average before: {info['load_before']}", flush=True)
    plan = ([] if cache_complete(args.cache) else ["cold"]) + ["cached"] * args.runs
    if args.baseline is not None:  # alternate, so both meet the same load
        info["baseline_rev"] = subprocess.run(
            ["git", "-C", str(args.baseline), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        plan = plan[: len(plan) - args.runs] + ["baseline", "cached"] * args.runs
    for kind in plan:
        r: dict[str, Any] = {}
        try:
            one_run(
                args.cache,
                args.timeout,
                log_dir,
                r,
                args.baseline if kind == "baseline" else None,
                args.max_new_tokens,
            )
        except Exception as exc:  # recorded; the next run goes on
            r["error"] = f"{type(exc).__name__}: {exc}"[:300]
        r["kind"] = kind
        info["runs"].append(r)
        print(
            f"  {kind:<7} health {r.get('health_s', float('nan')):6.2f} s  "
            f"page {r.get('page_s', float('nan')):6.2f} s  "
            f"ready {r.get('ready_s', float('nan')):6.2f} s  "
            f"battle {r.get('battle_s', float('nan')):6.2f} s  {r.get('error', '')}",
            flush=True,
        )
    info["load_after"] = loadavg()
    info["busy"] = (
        max(float(info["load_before"].split()[0]), float(info["load_after"].split()[0])) > 0.5
    )
    print(f"load average after: {info['load_after']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(info, indent=1))
    if args.write_results:
        write_results(args.results_file, markdown(info))
        print(f"wrote {args.results_file}")
    return 0 if all("error" not in r for r in info["runs"]) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(PERF))
    sys.exit(main())
