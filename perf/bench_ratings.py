"""Ratings speed and agreement: our engine against arena-rank, evalica, choix and FastChat.

Everything runs in one Python process, one implementation after another, on the same
pandas DataFrames:

(a) the real Chatbot Arena votes (2024-08-14 pair counts, 129 models) expanded to
    1,670,250 battle rows of strings, shuffled with a fixed seed and with sides
    randomised, like a raw vote log;
(b) the synthetic 3 M battle / 300 model log of ``perf/synth.py`` (Parquet cache under
    ``perf/out/``), with per-side style features.

Measurements (seconds, best of ``--repeats`` runs where a run is cheap; ours always
includes the DataFrame -> ``Battles`` conversion, each peer its own conversion):

* (a) Bradley–Terry point + sandwich CI: ours, arena-rank (sandwich); FastChat, evalica
  and choix compute the BT point estimate only (they have no sandwich interval).
* (a) BT + 100-round bootstrap: ours, arena-rank's bootstrap, FastChat's bootstrap.
  ``--quick`` runs the peers for two small round counts and extrapolates linearly.
* (a) online Elo (K=4, rows in DataFrame order): ours, evalica, FastChat.
* (b) style-controlled BT point fit on the first 1 M battles: ours, arena-rank's
  contextual BT.
* (b) BT point fit of the 3 M rows read from Parquet (``read_battles`` + fit) against
  ``pandas.read_parquet`` of the same file.

Agreement: ratings are compared after centring each on the mean over the common models
(every peer is on, or is converted to, the 400-point / base-10 scale); the largest
absolute difference in rating points is printed beside each peer's time, so the times
compared are of the same answer.

Run from the project root::

    .venv/bin/python perf/bench_ratings.py --quick           # smoke run, minutes
    .venv/bin/python perf/bench_ratings.py --write-results   # full run, updates RESULTS.md
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import gc
import importlib.metadata
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PERF = Path(__file__).resolve().parent
ROOT = PERF.parent
for _p in (str(PERF), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

# FastChat's bootstrap draws a tqdm bar per call; tqdm reads this when first imported.
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import peers  # noqa: E402
import synth  # noqa: E402

#: The Chatbot Arena pair counts: leaderbot's copy on PyPI, else ../shared (arena.data).
ARENA_COUNTS = "chatbotarena_20240814"
RESULTS_MD = PERF / "RESULTS.md"
OUT_DIR = PERF / "out"
BEGIN_MARK = "<!-- bench_ratings:begin -->"
END_MARK = "<!-- bench_ratings:end -->"
STYLE_ROWS = 1_000_000

#: A first run shorter than CHEAP_SECONDS is repeated (best of ``--repeats``); one up to
#: EXPENSIVE_SECONDS is run twice (so a JIT-compiling peer is also timed warm); longer
#: ones run once.
CHEAP_SECONDS = 10.0
EXPENSIVE_SECONDS = 60.0


# =============================================================================== data
def arena_battles(path: Path | None = None, seed: int = 0) -> pd.DataFrame:
    """Expand the Arena pair counts to one row per battle, like a raw vote log.

    Row order is shuffled and the side each model is shown on is drawn at random (the
    counts file lists the alphabetically first model as ``model_a``); ``winner`` follows
    the side. Columns ``model_a, model_b, winner`` in pandas' default string dtype.
    """
    from arena.data import pair_counts_frame

    counts = pair_counts_frame(ARENA_COUNTS) if path is None else pd.read_csv(path)
    names, inv = np.unique(
        np.concatenate([counts["model_a"].to_numpy(str), counts["model_b"].to_numpy(str)]),
        return_inverse=True,
    )
    n_pairs = len(counts)
    pair_a, pair_b = inv[:n_pairs], inv[n_pairs:]
    per_cell = counts[["wins_a", "wins_b", "tie", "tie_bothbad"]].to_numpy(np.int64).ravel()
    outcome = np.repeat(np.tile(np.arange(4, dtype=np.int8), n_pairs), per_cell)
    pair = np.repeat(np.repeat(np.arange(n_pairs), 4), per_cell)
    rng = np.random.default_rng(seed)
    flip = rng.random(len(outcome)) < 0.5
    a = np.where(flip, pair_b[pair], pair_a[pair])
    b = np.where(flip, pair_a[pair], pair_b[pair])
    outcome = np.where(flip & (outcome < 2), 1 - outcome, outcome)
    order = rng.permutation(len(outcome))
    labels = pd.array(list(peers.WINNER_LABELS), dtype="str")
    model_names = pd.array(names, dtype="str")
    return pd.DataFrame(
        {
            "model_a": model_names.take(a[order]),
            "model_b": model_names.take(b[order]),
            "winner": labels.take(outcome[order]),
        }
    )


# =============================================================================== ours
def _ours() -> tuple[Any, Any, Any]:
    from arena.battles import from_frame, read_battles
    from arena.leaderboard import compute_leaderboard

    return from_frame, read_battles, compute_leaderboard


def _lb_series(lb: Any) -> pd.Series:
    t = lb.table
    idx = pd.Index(t["model"].astype(str), name="model")
    s = pd.Series(t["rating"].to_numpy(np.float64), index=idx, name="rating")
    if t["ci_lower"].notna().any():
        s.attrs["ci_lower"] = pd.Series(t["ci_lower"].to_numpy(np.float64), index=idx)
        s.attrs["ci_upper"] = pd.Series(t["ci_upper"].to_numpy(np.float64), index=idx)
    if getattr(lb, "style_coefficients", None) is not None:
        sc = lb.style_coefficients
        s.attrs["coeffs"] = dict(zip(sc["feature"], sc["coefficient"].astype(float), strict=True))
    return s


def ours_frame(df: pd.DataFrame, **kw: Any) -> pd.Series:
    """Ours from a DataFrame: ``from_frame`` + ``compute_leaderboard(**kw)``."""
    from_frame, _, compute_leaderboard = _ours()
    return _lb_series(compute_leaderboard(from_frame(df), **kw))


def ours_parquet(path: Path, **kw: Any) -> pd.Series:
    """Ours from a file: ``read_battles([path])`` + ``compute_leaderboard(**kw)``."""
    _, read_battles, compute_leaderboard = _ours()
    # as `arena leaderboard` does: style features are read only for style control
    style = bool(kw.get("style_control", False))
    return _lb_series(compute_leaderboard(read_battles([path], style=style), **kw))


# =============================================================================== timing
@dataclass
class Row:
    task: str
    impl: str
    first: float | None = None
    best: float | None = None
    runs: int = 0
    status: str = "ok"  # ok | not installed | failed | skipped
    note: str = ""
    target: float | None = None  # seconds (or a ratio for the parquet task)
    vs_ours: float | None = None  # best / ours' best
    max_diff: float | None = None  # max |rating diff| vs ours after centring
    max_ci_diff: float | None = None  # max |CI half-width diff| vs ours
    extrapolated: bool = False
    result: pd.Series | None = field(default=None, repr=False)


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, int, Any]:
    """(first, best, runs, last result); see CHEAP_SECONDS for how many runs."""
    times: list[float] = []
    result = None
    for i in range(max(1, repeats)):
        result = None
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        if i == 0 and times[0] > EXPENSIVE_SECONDS:
            break  # one run only
        if i == 1 and times[0] > CHEAP_SECONDS:
            break  # two runs: the second one is warm (JIT compiled, caches filled)
    return times[0], min(times), len(times), result


def measure(
    task: str,
    impl: str,
    fn: Callable[[], Any],
    repeats: int,
    note: str = "",
    target: float | None = None,
) -> Row:
    print(f"  {impl:<12} ...", end="", flush=True)
    try:
        first, best, runs, result = timed(fn, repeats)
    except peers.PeerUnavailable as exc:
        print(f" {exc}")
        return Row(task, impl, status="not installed", note=str(exc))
    except Exception as exc:
        print(f" FAILED: {type(exc).__name__}: {exc}")
        traceback.print_exc(limit=3)
        return Row(task, impl, status="failed", note=f"{type(exc).__name__}: {exc}"[:200])
    print(f" {best:.3f} s (first {first:.3f} s, {runs} run{'s' * (runs > 1)})")
    return Row(task, impl, first, best, runs, note=note, target=target, result=result)


def measure_rounds(
    task: str,
    impl: str,
    fn: Callable[[int], Any],
    rounds: int,
    quick_rounds: tuple[int, ...] | None,
    note: str,
) -> Row:
    """Time a peer bootstrap: ``rounds`` rounds, or (quick) small counts extrapolated.

    Quick with one count ``r`` (a peer whose rounds are all it does, e.g. FastChat):
    T(rounds) ~ T(r) * rounds / r. With two counts ``r1 < r2`` (a peer with large fixed
    costs -- data conversion, point fit, worker start-up -- e.g. arena-rank):
    T(rounds) ~ T(r1) + (rounds - r1) * (T(r2) - T(r1)) / (r2 - r1), the straight line
    through both timings, so the fixed costs count once and per-round costs ``rounds``
    times.
    """
    if quick_rounds is None:
        return measure(task, impl, lambda: fn(rounds), 1, note=f"{rounds} rounds; {note}")
    runs: list[tuple[int, float, Any]] = []
    for r in quick_rounds:
        row = measure(task, impl, functools.partial(fn, r), 1, note=f"{r} rounds")
        if row.status != "ok":
            return row
        assert row.best is not None
        runs.append((r, row.best, row.result))
    if len(runs) == 1:
        (r1, t1, result), per_round = runs[0], runs[0][1] / runs[0][0]
        est = per_round * rounds
        how = f"{r1} rounds ({t1:.1f} s) x {rounds}/{r1}"
    else:
        (r1, t1, _), (r2, t2, result) = runs
        per_round = max(0.0, (t2 - t1) / (r2 - r1))
        est = t1 + (rounds - r1) * per_round
        how = f"the line through {r1} rounds ({t1:.1f} s) and {r2} rounds ({t2:.1f} s)"
    print(f"  {impl:<12} => {rounds} rounds extrapolated: {est:.1f} s ({per_round:.2f} s/round)")
    return Row(
        task,
        impl,
        first=None,
        best=est,
        runs=len(runs),
        note=f"EXTRAPOLATED to {rounds} rounds from {how}; {note}",
        extrapolated=True,
        result=result,
    )


# =============================================================================== agreement
def centred(s: pd.Series, index: pd.Index) -> pd.Series:
    x = s.reindex(index).astype(float)
    return x - x.mean()


def compare(ours: Row, row: Row, with_ci: bool) -> None:
    """Fill ``row.max_diff`` (and ``max_ci_diff``) against ours, and the speed ratio."""
    if row.best is not None and ours.best:
        row.vs_ours = row.best / ours.best
    if ours.result is None or row.result is None:
        return
    common = ours.result.index.intersection(row.result.index)
    if len(common) < len(ours.result.index) or len(common) < len(row.result.index):
        row.note = (row.note + "; " if row.note else "") + (
            f"models differ: {len(common)} common of {len(ours.result)} / {len(row.result)}"
        )
    if len(common) == 0:
        return
    row.max_diff = float((centred(row.result, common) - centred(ours.result, common)).abs().max())
    if with_ci and "ci_lower" in ours.result.attrs and "ci_lower" in row.result.attrs:

        def half(s: pd.Series) -> pd.Series:
            up: pd.Series = s.attrs["ci_upper"].reindex(common)
            lo: pd.Series = s.attrs["ci_lower"].reindex(common)
            return (up - lo) / 2

        row.max_ci_diff = float((half(row.result) - half(ours.result)).abs().max())


# =============================================================================== machine
def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gib = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = int(line.split()[1]) / 2**20
                break
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()

    def ver(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "-"

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "ram_gib": round(ram_gib, 1) if ram_gib else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": ver("scipy"),
        "pyarrow": ver("pyarrow"),
        "numba": ver("numba"),
        "peers": peers.peer_status(),
        "peer_deps": peers.dependency_versions(),
    }


def blas_threads() -> list[str]:
    """One line per thread pool loaded in this process (BLAS / OpenMP), via threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed"]
    lines = []
    for info in threadpool_info():
        lines.append(
            f"{info.get('user_api')}: {info.get('internal_api')} {info.get('version') or ''} "
            f"num_threads={info.get('num_threads')} ({Path(info.get('filepath', '')).name})"
        )
    return lines or ["no BLAS/OpenMP pools loaded"]


@contextlib.contextmanager
def section(title: str) -> Iterator[None]:
    print(f"\n== {title}", flush=True)
    t0 = time.perf_counter()
    yield
    print(f"   ({time.perf_counter() - t0:.1f} s)", flush=True)


# =============================================================================== tasks
TASKS = ("a-sandwich", "a-bootstrap", "a-elo", "b-style", "b-parquet")


def run(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    info: dict[str, Any] = {}
    if {"a-sandwich", "a-bootstrap", "a-elo"} & set(args.tasks):
        run_a(args, rows, info)  # the 1.67 M-row frame is freed when it returns
        gc.collect()
    if {"b-style", "b-parquet"} & set(args.tasks):
        run_b(args, rows, info)
    return rows, info


def run_a(args: argparse.Namespace, rows: list[Row], info: dict[str, Any]) -> None:
    """Tasks on data set (a), the real Arena votes."""
    want = set(args.peers)
    rep = args.repeats

    def peer(name: str) -> bool:
        return name in want

    with section("data (a): Chatbot Arena 2024-08-14 pair counts -> battle rows"):
        t0 = time.perf_counter()
        df_a = arena_battles(seed=args.seed)
        info["a_rows"] = len(df_a)
        info["a_models"] = int(pd.concat([df_a["model_a"], df_a["model_b"]]).nunique())
        print(
            f"   {len(df_a):,} rows, {info['a_models']} models, dtype {df_a['model_a'].dtype}, "
            f"built in {time.perf_counter() - t0:.1f} s"
        )

    # ---------------------------------------------------------------- (a) BT + sandwich
    if "a-sandwich" in args.tasks:
        task = "(a) BT + sandwich CI"
        with section(task):
            ours = measure(
                task, "ours", lambda: ours_frame(df_a, method="bt", ci="sandwich"), rep, target=0.5
            )
            rows.append(ours)
            cands: list[tuple[str, Callable[[], Any], str, bool]] = [
                (
                    "arena-rank",
                    lambda: peers.arena_rank_bt(df_a, ci="sandwich"),
                    "sandwich CI (JAX L-BFGS)",
                    True,
                ),
                (
                    "fastchat",
                    lambda: peers.fastchat_bt(df_a),
                    "point only (sklearn LogisticRegression, no CI)",
                    False,
                ),
                ("evalica", lambda: peers.evalica_bt(df_a), "point only (MM iterations)", False),
                ("choix", lambda: peers.choix_ilsr(df_a), "point only (ILSR, dense)", False),
            ]
            for name, fn, note, ci in cands:
                if peer(name):
                    r = measure(task, name, fn, rep, note=note)
                    compare(ours, r, with_ci=ci)
                    rows.append(r)

    # ---------------------------------------------------------------- (a) BT + bootstrap
    if "a-bootstrap" in args.tasks:
        task = f"(a) BT + bootstrap({args.rounds})"
        with section(task):
            ours = measure(
                task,
                "ours",
                lambda: ours_frame(
                    df_a, method="bt", ci="bootstrap", rounds=args.rounds, seed=args.seed
                ),
                rep,
                target=2.0,
                note=f"{args.rounds} rounds",
            )
            rows.append(ours)
            if peer("arena-rank"):
                r = measure_rounds(
                    task,
                    "arena-rank",
                    lambda n: peers.arena_rank_bt(df_a, ci="bootstrap", rounds=n, seed=args.seed),
                    args.rounds,
                    args.quick_rounds_arena,
                    f"multiprocessing pool of {os.cpu_count()} spawned workers",
                )
                compare(ours, r, with_ci=not r.extrapolated)
                rows.append(r)
            if peer("fastchat"):
                r = measure_rounds(
                    task,
                    "fastchat",
                    lambda n: peers.fastchat_bootstrap(df_a, rounds=n, seed=args.seed),
                    args.rounds,
                    args.quick_rounds_fastchat,
                    "rating = bootstrap median; single process",
                )
                compare(ours, r, with_ci=not r.extrapolated)
                rows.append(r)

    # ---------------------------------------------------------------- (a) online Elo
    if "a-elo" in args.tasks:
        task = "(a) online Elo (K=4)"
        with section(task):
            ours = measure(
                task, "ours", lambda: ours_frame(df_a, method="elo", ci="none"), rep, target=0.3
            )
            rows.append(ours)
            for name, fn, note in (
                ("evalica", lambda: peers.evalica_elo(df_a), "Rust loop"),
                ("fastchat", lambda: peers.fastchat_elo(df_a), "pure Python loop"),
            ):
                if peer(name):
                    r = measure(task, name, fn, rep, note=note)
                    compare(ours, r, with_ci=False)
                    rows.append(r)


def run_b(args: argparse.Namespace, rows: list[Row], info: dict[str, Any]) -> None:
    """Tasks on data set (b), the synthetic log."""
    rep = args.repeats
    with section("data (b): synthetic 3 M battles / 300 models (perf/synth.py)"):
        t0 = time.perf_counter()
        path = synth.write_synthetic(args.synth_battles, args.synth_models)
        truth = synth.synthetic_truth(args.synth_battles, args.synth_models)
        info["b_path"] = str(path.relative_to(ROOT))
        info["b_mib"] = round(path.stat().st_size / 2**20, 1)
        print(
            f"   {path.relative_to(ROOT)} ({info['b_mib']} MiB), "
            f"ready in {time.perf_counter() - t0:.1f} s"
        )

    if "b-style" in args.tasks:
        task = f"(b) style BT, first {STYLE_ROWS // 10**6} M"
        with section(task):
            df_b = pd.read_parquet(path).iloc[:STYLE_ROWS].reset_index(drop=True)
            ours = measure(
                task,
                "ours",
                lambda: ours_frame(df_b, method="bt", ci="none", style_control=True),
                rep,
                target=1.0,
                note="point fit (plain BT fit too, for rank_change)",
            )
            rows.append(ours)
            if ours.result is not None:
                true = pd.Series(truth["ratings"])
                common = ours.result.index.intersection(true.index)
                err = (centred(ours.result, common) - centred(true, common)).abs()
                info["b_style_vs_truth"] = {
                    "max_abs": round(float(err.max()), 2),
                    "rmse": round(float(np.sqrt((err**2).mean())), 2),
                    "coeffs": ours.result.attrs.get("coeffs"),
                    "true_beta": truth["style_beta"],
                }
                print(
                    f"   ours vs true ratings: max |diff| {err.max():.1f}, rmse "
                    f"{np.sqrt((err**2).mean()):.1f} points (sampling error + tie compression)"
                )
            if "arena-rank" in args.peers:
                r = measure(
                    task,
                    "arena-rank",
                    lambda: peers.arena_rank_style_bt(df_b, offset=1.0, reg=0.0),
                    rep,
                    note="ContextualBradleyTerry, unweighted, reg=0, features (a-b)/(a+b+1) "
                    "as ours",
                )
                compare(ours, r, with_ci=False)
                rows.append(r)

    if "b-parquet" in args.tasks:
        task = "(b) BT point fit, 3 M rows from Parquet"
        with section(task):
            read = measure(
                task,
                "read_parquet",
                lambda: pd.read_parquet(path),
                rep,
                note="pandas.read_parquet of the same file (reference)",
            )
            read.result = None
            ours = measure(
                task,
                "ours",
                lambda: ours_parquet(path, method="bt", ci="none"),
                rep,
                target=3.0,
                note="read_battles + compute_leaderboard",
            )
            if ours.best is not None and read.best:
                ours.vs_ours = ours.best / read.best
                info["parquet_ratio"] = round(ours.vs_ours, 2)
                print(f"   ours / read_parquet = {ours.vs_ours:.2f}x (target <= 3x)")
            rows.extend([read, ours])


# =============================================================================== report
def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def target_text(r: Row) -> str:
    if r.impl != "ours" or r.target is None or r.best is None:
        return ""
    if "Parquet" in r.task:
        ok = r.vs_ours is not None and r.vs_ours <= r.target
        return f"<= {r.target:g}x read: {'MET' if ok else 'MISSED'}"
    return f"<= {r.target:g} s: {'MET' if r.best <= r.target else 'MISSED'}"


def ratio_text(r: Row) -> str:
    if r.vs_ours is None:
        return ""
    if r.impl == "ours":  # parquet task: ours / read_parquet
        return f"{r.vs_ours:.2f}x read"
    return f"{r.vs_ours:,.1f}x" if r.vs_ours >= 10 else f"{r.vs_ours:.2f}x"


def table_rows(rows: Sequence[Row]) -> list[list[str]]:
    out = []
    last = None
    for r in rows:
        task = r.task if r.task != last else ""
        last = r.task
        if r.status != "ok":
            why = r.note if r.note.startswith(r.status) else f"{r.status}: {r.note}"
            out.append([task, r.impl, "-", "-", "", "", "", "", "", why])
            continue
        best = fmt_s(r.best) + (" (est.)" if r.extrapolated else "")
        out.append(
            [
                task,
                r.impl,
                best,
                fmt_s(r.first),
                ratio_text(r),
                target_text(r),
                "-" if r.max_diff is None else f"{r.max_diff:.3g}",
                "-" if r.max_ci_diff is None else f"{r.max_ci_diff:.3g}",
                str(r.runs),
                r.note,
            ]
        )
    return out


HEADER = [
    "task",
    "impl",
    "best s",
    "first s",
    "peer / ours",
    "target",
    "max Δrating",
    "max ΔCI",
    "runs",
    "note",
]


def print_table(rows: Sequence[Row]) -> None:
    body = table_rows(rows)
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(HEADER[:-1])]
    line = "  ".join(h.ljust(w) for h, w in zip(HEADER[:-1], widths, strict=True)) + "  note"
    print("\n" + line)
    print("-" * len(line))
    for b in body:
        print("  ".join(c.ljust(w) for c, w in zip(b[:-1], widths, strict=True)) + "  " + b[-1])


def markdown(
    rows: Sequence[Row],
    info: dict[str, Any],
    mach: dict[str, Any],
    blas: list[str],
    args: argparse.Namespace,
    when: str,
) -> str:
    body = table_rows(rows)
    md = [BEGIN_MARK, "## Ratings: ours vs peers (`perf/bench_ratings.py`)", ""]
    md.append(
        f"Run {when} with `{' '.join(['python', 'perf/bench_ratings.py', *args.argv])}`"
        + (" (**--quick: peer bootstrap times extrapolated**)" if args.quick else "")
        + "."
    )
    md.append("")
    peer_txt = ", ".join(f"{k} {v}" for k, v in mach["peers"].items())
    dep_txt = ", ".join(f"{k} {v}" for k, v in mach["peer_deps"].items())
    md += [
        f"- Machine: {mach['cpu']}, {mach['cores']} cores ({mach['cores_usable']} usable), "
        f"{mach['ram_gib']} GiB RAM, {mach['os']}",
        f"- Python {mach['python']}, numpy {mach['numpy']}, pandas {mach['pandas']}, "
        f"scipy {mach['scipy']}, pyarrow {mach['pyarrow']}, numba {mach['numba']}",
        f"- Peers: {peer_txt}",
        f"- Peer dependencies: {dep_txt}",
        f"- Thread pools: {'; '.join(blas)}",
        f"- Load average before / after: {info.get('load_before')} / {info.get('load_after')}",
        f"- Data (a): {info.get('a_rows', 0):,} battle rows, {info.get('a_models')} models "
        "(real Arena votes to 2024-08-14, shuffled, sides randomised); "
        f"(b): `{info.get('b_path', '-')}` ({info.get('b_mib', '-')} MiB)",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    for b in body:
        md.append("| " + " | ".join(c.replace("|", "/") for c in b) + " |")
    md += [
        "",
        "`best s`: best of the runs (`runs`), ours including DataFrame -> Battles; "
        "`peer / ours`: peer's best time over ours (ours' row in the Parquet task: ours over "
        "`read_parquet`); `max|d rating|`: largest rating difference from ours in points "
        "after centring both on their mean; `max|d CI|`: largest difference in CI "
        "half-width. See `perf/README.md`.",
    ]
    if "b_style_vs_truth" in info:
        v = info["b_style_vs_truth"]
        md.append(
            f"Synthetic style fit vs true ratings: max |diff| {v['max_abs']}, "
            f"rmse {v['rmse']} points."
        )
    md.append(END_MARK)
    return "\n".join(md) + "\n"


def write_results(path: Path, section_md: str) -> None:
    """Replace the marked ratings section of ``path`` (append it, or create the file)."""
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


def parse_rounds(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(x) for x in text.split(","))
    except ValueError:
        counts = ()
    if len(counts) not in (1, 2) or counts[0] < 1 or (len(counts) == 2 and counts[1] <= counts[0]):
        raise argparse.ArgumentTypeError("expected R or R1,R2 with 0 < R1 < R2, e.g. 2 or 2,10")
    return counts


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(
        description="Ratings speed + agreement: ours vs arena-rank, evalica, choix, FastChat.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="peer bootstraps: time small round counts and extrapolate linearly to "
        "--rounds; fewer repeats",
    )
    ap.add_argument("--rounds", type=int, default=100, help="bootstrap rounds")
    ap.add_argument(
        "--quick-rounds-arena",
        type=parse_rounds,
        default=(2, 10),
        metavar="R1,R2",
        help="arena-rank bootstrap rounds timed with --quick (line through two timings)",
    )
    ap.add_argument(
        "--quick-rounds-fastchat",
        type=parse_rounds,
        default=(2,),
        metavar="R",
        help="FastChat bootstrap rounds timed with --quick (scaled by --rounds / R)",
    )
    ap.add_argument(
        "--repeats",
        type=int,
        default=None,
        help=f"runs per cheap measurement (first run < {CHEAP_SECONDS:g} s), best kept; "
        f"runs up to {EXPENSIVE_SECONDS:g} s are timed twice [default 5, --quick 3]",
    )
    ap.add_argument(
        "--peers",
        nargs="*",
        default=list(peers.PEERS),
        choices=list(peers.PEERS),
        help="peers to run",
    )
    ap.add_argument("--tasks", nargs="*", default=list(TASKS), choices=TASKS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--synth-battles", type=int, default=3_000_000)
    ap.add_argument("--synth-models", type=int, default=300)
    ap.add_argument(
        "--write-results",
        action="store_true",
        help="write/update the ratings section of --results-file",
    )
    ap.add_argument("--results-file", type=Path, default=RESULTS_MD)
    ap.add_argument(
        "--json",
        type=Path,
        default=OUT_DIR / "bench_ratings.json",
        help="also write the figures as JSON here",
    )
    args = ap.parse_args(argv)
    args.argv = argv
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if not args.quick:
        args.quick_rounds_arena = args.quick_rounds_fastchat = None

    started = dt.datetime.now(dt.UTC)
    mach = machine()
    print(
        f"bench_ratings {started:%Y-%m-%d %H:%M UTC}"
        + ("  [--quick: peer bootstrap times are EXTRAPOLATED]" if args.quick else "")
    )
    print(
        f"machine: {mach['cpu']}, {mach['cores']} cores ({mach['cores_usable']} usable), "
        f"{mach['ram_gib']} GiB RAM; Python {mach['python']}, numpy {mach['numpy']}, "
        f"pandas {mach['pandas']}"
    )
    for k, v in mach["peers"].items():
        print(f"peer {k}: {v}")
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average: {load_before}")

    rows, info = run(args)
    info["load_before"] = load_before
    info["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    blas = blas_threads()

    print(
        "\nthread pools (threadpoolctl, after all runs; ours limits BLAS to 1 thread "
        "inside compute_leaderboard):"
    )
    for line in blas:
        print(f"  {line}")
    print_table(rows)
    if args.quick:
        print(
            "\n--quick: peer bootstrap rows marked (est.) are extrapolated linearly from "
            "short runs (see note), not measured at full rounds."
        )
    print(f"load average after: {info['load_after']} (before: {load_before})")

    payload = {
        "date": started.isoformat(timespec="seconds"),
        "argv": argv,
        "machine": mach,
        "thread_pools": blas,
        "info": info,
        "rows": [{k: v for k, v in r.__dict__.items() if k != "result"} for r in rows],
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1, default=str))
        print(f"figures: {args.json}")
    if args.write_results:
        md = markdown(rows, info, mach, blas, args, f"{started:%Y-%m-%d %H:%M UTC}")
        write_results(args.results_file, md)
        print(f"updated {args.results_file}")
    return 0 if all(r.status != "failed" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
