"""Compiled kernels or numpy: what each costs a fresh process on the 1.67 M Arena battles.

A numba kernel pays for itself only when the work it saves exceeds what loading it costs
a process: ``import numba`` plus the first call, which loads the machine code from
numba's on-disk cache (``cache=True``) and sets up its compiler. Each case below runs in
its own fresh process (the battles are read first and not timed) and reports:

* ``load s``: ``import numba`` + the first call minus one steady call (numba cases), i.e.
  what the process pays before the kernel runs at full speed; 0 for numpy;
* ``call s``: the median of 3 calls after the first.

Cases: binning battles into (pair, outcome) cells and the per-model tallies (what
``arena.ratings.pairs`` does with numpy now), one style-control likelihood pass with
gradient and information (``arena.ratings.style._style_pass``), and the online Elo loop
(the C extension ``arena.ratings._elo`` that ``arena.ratings.elo`` uses, its numba
fallback, and pure Python for comparison). The numba versions of the
first three are the kernels the package used before (kept here, in perf/, to measure).
Every numba case runs twice; the first may compile (a cold cache), the second is what
every later process pays, and is the one reported.

    .venv/bin/python perf/bench_kernels.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PERF = Path(__file__).resolve().parent
ROOT = PERF.parent
CASES = (
    "bin-numpy",
    "bin-numba",
    "tally-numpy",
    "tally-numba",
    "style-numpy",
    "style-numba",
    "elo-c",
    "elo-numba",
    "elo-python",
)


def _data() -> Any:
    sys.path.insert(0, str(PERF))
    import cli_data

    from arena.battles import read_battles

    return read_battles([cli_data.write()], style=True)


def _numba_kernels() -> dict[str, Any]:
    import numba
    import numpy as np

    @numba.njit(cache=True, nogil=True)
    def bin_battles(a: Any, b: Any, o: Any, cnt: Any, n_models: int, out: Any) -> None:
        for i in range(a.shape[0]):
            x = np.int64(a[i])
            y = np.int64(b[i])
            oc = np.int64(o[i])
            if x > y:
                x, y = y, x
                if oc < 2:
                    oc = 1 - oc
            out[(x * n_models + y) * 4 + oc] += cnt[i]

    @numba.njit(cache=True, nogil=True)
    def tally(a: Any, b: Any, o: Any, cnt: Any, out: Any) -> None:
        for i in range(a.shape[0]):
            c = cnt[i]
            oc = o[i]
            if oc == 0:
                out[a[i], 0] += c
                out[b[i], 1] += c
            elif oc == 1:
                out[a[i], 1] += c
                out[b[i], 0] += c
            else:
                out[a[i], 2] += c
                out[b[i], 2] += c

    @numba.njit(cache=True, nogil=True)
    def style_pass(a: Any, b: Any, z: Any, nw: Any, y: Any, x: Any, k: int, grad: Any,
                   info: Any) -> float:  # fmt: skip
        f = z.shape[1]
        ll = 0.0
        for i in range(a.shape[0]):
            ai = a[i]
            bi = b[i]
            e = x[ai] - x[bi]
            for j in range(f):
                e += z[i, j] * x[k + j]
            if e >= 0.0:
                t = np.exp(-e)
                l1 = np.log1p(t)
                log_p = -l1
                log_q = -e - l1
                p = 1.0 / (1.0 + t)
            else:
                t = np.exp(e)
                l1 = np.log1p(t)
                log_p = e - l1
                log_q = -l1
                p = t / (1.0 + t)
            ll += nw[i] * (y[i] * log_p + (1.0 - y[i]) * log_q)
            r = nw[i] * (y[i] - p)
            grad[ai] += r
            grad[bi] -= r
            for j in range(f):
                grad[k + j] += z[i, j] * r
            w = nw[i] * p * (1.0 - p)
            info[ai, ai] += w
            info[bi, bi] += w
            info[ai, bi] -= w
            info[bi, ai] -= w
            for j in range(f):
                wz = w * z[i, j]
                info[ai, k + j] += wz
                info[bi, k + j] -= wz
                for m in range(j, f):
                    info[k + j, k + m] += wz * z[i, m]
        return ll

    return {"bin": bin_battles, "tally": tally, "style": style_pass}


def child(case: str) -> dict[str, float]:
    """Run one case in this (fresh) process; return its timings."""
    import numpy as np

    battles = _data()
    n = battles.n_models
    a, b, o, cnt = battles.model_a, battles.model_b, battles.outcome, battles.count
    kind, impl = case.split("-")
    t_import = 0.0
    if impl == "numba":
        t = time.perf_counter()
        import numba  # noqa: F401

        t_import = time.perf_counter() - t
    elif impl == "c":
        import arena.ratings  # noqa: F401  (the package's own import is not the kernel's cost)

        t = time.perf_counter()
        from arena.ratings import _elo

        t_import = time.perf_counter() - t
    if kind in ("bin", "tally"):
        from arena.ratings import pairs

        if impl == "numpy":

            def call() -> Any:
                if kind == "bin":
                    return pairs._ordered_bins(n, a, b, o, cnt)
                return pairs.model_tallies(n, a, b, o, cnt)
        else:
            kernel = _numba_kernels()[kind]
            a64, b64, o64 = (np.ascontiguousarray(v) for v in (a, b, o))
            c64 = cnt.astype(np.float64)

            def call() -> Any:
                if kind == "bin":
                    out = np.zeros(4 * n * n)
                    kernel(a64, b64, o64, c64, n, out)
                else:
                    out = np.zeros((n, 3))
                    kernel(a64, b64, o64, c64, out)
                return out
    elif kind == "style":
        from arena.ratings import style

        count = cnt.astype(np.float64)
        design = style.style_design(battles.style_a, battles.style_b, battles.style_names, count)
        rows = style.StyleRows.build(n, a, b, o, count, battles.weight, design.z)
        f = rows.z.shape[1]
        x = np.random.default_rng(0).normal(0, 0.3, n + f)
        if impl == "numpy":
            nwy = rows.nw * rows.y

            def call() -> Any:
                return style._style_pass(rows.a, rows.b, rows.z, rows.nw, nwy, x, n)
        else:
            kernel = _numba_kernels()["style"]

            def call() -> Any:
                grad = np.zeros(n + f)
                info = np.zeros((n + f, n + f))
                return kernel(rows.a, rows.b, rows.z, rows.nw, rows.y, x, n, grad, info)
    else:  # elo
        if impl in ("c", "numba"):
            from arena.ratings import elo

            kernel = elo.kernel() if impl == "c" else elo.numba_kernel()
            if impl == "c":
                assert kernel is _elo.elo_loop, "the C extension is not built"
            a64, b64 = np.ascontiguousarray(a, np.int64), np.ascontiguousarray(b, np.int64)
            score = np.array([1.0, 0.0, 0.5, 0.5])[o]
            kw = np.full(len(a), 4.0)

            def call() -> Any:
                ratings = np.full(n, 1000.0)
                kernel(a64, b64, score, kw, ratings, 400.0, 10.0)
                return ratings
        else:
            import math

            score = np.array([1.0, 0.0, 0.5, 0.5])[o].tolist()
            aa, bb = a.tolist(), b.tolist()

            def call() -> Any:
                r = [1000.0] * n
                c = math.log(10.0) / 400.0
                exp = math.exp
                for ia, ib, y in zip(aa, bb, score, strict=True):
                    ra, rb = r[ia], r[ib]
                    d = 4.0 * (y - 1.0 / (1.0 + exp(c * (rb - ra))))
                    r[ia], r[ib] = ra + d, rb - d
                return r

    t = time.perf_counter()
    call()
    first = time.perf_counter() - t
    steady = []
    for _ in range(3):
        t = time.perf_counter()
        call()
        steady.append(time.perf_counter() - t)
    med = statistics.median(steady)
    load = t_import + max(0.0, first - med) if impl in ("numba", "c") else 0.0
    return {"import": t_import, "first": first, "call": med, "load": load}


def run_case(case: str) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", case],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2])))
        return 0
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'case':<13} {'load s':>8} {'call s':>8}   (import numba s, first call s)")
    for case in CASES:
        if case.endswith("numba"):
            run_case(case)  # fills numba's on-disk cache (compiles once)
        r = run_case(case)
        print(
            f"{case:<13} {r['load']:8.3f} {r['call']:8.4f}   ({r['import']:.3f}, {r['first']:.3f})"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
