"""Summarise ``python -X importtime`` output: the costliest top-level packages.

Reads the stderr of a ``python -X importtime ...`` run and prints, per top-level package
(``numpy``, ``pandas``, ``sqlalchemy``, ...), the time of its first import including
everything it pulled in (the cumulative column of the package's first root module),
sorted by cost. ``perf/bench_cli.py --importtime`` uses it for perf/RESULTS.md.

    python -X importtime -m arena.cli.main leaderboard f.parquet 2> imports.txt
    python perf/importtime.py imports.txt
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


def package_costs(text: str) -> list[tuple[str, float]]:
    """``[(package, seconds)]`` for each top-level package, costliest first.

    A package's cost is the cumulative time of the outermost import that loaded one of
    its modules (an import nested inside another package's import counts towards that
    one, and again towards its own package). ``python -X importtime`` prints a module
    after the modules it imported, with its nesting depth as indentation.
    """
    costs: dict[str, float] = {}
    rows = [m for m in map(_LINE.match, text.splitlines()) if m]
    for m in rows:
        cumulative = int(m.group(2)) / 1e6
        module = m.group(4)
        top = module.split(".")[0]
        # the outermost (least indented) line of a package appears last among its own
        # lines printed in one nested burst; keep the largest cumulative per package
        costs[top] = max(costs.get(top, 0.0), cumulative)
    return sorted(costs.items(), key=lambda kv: -kv[1])


def total_seconds(text: str) -> float:
    """Sum of the self times: all import work of the process, in seconds."""
    return sum(int(m.group(1)) for m in map(_LINE.match, text.splitlines()) if m) / 1e6


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", type=Path, help="stderr of a python -X importtime run")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args(argv)
    text = args.file.read_text(errors="replace")
    print(f"all imports: {total_seconds(text):.3f} s")
    for name, seconds in package_costs(text)[: args.top]:
        print(f"{seconds:8.3f} s  {name}")


if __name__ == "__main__":
    main()
