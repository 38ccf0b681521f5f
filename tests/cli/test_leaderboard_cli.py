"""`arena leaderboard` and `arena matrix` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from arena.cli.main import main
from arena.report import read_leaderboard_csv, read_leaderboard_metadata
from tests.conftest import data_file

FASTCHAT_ROWS = [
    {
        "model_a": "alpha",
        "model_b": "beta",
        "winner": "model_a",
        "tstamp": 1.0,
        "anony": True,
        "language": "English",
    },
    {
        "model_a": "beta",
        "model_b": "gamma",
        "winner": "model_b",
        "tstamp": 2.0,
        "anony": True,
        "language": "English",
    },
    {
        "model_a": "gamma",
        "model_b": "alpha",
        "winner": "tie",
        "tstamp": 3.0,
        "anony": False,
        "language": "German",
    },
    {
        "model_a": "alpha",
        "model_b": "gamma",
        "winner": "tie (bothbad)",
        "tstamp": 4.0,
        "anony": True,
        "language": "English",
    },
    {
        "model_a": "beta",
        "model_b": "alpha",
        "winner": "model_a",
        "tstamp": 5.0,
        "anony": True,
        "language": "English",
    },
    {
        "model_a": "gamma",
        "model_b": "beta",
        "winner": "model_b",
        "tstamp": 6.0,
        "anony": True,
        "language": "English",
    },
]


@pytest.fixture()
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "battles.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in FASTCHAT_ROWS) + "\n")
    return path


def run(args: list[str | Path]) -> int:
    return main([str(a) for a in args])


def test_csv_export_has_contract_columns(jsonl: Path, tmp_path: Path) -> None:
    out = tmp_path / "lb.csv"
    assert run(["leaderboard", jsonl, "--output", out]) == 0
    table = pd.read_csv(out, skiprows=1)  # the documented way: line 1 is the provenance
    assert list(table.columns[:6]) == [
        "rank_ub",
        "model",
        "rating",
        "ci_lower",
        "ci_upper",
        "battles",
    ]
    assert sorted(table.model) == ["alpha", "beta", "gamma"]
    assert table.rating.is_monotonic_decreasing
    meta = read_leaderboard_metadata(out)
    assert meta["method"] == "bt" and meta["n_battles"] == 6


@pytest.mark.parametrize("fmt", ["csv", "json", "md", "latex", "parquet"])
def test_every_format_is_written(jsonl: Path, tmp_path: Path, fmt: str) -> None:
    from arena.report.exports import read_leaderboard_metadata

    out = tmp_path / f"lb.{fmt}"
    assert (
        run(
            [
                "leaderboard",
                jsonl,
                "--format",
                fmt,
                "--output",
                out,
                "--ci",
                "bootstrap",
                "--rounds",
                "10",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    meta = read_leaderboard_metadata(out, fmt)
    assert meta["method"] == "bt"
    assert meta["params"]["rounds"] == 10 and meta["params"]["seed"] == 3
    assert meta["n_battles"] == 6 and meta["n_models"] == 3
    assert len(meta["data_sha256"]) == 64
    assert meta["inputs"][0]["path"].endswith("battles.jsonl")


def test_markdown_to_stdout_by_default(jsonl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["leaderboard", jsonl, "--method", "elo"]) == 0
    text = capsys.readouterr().out
    assert "| alpha" in text or "alpha" in text
    assert "elo" in text


def test_filters_and_anchor(jsonl: Path, tmp_path: Path) -> None:
    out = tmp_path / "lb.json"
    assert (
        run(
            [
                "leaderboard",
                jsonl,
                "--anonymous-only",
                "--language",
                "English",
                "--anchor",
                "alpha=1200",
                "--output",
                out,
            ]
        )
        == 0
    )
    doc = json.loads(out.read_text())
    assert doc["metadata"]["n_battles"] == 5
    rows = {r["model"]: r for r in doc["leaderboard"]}
    assert rows["alpha"]["rating"] == pytest.approx(1200)
    assert doc["metadata"]["params"]["filters"] == {"language": "English", "anonymous_only": True}


def test_plots_are_written(jsonl: Path, tmp_path: Path) -> None:
    plot, heat = tmp_path / "r.png", tmp_path / "h.png"
    assert (
        run(
            [
                "leaderboard",
                jsonl,
                "--plot",
                plot,
                "--heatmap",
                heat,
                "--output",
                tmp_path / "x.csv",
            ]
        )
        == 0
    )
    for png in (plot, heat):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kind", ["winrate", "counts", "predicted"])
def test_matrix_command(jsonl: Path, tmp_path: Path, kind: str) -> None:
    out = tmp_path / "m.csv"
    assert run(["matrix", jsonl, "--kind", kind, "--output", out]) == 0
    m = pd.read_csv(out, index_col=0)
    assert m.shape == (3, 3)


def test_llmfao_with_column_mapping(tmp_path: Path) -> None:
    llmfao = data_file("llmfao_crowd_comparisons")
    out = tmp_path / "lb.csv"
    assert (
        run(
            [
                "leaderboard",
                llmfao,
                "--columns",
                "model_a=left,model_b=right",
                "--outcomes",
                "left=model_a,right=model_b,tie=tie",
                "--method",
                "elo",
                "--output",
                out,
            ]
        )
        == 0
    )
    table = pd.read_csv(out, skiprows=1)
    assert len(table) == 59 and table["battles"].sum() == 2 * 8931
    assert read_leaderboard_metadata(out)["n_battles"] == 8931


def test_arena_counts_anchor(tmp_path: Path) -> None:
    arena_counts = data_file("chatbotarena_20240814")
    out = tmp_path / "lb.csv"
    assert (
        run(
            [
                "leaderboard",
                arena_counts,
                "--anchor",
                "mixtral-8x7b-instruct-v0.1=1114",
                "--output",
                out,
            ]
        )
        == 0
    )
    table = read_leaderboard_csv(out).set_index("model")
    assert abs(table["rating"]["chatgpt-4o-latest"] - 1313.55) <= 2


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "arena.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "empty"),
        ("model_a,model_b\nx,y\n", "winner"),
        ("model_a,model_b,winner\nx,y,model_c\n", "model_c"),
        ('{"model_a": "x", "model_b": "y"', "line 1"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    res = _cli("leaderboard", path)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert "bad.csv" in lines[0] and expected in lines[0]


def test_bad_flags_are_reported(jsonl: Path, tmp_path: Path) -> None:
    res = _cli("leaderboard", jsonl, "--anchor", "alpha")
    assert res.returncode == 2 and "MODEL=RATING" in res.stderr
    res = _cli("leaderboard", jsonl, "--anchor", "nobody=1000")
    assert res.returncode == 2 and "nobody" in res.stderr and "Traceback" not in res.stderr
    res = _cli("leaderboard", jsonl, "--format", "parquet")
    assert res.returncode == 2 and "--output" in res.stderr
    res = _cli("leaderboard", tmp_path / "missing.jsonl")
    assert res.returncode == 2 and "missing.jsonl" in res.stderr
    res = _cli("leaderboard", jsonl, "--style-control")
    assert res.returncode == 2 and "style" in res.stderr
    res = _cli("leaderboard", jsonl, "--output", tmp_path / "nodir" / "x.csv")
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_output_is_not_half_written_on_error(jsonl: Path, tmp_path: Path) -> None:
    out = tmp_path / "lb.csv"
    out.write_text("previous content\n")
    res = _cli("leaderboard", jsonl, "--output", out, "--anchor", "nobody=1")
    assert res.returncode == 2
    assert out.read_text() == "previous content\n"


def test_help_lists_contract_flags() -> None:
    res = _cli("leaderboard", "--help")
    assert res.returncode == 0
    for flag in [
        "--method",
        "--ci",
        "--rounds",
        "--seed",
        "--anchor",
        "--style-control",
        "--category",
        "--min-battles",
        "--format",
        "--output",
        "--plot",
    ]:
        assert flag in res.stdout


def test_core_does_not_import_torch_or_streamlit(jsonl: Path) -> None:
    code = (
        "import sys; from arena.cli.main import main; "
        f"main(['leaderboard', {str(jsonl)!r}, '--format', 'csv']); "
        "assert 'torch' not in sys.modules and 'streamlit' not in sys.modules, 'heavy import'"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
