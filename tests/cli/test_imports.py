"""A command imports only what it runs: checked in fresh processes, as a user runs them.

``arena leaderboard FILE`` must not pay for the vote store (SQLAlchemy, Alembic), the
plots (matplotlib), the model backends (torch, transformers), the web app (Streamlit) or
a compiled kernel it does not need (numba); ``arena --help`` imports none of the
command modules at all. Each case runs ``arena.cli.main.main`` in a new interpreter and
reads back which top-level packages ended up in ``sys.modules``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from arena.cli import db
from arena.cli.main import COMMANDS, build_parser

#: Packages a plain leaderboard run has no use for.
HEAVY = {"sqlalchemy", "alembic", "matplotlib", "torch", "transformers", "streamlit", "httpx"}

_PROBE = """
import json, sys
from arena.cli.main import main
try:
    status = main(sys.argv[1:])
except SystemExit as exc:
    status = exc.code
print(json.dumps({"status": status, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _run(*args: str | Path) -> tuple[object, set[str]]:
    """(exit status, top-level packages imported) of ``arena ARGS`` in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["status"], set(report["modules"])


@pytest.fixture(scope="module")
def battles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Parquet battle file with style columns (model_a, model_b, winner, ...)."""
    rows = []
    models = ["alpha", "beta", "gamma", "delta"]
    winners = ["model_a", "model_b", "tie", "tie (bothbad)", "model_a"]
    for i in range(60):
        a, b = models[i % 4], models[(i + 1 + i // 4) % 4]
        if a == b:
            b = models[(i + 2) % 4]
        rows.append(
            {
                "model_a": a,
                "model_b": b,
                "winner": winners[i % 5],
                "tstamp": float(i),
                **{f"{f}_a": (i * 7 + j) % 13 for j, f in enumerate(("tokens", "headers"))},
                **{f"{f}_b": (i * 5 + j) % 11 for j, f in enumerate(("tokens", "headers"))},
                **{
                    f"{f}_{s}": (i + j) % 3
                    for j, f in enumerate(("list_items", "bold"))
                    for s in ("a", "b")
                },
            }
        )
    path = tmp_path_factory.mktemp("imports") / "battles.parquet"
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


def test_a_plain_leaderboard_imports_nothing_it_does_not_run(battles: Path, tmp_path: Path) -> None:
    status, modules = _run("leaderboard", battles, "--output", tmp_path / "lb.csv", "--quiet")
    assert status == 0
    assert (tmp_path / "lb.csv").is_file()
    assert {"pandas", "numpy"} <= modules  # it did run the fit
    assert not HEAVY & modules, sorted(HEAVY & modules)
    # BT binning and tallies are numpy: the half second of loading numba is not paid
    assert "numba" not in modules
    # the few special functions and the graph check are numpy/stdlib (arena.ratings.special)
    assert "scipy" not in modules


@pytest.mark.parametrize(
    "args",
    [("--ci", "sandwich"), ("--ci", "bootstrap", "--rounds", "3"), ("--method", "davidson")],
)
def test_a_plain_parquet_file_is_rated_without_pandas_or_scipy(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    # model_a, model_b, winner only: read from Arrow, written as CSV by the csv module
    path = tmp_path / "plain.parquet"
    models = ["alpha", "beta", "gamma", "delta"]
    pd.DataFrame(
        {
            "model_a": [models[i % 4] for i in range(40)],
            "model_b": [models[(i + 1 + i % 3) % 4] for i in range(40)],
            "winner": ["model_a", "model_b", "tie", "model_b", "tie (bothbad)"] * 8,
        }
    ).to_parquet(path, index=False)
    status, modules = _run("leaderboard", path, *args, "--output", tmp_path / "lb.csv")
    assert status == 0
    assert (tmp_path / "lb.csv").read_text().count("\n") == 6  # metadata, header, 4 models
    assert not (HEAVY | {"pandas", "scipy", "numba"}) & modules, sorted(
        (HEAVY | {"pandas", "scipy", "numba"}) & modules
    )


def test_style_control_and_bootstrap_need_no_compiled_kernel(battles: Path, tmp_path: Path) -> None:
    status, modules = _run(
        "leaderboard",
        battles,
        "--style-control",
        "--ci",
        "bootstrap",
        "--rounds",
        "3",
        "--output",
        tmp_path / "lb.csv",
        "--quiet",
    )
    assert status == 0
    assert not (HEAVY | {"numba", "scipy"}) & modules, sorted((HEAVY | {"numba"}) & modules)


def test_plots_and_online_elo_import_what_they_use(battles: Path, tmp_path: Path) -> None:
    # the positive side of the checks above: the probe does see lazily imported packages
    status, modules = _run(
        "leaderboard",
        battles,
        "--method",
        "elo",
        "--plot",
        tmp_path / "r.png",
        "--output",
        tmp_path / "lb.csv",
        "--quiet",
    )
    assert status == 0
    assert (tmp_path / "r.png").stat().st_size > 0
    assert "matplotlib" in modules
    # the sequential Elo loop is compiled C (arena/ratings/_elo.c): numba's load is not paid
    assert "numba" not in modules
    assert not {"sqlalchemy", "alembic", "torch", "streamlit"} & modules


@pytest.mark.parametrize("args", [("--help",), ("--version",), (), ("-h", "leaderboard")])
def test_help_imports_no_command_module(args: tuple[str, ...]) -> None:
    status, modules = _run(*args)
    assert status in (0, 2)
    assert not (HEAVY | {"numpy", "pandas", "scipy", "pyarrow", "numba"}) & modules


def test_a_command_s_help_imports_nothing_it_does_not_show() -> None:
    status, modules = _run("leaderboard", "--help")
    assert status == 0
    assert not (HEAVY | {"scipy", "numba"}) & modules, sorted((HEAVY | {"scipy"}) & modules)


def test_the_help_listing_matches_what_the_command_modules_register() -> None:
    parser = build_parser()  # every group registered
    sub = next(a for a in parser._actions if a.dest == "command")
    assert isinstance(sub, argparse._SubParsersAction)
    registered = {c.dest: c.help for c in sub._choices_actions}
    assert registered == {name: text for name, (_, text) in COMMANDS.items()}
    for name, (module, _) in COMMANDS.items():
        only = build_parser(name)  # the one group main() imports for this command
        action = next(a for a in only._actions if a.dest == "command")
        assert isinstance(action, argparse._SubParsersAction)
        assert name in action.choices, (name, module)


def test_unknown_command_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    from arena.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["leaderbord"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'leaderbord'" in err
    assert all(f"'{name}'" in err for name in COMMANDS)


def test_the_database_variable_is_the_store_s() -> None:
    from arena.store.engine import ENV_VAR

    assert db.ENV_VAR == ENV_VAR
