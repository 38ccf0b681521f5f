"""``arena eval`` start-up: from starting the command to its first request to the model.

Each run starts ``arena eval`` as a user types it (the venv's console script, a fresh
process, the default models file, the converted-model store ``--cache``, passed as
``$ARENA_MODEL_CACHE``), on MMLU with ``--limit 20``, zero-shot, ``--no-store``, and with
``ARENA_TRACE_FIRST_REQUEST=1``: the command then logs its first request to the model's
backend with a ``time.monotonic()`` timestamp (Linux CLOCK_MONOTONIC, one clock for every
process of the machine, see ``arena/cli/eval.py``). Start-up is that timestamp minus the
same clock read just before the process was started: interpreter start, imports, reading
the suite and the data, building the samples, and the model's imports and load (which run
in a background thread meanwhile, ``ModelRunner.prefetch``) are all in it. The process is
stopped once the line is seen (``--full`` lets it finish). Also reported: the CPU seconds
(user + system) the process had used when it was stopped, which depend less on the other
load of the machine than wall time does.

The goal (issue 10) is at most 5 s on the cached SmolLM2-135M-Instruct. With
``--importtime`` one more run goes under ``python -X importtime`` and the costliest
packages are listed (``perf/importtime.py``; the model's imports happen in the loading
thread, and are counted there).

    .venv/bin/python perf/bench_eval_startup.py --runs 5
    .venv/bin/python perf/bench_eval_startup.py --runs 5 --importtime --write-results
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PERF = Path(__file__).resolve().parent
ROOT = PERF.parent
BEGIN_MARK = "<!-- bench_eval_startup:begin -->"
END_MARK = "<!-- bench_eval_startup:end -->"
#: The section goes right after the harness conformance table when it is not there yet.
AFTER_HEADING = "## Model backends: the two offline models"
TRACE = re.compile(r"^arena: first request to (\S+) \((\w+)\) at monotonic ([0-9.]+)$")
MODEL = "smollm2-135m-instruct"


def cached(cache: Path) -> bool:
    """Whether the model store already holds the converted SmolLM2."""
    return any((p / "config.json").is_file() for p in cache.glob("smollm2-135m-instruct-*"))


def one_run(
    cache: Path, limit: int, timeout: float, *, full: bool, importtime: Path | None = None
) -> dict[str, Any]:
    """Start ``arena eval``, return its start-up (and wall time with ``full``)."""
    work = Path(tempfile.mkdtemp(prefix="bench-eval-startup-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(
        ARENA_MODEL_CACHE=str(cache),
        ARENA_TRACE_FIRST_REQUEST="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
    )
    arena = Path(sys.executable).parent / "arena"
    args = ["eval", "--suite", "mmlu", "--model", MODEL, "--limit", str(limit)]
    args += ["--output", str(work / "run"), "--no-store", "--no-progress"]
    cmd = [str(arena), *args]
    if importtime is not None:
        cmd = [sys.executable, "-X", "importtime", "-m", "arena.cli.main", *args]
    err_path = work / "stderr.txt"
    out: dict[str, Any] = {}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with err_path.open("w") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True
        )
        try:
            deadline = t0 + timeout
            while "startup_s" not in out:
                for line in err_path.read_text().splitlines():
                    m = TRACE.match(line)
                    if m:
                        out.update(startup_s=float(m.group(3)) - t0, operation=m.group(2))
                        break
                else:
                    if proc.poll() is not None:
                        raise RuntimeError(
                            f"arena eval exited ({proc.returncode}) before a request: "
                            + err_path.read_text()[-1500:]
                        )
                    if time.monotonic() > deadline:
                        raise RuntimeError("no request before the timeout")
                    time.sleep(0.01)
            if full:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
                out["wall_s"] = time.monotonic() - t0
            else:
                proc.send_signal(signal.SIGTERM)  # start-up measured: stop the evaluation
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            out["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            if importtime is not None:
                importtime.write_text(err_path.read_text())
            shutil.rmtree(work, ignore_errors=True)
    return out


def _version(dist: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def summary(runs: list[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in runs if key in r]
    if not values:
        return "-"
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def markdown(info: dict[str, Any]) -> str:
    ok = [r for r in info["runs"] if "error" not in r and r["kind"] == "cached"]
    lines = [
        BEGIN_MARK,
        "### `arena eval` start-up to the first request (`perf/bench_eval_startup.py`)",
        "",
        f"Run {info['date']} with `{info['command']}`; load average before / after: "
        f"**{info['load_before']} / {info['load_after']}**. {info['cpu']}, {info['cores']} "
        f"cores; torch {info['torch']}, transformers {info['transformers']}. "
        f"`arena eval --suite mmlu --model {MODEL} --limit {info['limit']} --no-store` "
        "from the default models file on the cached (converted) model store, a fresh "
        "process each run; start-up is from starting the command to the first request "
        "reaching the model's backend (`ARENA_TRACE_FIRST_REQUEST`), CPU the process's "
        "user + system seconds by then.",
        "",
        "| model store | runs | start-up s (min / median / max) | CPU s (min / median / max) "
        "| goal |",
        "|---|---|---|---|---|",
    ]
    if ok:
        median = statistics.median(r["startup_s"] for r in ok)
        verdict = "met" if median <= 5.0 else "**not met**"
        lines.append(
            f"| cached | {len(ok)} | {summary(ok, 'startup_s')} | {summary(ok, 'cpu_s')} "
            f"| at most 5 s: {verdict} |"
        )
    cold = [r for r in info["runs"] if "error" not in r and r["kind"] == "cold"]
    for r in cold:
        lines.append(f"| cold (converts the GGUF) | 1 | {r['startup_s']:.2f} | {r['cpu_s']:.2f} | - |")
    if info.get("imports"):
        lines += [
            "",
            "Costliest imports of one more run under `python -X importtime` (seconds, "
            "cumulative, first import of each package, any thread): "
            + ", ".join(f"{name} {sec:.2f}" for name, sec in info["imports"][:8])
            + ".",
        ]
    failed = [r for r in info["runs"] if "error" in r]
    if failed:
        lines += ["", "Runs that failed: " + "; ".join(r["error"] for r in failed) + "."]
    lines.append(END_MARK)
    return "\n".join(lines) + "\n"


def write_results(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Performance results\n"
    if BEGIN_MARK in text and END_MARK in text:
        head, rest = text.split(BEGIN_MARK, 1)
        tail = rest.split(END_MARK, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    elif AFTER_HEADING in text:
        head, tail = text.split(AFTER_HEADING, 1)
        text = head + section + "\n" + AFTER_HEADING + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="runs on the cached model store")
    ap.add_argument("--cache", type=Path, default=PERF / "out" / "model-cache")
    ap.add_argument("--limit", type=int, default=20, help="MMLU items (start-up barely depends)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per run at most")
    ap.add_argument("--full", action="store_true", help="let each run finish (wall time too)")
    ap.add_argument("--importtime", action="store_true", help="one more run, -X importtime")
    ap.add_argument("--write-results", action="store_true")
    ap.add_argument("--results-file", type=Path, default=PERF / "RESULTS.md")
    ap.add_argument("--json", type=Path, default=PERF / "out" / "bench_eval_startup.json")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(PERF))
    import bench_ratings

    m = bench_ratings.machine()
    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python perf/bench_eval_startup.py " + " ".join(argv or sys.argv[1:]),
        "cpu": m["cpu"],
        "cores": m["cores"],
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "limit": args.limit,
        "load_before": loadavg(),
        "runs": [],
    }
    print(f"load average before: {info['load_before']}", flush=True)
    plan = ([] if cached(args.cache) else ["cold"]) + ["cached"] * args.runs
    for kind in plan:
        try:
            r = one_run(args.cache, args.limit, args.timeout, full=args.full)
        except Exception as exc:  # recorded; the next run goes on
            r = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        r["kind"] = kind
        info["runs"].append(r)
        print(
            f"  {kind:<7} start-up {r.get('startup_s', float('nan')):6.2f} s  "
            f"cpu {r.get('cpu_s', float('nan')):6.2f} s  "
            + (f"wall {r['wall_s']:6.2f} s  " if "wall_s" in r else "")
            + r.get("error", ""),
            flush=True,
        )
    if args.importtime:
        import importtime

        trace = PERF / "out" / "eval-startup-importtime.txt"
        try:
            one_run(args.cache, args.limit, args.timeout, full=False, importtime=trace)
            info["imports"] = importtime.package_costs(trace.read_text())
            for name, sec in info["imports"][:12]:
                print(f"  import {name:<24} {sec:6.2f} s")
        except Exception as exc:
            print(f"  -X importtime run failed: {exc}")
    info["load_after"] = loadavg()
    print(f"load average after: {info['load_after']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(info, indent=1))
    if args.write_results:
        write_results(args.results_file, markdown(info))
        print(f"wrote {args.results_file}")
    return 0 if all("error" not in r for r in info["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
