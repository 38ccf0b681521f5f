"""Whole-process speed: ``arena leaderboard`` against the peers' command-line equivalents.

A user runs a command, and a command is a whole process: interpreter start, imports,
reading the file, the fit, writing the table. This benchmark times exactly that, side by
side in one run, for four jobs on the real Arena votes as one Parquet file
(``perf/cli_data.py``: 1,670,250 battles, 129 models, with synthetic style columns):

==============  ==========================================  =================================
task            ours                                        peers (``perf/cli_*.py``)
==============  ==========================================  =================================
bt-sandwich     ``arena leaderboard F`` (BT + sandwich CI)  arena-rank (sandwich), evalica
                                                            and FastChat (BT point only)
bootstrap       ``... --ci bootstrap --rounds 100``         arena-rank, FastChat bootstrap(100)
elo             ``... --method elo`` (K=4, file order)      evalica, FastChat online Elo
style           ``... --style-control --ci none``           arena-rank contextual BT (point)
==============  ==========================================  =================================

Every command writes its ratings to a CSV under ``perf/out/cli/``; the largest rating
difference from ours (both centred on their mean) is printed beside each peer, so the
times compared are of the same answer. Each command runs ``--runs`` times (5) when it
takes under 15 s, 3 times under 90 s, once beyond; min / median / max wall seconds and
the median CPU seconds (user + system of the process and the children it waited for)
are reported, ratios are of medians. ``--quick`` does not run the peers' 100-round
bootstraps: arena-rank is timed at 2 and 10 rounds and FastChat at 1 and 2, and the time
for 100 is read off the straight line through the two (fixed costs once, the per-round
cost 100 times); those rows say ``EXTRAPOLATED``.

The machine and the load average are recorded before and after: the targets are for a
quiet 2-core machine, and other processes slow every figure (CPU seconds less so).

    .venv/bin/python perf/bench_cli.py --quick                    # ~10 min with the peers
    .venv/bin/python perf/bench_cli.py --quick --write-results    # into perf/RESULTS.md
    .venv/bin/python perf/bench_cli.py --impls ours --runs 9      # ours only
    git worktree add /tmp/arena-before fb5f75a~1                  # before lazy loading...
    .venv/bin/python perf/bench_cli.py --baseline /tmp/arena-before --importtime
                                                                  # ...timed beside ours

``--importtime`` also runs ``python -X importtime`` on ``arena leaderboard F`` (and on the
baseline) and lists the costliest imported packages (``perf/importtime.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PERF = Path(__file__).resolve().parent
ROOT = PERF.parent
if str(PERF) not in sys.path:
    sys.path.insert(0, str(PERF))

import cli_data  # noqa: E402
import importtime  # noqa: E402

OUT = PERF / "out" / "cli"
RESULTS_MD = PERF / "RESULTS.md"
BEGIN_MARK = "<!-- bench_cli:begin -->"
END_MARK = "<!-- bench_cli:end -->"
CHEAP_SECONDS = 15.0
MEDIUM_SECONDS = 90.0


@dataclass(frozen=True)
class Impl:
    """One implementation of a task: how to run it and what it does."""

    name: str
    script: str | None  # perf/<script> for a peer; None for ours
    task: str  # the script's task name (peers)
    note: str = ""
    rounds: bool = False  # takes --rounds (extrapolated with --quick)


@dataclass(frozen=True)
class Task:
    """One job, ours and the peers doing it."""

    name: str
    title: str
    ours: tuple[str, ...]
    peers: tuple[Impl, ...]


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            "bt-sandwich",
            "BT + sandwich CI",
            ("--method", "bt", "--ci", "sandwich"),
            (
                Impl("arena-rank", "cli_arena_rank.py", "bt-sandwich", "sandwich CI (JAX)"),
                Impl("evalica", "cli_evalica.py", "bt", "point only (Rust MM)"),
                Impl("fastchat", "cli_fastchat.py", "bt", "point only (scikit-learn)"),
            ),
        ),
        Task(
            "bootstrap",
            "BT + bootstrap(100)",
            ("--method", "bt", "--ci", "bootstrap", "--rounds", "100"),
            (
                Impl(
                    "arena-rank",
                    "cli_arena_rank.py",
                    "bootstrap",
                    "pool of spawned workers",
                    rounds=True,
                ),
                Impl("fastchat", "cli_fastchat.py", "bootstrap", "single process", rounds=True),
            ),
        ),
        Task(
            "elo",
            "online Elo (K=4)",
            ("--method", "elo"),
            (
                Impl("evalica", "cli_evalica.py", "elo", "Rust loop"),
                Impl("fastchat", "cli_fastchat.py", "elo", "pure Python loop"),
            ),
        ),
        Task(
            "style",
            "style control (point fit)",
            ("--style-control", "--ci", "none"),
            (Impl("arena-rank", "cli_arena_rank.py", "style", "ContextualBradleyTerry"),),
        ),
    )
}

#: With --quick: round counts whose straight line gives the 100-round time.
QUICK_ROUNDS = {"arena-rank": (2, 10), "fastchat": (1, 2)}


@dataclass
class Row:
    task: str
    impl: str
    note: str = ""
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    status: str = "ok"  # ok | failed | not installed | skipped
    extrapolated: str = ""  # how, when the time is not measured at 100 rounds
    estimate: float | None = None  # the extrapolated wall time
    max_diff: float | None = None
    output: str = ""

    @property
    def median(self) -> float | None:
        if self.estimate is not None:
            return self.estimate
        return statistics.median(self.wall) if self.wall else None


# ============================================================================ running
def run_once(cmd: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``cmd``; return (wall s, CPU s of it and its waited-for children, stderr).

    With an ``env`` holding ``PYTHONPATH`` (a baseline checkout) the command runs in that
    folder, since ``python -m`` puts the working directory first on ``sys.path``.
    """
    cwd = Path(env["PYTHONPATH"]) if env and "PYTHONPATH" in env else ROOT
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"exit {proc.returncode}: {' | '.join(tail)}")
    return wall, usage.ru_utime + usage.ru_stime, err.decode(errors="replace")


def timed(row: Row, cmd: Sequence[str], runs: int, env: dict[str, str] | None = None) -> None:
    """Fill ``row`` with up to ``runs`` timings of ``cmd`` (fewer when it is slow)."""
    print(f"  {row.task:<12} {row.impl:<22}", end="", flush=True)
    try:
        for i in range(max(1, runs)):
            wall, cpu, _ = run_once(cmd, env)
            row.wall.append(wall)
            row.cpu.append(cpu)
            print(f" {wall:.2f}", end="", flush=True)
            if i == 0 and wall > MEDIUM_SECONDS:
                break
            if i == 2 and row.wall[0] > CHEAP_SECONDS:
                break
    except RuntimeError as exc:
        row.status = "failed"
        row.note = f"{row.note}; {exc}" if row.note else str(exc)
        print(f" FAILED: {exc}")
        return
    print()


def peer_available(impl: Impl) -> str | None:
    """None when the peer library imports here; else why not (``not installed ...``)."""
    import peers

    try:
        peers._import(impl.name)
    except peers.PeerUnavailable as exc:
        return str(exc)
    return None


def ours_cmd(task: Task, data: Path, out: Path, baseline: Path | None) -> list[str]:
    """``arena leaderboard`` as a user types it (the venv's console script)."""
    args = [
        "leaderboard",
        str(data),
        *task.ours,
        "--quiet",
        "--format",
        "csv",
        "--output",
        str(out),
    ]
    if baseline is None:
        return [str(Path(sys.executable).parent / "arena"), *args]
    return [sys.executable, "-m", "arena.cli.main", *args]


def baseline_env(baseline: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(baseline)
    return env


def run_task(
    task: Task, args: argparse.Namespace, data: Path, rows: list[Row], info: dict[str, Any]
) -> None:
    print(f"\n{task.title}")
    ours_csv = OUT / f"{task.name}.ours.csv"
    if "ours" in args.impls:
        row = Row(
            task.name, "ours", "arena leaderboard " + " ".join(task.ours), output=str(ours_csv)
        )
        timed(row, ours_cmd(task, data, ours_csv, None), args.runs)
        rows.append(row)
    if args.baseline is not None and "ours" in args.impls:
        out = OUT / f"{task.name}.baseline.csv"
        row = Row(task.name, f"ours before ({info['baseline_commit']})", output=str(out))
        timed(row, ours_cmd(task, data, out, args.baseline), args.runs, baseline_env(args.baseline))
        rows.append(row)
    for impl in task.peers:
        if impl.name not in args.impls:
            continue
        row = Row(task.name, impl.name, impl.note)
        missing = peer_available(impl)
        if missing is not None:
            row.status = "not installed"
            row.note = missing
            print(f"  {task.name:<12} {impl.name:<22} {missing}")
            rows.append(row)
            continue
        script = [sys.executable, str(PERF / impl.script), impl.task, str(data)]  # type: ignore[operator]
        if impl.rounds and args.quick:
            r1, r2 = QUICK_ROUNDS[impl.name]
            t: dict[int, float] = {}
            for r in (r1, r2):
                sub = Row(task.name, f"{impl.name} ({r} rounds)")
                out = OUT / f"{task.name}.{impl.name}.r{r}.csv"
                timed(sub, [*script, "--rounds", str(r), "--output", str(out)], 1)
                if sub.status != "ok":
                    row.status, row.note = sub.status, sub.note
                    break
                t[r] = sub.wall[0]
                row.cpu.append(sub.cpu[0])
                row.output = str(out)
            if row.status == "ok":
                per_round = (t[r2] - t[r1]) / (r2 - r1)
                row.estimate = t[r1] + per_round * (100 - r1)
                row.extrapolated = (
                    f"EXTRAPOLATED to 100 rounds from {r1} rounds ({t[r1]:.1f} s) and "
                    f"{r2} rounds ({t[r2]:.1f} s)"
                )
                row.wall = [t[r1], t[r2]]
        else:
            out = OUT / f"{task.name}.{impl.name}.csv"
            row.output = str(out)
            extra = ["--rounds", "100"] if impl.rounds else []
            timed(row, [*script, *extra, "--output", str(out)], args.runs)
        rows.append(row)


def agreement(rows: list[Row]) -> None:
    """Largest rating difference from ours after centring both on the common models."""
    import pandas as pd

    def ratings(path: str) -> pd.Series:
        # ours starts with a "# arena-metadata: {...}" provenance line
        with open(path, encoding="utf-8") as f:
            skip = 1 if f.readline().startswith("#") else 0
        frame = pd.read_csv(path, skiprows=skip, usecols=["model", "rating"])
        return frame.set_index("model")["rating"]

    ours = {r.task: r for r in rows if r.impl == "ours" and r.status == "ok"}
    for r in rows:
        ref = ours.get(r.task)
        if ref is None or r is ref or r.status != "ok" or not r.output:
            continue
        try:
            a, b = ratings(ref.output), ratings(r.output)
        except (OSError, ValueError) as exc:
            print(f"  agreement of {r.task} {r.impl}: cannot read ({exc})")
            continue
        common = a.index.intersection(b.index)
        if len(common):
            da = a[common] - a[common].mean()
            db = b[common] - b[common].mean()
            r.max_diff = float((da - db).abs().max())


def help_row(runs: int) -> Row:
    """``arena --help``: the command line's own start-up."""
    row = Row("help", "ours", "arena --help")
    timed(row, [str(Path(sys.executable).parent / "arena"), "--help"], max(runs, 5))
    return row


def import_profile(data: Path, baseline: Path | None, info: dict[str, Any]) -> dict[str, Any]:
    """``python -X importtime`` of a plain ``arena leaderboard F``: top packages."""
    out: dict[str, Any] = {}
    targets: list[tuple[str, dict[str, str] | None]] = [("ours", None)]
    if baseline is not None:
        targets.append((f"ours before ({info['baseline_commit']})", baseline_env(baseline)))
    for label, env in targets:
        csv_out = OUT / "importtime.csv"
        cmd = [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "arena.cli.main",
            "leaderboard",
            str(data),
            "--quiet",
            "--output",
            str(csv_out),
        ]
        try:
            _, _, err = run_once(cmd, env)
        except RuntimeError as exc:
            out[label] = {"error": str(exc)}
            continue
        raw = OUT / f"importtime.{'before' if env else 'ours'}.txt"
        raw.write_text(err)
        out[label] = {
            "total": importtime.total_seconds(err),
            "top": importtime.package_costs(err)[:10],
            "raw": str(raw.relative_to(ROOT)),
        }
    return out


# ============================================================================ report
def machine() -> dict[str, Any]:
    import bench_ratings

    m: dict[str, Any] = bench_ratings.machine()
    return m


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def fmt(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def targets(rows: list[Row]) -> dict[str, str]:
    """Per task: the target text and whether this run met it."""
    med = {
        (r.task, r.impl): r.median
        for r in rows
        if r.status == "ok" and r.median is not None
    }
    out: dict[str, str] = {}

    def ratio(task: str, peer: str) -> float | None:
        o, p = med.get((task, "ours")), med.get((task, peer))
        return None if o is None or p is None else p / o

    o = med.get(("bt-sandwich", "ours"))
    peers_bt = [
        (med[("bt-sandwich", p)], p)
        for p in ("arena-rank", "evalica", "fastchat")
        if ("bt-sandwich", p) in med
    ]
    if o is not None:
        parts = [f"<= 0.6 s: {'MET' if o <= 0.6 else 'NOT MET'} ({o:.3f} s)"]
        if peers_bt:
            fastest, name = min(peers_bt)
            r = fastest / o
            parts.append(
                f">= 5x fastest peer ({name}): {'MET' if r >= 5 else 'NOT MET'} ({r:.1f}x)"
            )
        out["bt-sandwich"] = "; ".join(parts)
    for task, peer, want in (("elo", "evalica", 5.0), ("bootstrap", "arena-rank", 20.0)):
        x = ratio(task, peer)
        if x is not None:
            out[task] = f">= {want:g}x {peer}: {'MET' if x >= want else 'NOT MET'} ({x:.1f}x)"
    return out


def table(rows: list[Row]) -> list[list[str]]:
    ours = {r.task: r.median for r in rows if r.impl == "ours" and r.status == "ok"}
    goal = targets(rows)
    out = []
    last = None
    for r in rows:
        title = TASKS[r.task].title if r.task in TASKS else "arena --help"
        first = r.task != last
        last = r.task
        if r.status != "ok":
            out.append([title if first else "", r.impl, r.status, "", "", "", "", "", "", r.note])
            continue
        o = ours.get(r.task)
        vs = "" if r.impl == "ours" or o is None or r.median is None else f"{r.median / o:,.1f}x"
        est = " (est.)" if r.estimate is not None else ""
        note = "; ".join(x for x in (r.note if r.impl != "ours" else "", r.extrapolated) if x)
        out.append(
            [
                title if first else "",
                r.impl,
                fmt(min(r.wall)) if r.estimate is None else "-",
                fmt(r.median) + est,
                fmt(max(r.wall)) if r.estimate is None else "-",
                fmt(statistics.median(r.cpu)) if r.cpu and r.estimate is None else "-",
                vs,
                fmt(r.max_diff) if r.max_diff is not None else "",
                str(len(r.wall)),
                (goal.get(r.task, "") + ("; " if note and r.impl == "ours" else ""))
                if r.impl == "ours"
                else note,
            ]
        )
    return out


HEADER = [
    "task",
    "impl",
    "min s",
    "median s",
    "max s",
    "CPU s",
    "peer / ours",
    "max Δrating",
    "runs",
    "target / note",
]


def markdown(rows: list[Row], info: dict[str, Any], command: str) -> str:
    m = info["machine"]
    lines = [
        BEGIN_MARK,
        "## Whole-process speed: `arena leaderboard` vs the peers' command lines "
        "(`perf/bench_cli.py`)",
        "",
        f"Run {info['date']} with `{command}`"
        + (" (**--quick: peer bootstrap times extrapolated**)" if info["quick"] else "")
        + ".",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores ({m['cores_usable']} usable), "
        f"{m['ram_gib']} GiB RAM, {m['os']}, Python {m['python']}",
        f"- **Load average (1, 5, 15 min) before / after: {info['load_before']} / "
        f"{info['load_after']}**"
        + (" (not a quiet machine: every figure is slower)" if info["busy"] else ""),
        f"- Data: `{info['data']}` ({info['data_mib']:.1f} MiB), 1,670,250 battles, 129 "
        "models (real Arena votes to 2024-08-14, expanded from the pair counts, shuffled, "
        "sides random; style columns synthetic, see `perf/cli_data.py`)",
        f"- Commit: {info['commit']}"
        + (f"; baseline: {info['baseline_commit']}" if info.get("baseline_commit") else ""),
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in table(rows)]
    lines += [
        "",
        "Whole processes, as a user runs them (imports, reading the file, the fit, writing "
        "the CSV). `median s` is the median wall time of `runs` runs (ratios are of "
        "medians); `CPU s` the median user + system time of the process and the children it "
        "waited for (less sensitive to load than wall time); `max Δrating` the largest "
        "difference from ours in rating points after centring both on their mean. Peers "
        "marked point only compute no interval (less work than ours).",
    ]
    imp = info.get("importtime")
    if imp:
        lines += [
            "",
            "`python -X importtime` of `arena leaderboard F` (BT + sandwich), "
            "costliest top-level packages (cumulative seconds of the first import):",
            "",
        ]
        for label, v in imp.items():
            if "error" in v:
                lines.append(f"- {label}: failed ({v['error']})")
                continue
            top = ", ".join(f"{n} {s:.3f}" for n, s in v["top"][:8])
            lines.append(f"- {label}: all imports {v['total']:.3f} s; {top} (raw: `{v['raw']}`)")
    lines.append(END_MARK)
    return "\n".join(lines) + "\n"


def report(rows: list[Row], info: dict[str, Any]) -> None:
    """Print the table and the targets."""
    print(f"load average before / after: {info['load_before']} / {info['load_after']}")
    lines = table(rows)
    widths = [max(len(HEADER[i]), *(len(r[i]) for r in lines)) for i in range(len(HEADER))]
    for line in [HEADER, *lines]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    for task, text in targets(rows).items():
        print(f"target {task}: {text}")


def write_results(path: Path, section_md: str) -> None:
    """Replace the marked section of ``path`` (append it when missing)."""
    text = path.read_text() if path.exists() else "# Performance results\n"
    if BEGIN_MARK in text and END_MARK in text:
        head, rest = text.split(BEGIN_MARK, 1)
        tail = rest.split(END_MARK, 1)[1].lstrip("\n")
        text = head + section_md + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section_md
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def git_commit(tree: Path) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per command (5; fewer when slow)")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="extrapolate the peers' 100-round bootstraps from two short runs",
    )
    ap.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    ap.add_argument(
        "--impls",
        nargs="+",
        default=["ours", "arena-rank", "evalica", "fastchat"],
        choices=["ours", "arena-rank", "evalica", "fastchat"],
    )
    ap.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="an older checkout of this repository, timed beside ours",
    )
    ap.add_argument(
        "--importtime",
        action="store_true",
        help="also profile the imports of arena leaderboard (python -X importtime)",
    )
    ap.add_argument("--write-results", action="store_true", help="update perf/RESULTS.md")
    ap.add_argument("--results-file", type=Path, default=RESULTS_MD)
    ap.add_argument("--json", type=Path, default=OUT / "bench_cli.json")
    ap.add_argument(
        "--report",
        type=Path,
        metavar="JSON",
        help="run nothing: print (and with --write-results, record) an earlier run's JSON",
    )
    args = ap.parse_args(argv)
    if args.report is not None:
        saved = json.loads(args.report.read_text())
        rows: list[Row] = [
            Row(**{k: v for k, v in r.items() if k in Row.__dataclass_fields__})
            for r in saved["rows"]
        ]
        info: dict[str, Any] = saved["info"]
        agreement(rows)  # from the CSVs the run left in perf/out/cli/
        report(rows, info)
        if args.write_results:
            write_results(args.results_file, markdown(rows, info, info.get("command", "")))
            print(f"wrote {args.results_file}")
        return 0
    if args.baseline is not None and not (args.baseline / "arena" / "cli" / "main.py").is_file():
        ap.error(f"--baseline {args.baseline}: not a checkout of this repository")

    OUT.mkdir(parents=True, exist_ok=True)
    data = cli_data.write()
    info = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_before": loadavg(),
        "quick": args.quick,
        "data": str(data.relative_to(ROOT)),
        "data_mib": data.stat().st_size / 2**20,
        "commit": git_commit(ROOT),
    }
    if args.baseline is not None:
        info["baseline_commit"] = git_commit(args.baseline)
    print(f"load average before: {info['load_before']}")
    rows = []
    if "ours" in args.impls:
        rows.append(help_row(args.runs))
    for name in args.tasks:
        run_task(TASKS[name], args, data, rows, info)
    if args.importtime:
        info["importtime"] = import_profile(data, args.baseline, info)
    agreement(rows)
    info["load_after"] = loadavg()
    ones = [
        float(x.split()[0]) for x in (info["load_before"], info["load_after"]) if x[0].isdigit()
    ]
    info["busy"] = bool(ones) and max(ones) > 0.5
    print(f"load average after: {info['load_after']}\n")
    report(rows, info)
    command = "python perf/bench_cli.py " + " ".join(argv if argv is not None else sys.argv[1:])
    info["command"] = command.strip()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {"info": info, "rows": [asdict(r) for r in rows], "targets": targets(rows)},
            indent=1,
            default=str,
        )
    )
    if args.write_results:
        write_results(args.results_file, markdown(rows, info, command.strip()))
        print(f"wrote {args.results_file}")
    return 0 if all(r.status != "failed" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
