from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from arena.errors import UserError
from arena.records import LEADERBOARD_COLUMNS, Leaderboard
from arena.report import (
    EXPORT_FORMATS,
    format_from_path,
    read_leaderboard_metadata,
    render_leaderboard,
    write_leaderboard,
)
from arena.report.exports import (
    CSV_METADATA_COLUMNS,
    CSV_METADATA_PREFIX,
    latex_escape,
    read_leaderboard_csv,
    write_atomic,
)

SUFFIX = {"csv": "csv", "json": "json", "md": "md", "latex": "tex", "parquet": "parquet"}
ODD_NAME = "x\\y%$#{}~^_&"


def make_board(*, style: bool = True, level: float | None = None) -> Leaderboard:
    # deliberately out of rating order, to check exports sort by rating
    table = pd.DataFrame(
        {
            "rank_ub": [1, 3, 1],
            "model": ["gpt_4 & co", ODD_NAME, "a|b*c"],
            "rating": [1234.5678912345, 1100.0, 1220.111],
            "ci_lower": [1228.1, np.nan, 1210.0],
            "ci_upper": [1240.0, np.nan, 1230.5],
            "battles": [100, 50, 90],
            "wins": [60, 20, 40],
            "losses": [30, 25, 40],
            "ties": [10, 5, 10],
        }
    )
    params: dict[str, Any] = {"scale": 400, "base": 10, "ci": "bootstrap", "anchor": None}
    if level is not None:
        params["level"] = level
    coefs = None
    if style:
        table["rating_plain"] = [1230.0, 1100.0, 1225.0]
        table["rank_plain"] = [1, 3, 1]
        table["rank_change"] = [0, 2, -1]
        coefs = pd.DataFrame(
            {
                "feature": ["length", "headers"],
                "coefficient": [0.25, 0.01],
                "ci_lower": [0.2, np.nan],
                "ci_upper": [0.3, np.nan],
            }
        )
    return Leaderboard(
        columns=table,
        method="bt",
        params=params,
        n_battles=120,
        n_models=3,
        data_sha256="ab" * 32,
        inputs=({"path": "data/battles.jsonl", "sha256": "cd" * 32},),
        style_coefficients=coefs,
        extras={"nu": 0.5},
        warnings=("model <weak> has few battles",),
    )


@pytest.fixture
def board() -> Leaderboard:
    return make_board()


# ------------------------------------------------------------------ format_from_path
@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("lb.csv", "csv"),
        ("lb.json", "json"),
        ("lb.md", "md"),
        ("lb.markdown", "md"),
        ("lb.tex", "latex"),
        ("lb.latex", "latex"),
        ("lb.parquet", "parquet"),
        ("lb.pq", "parquet"),
        ("out/LB.CSV", "csv"),
        ("lb.txt", None),
        ("lb", None),
    ],
)
def test_format_from_path(name: str, fmt: str | None) -> None:
    assert format_from_path(name) == fmt
    assert format_from_path(Path(name)) == fmt


def test_every_format_has_a_suffix() -> None:
    assert {format_from_path(f"x.{s}") for s in SUFFIX.values()} == set(EXPORT_FORMATS)


# ------------------------------------------------------------------ metadata round trip
@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_metadata_round_trips_through_every_format(
    board: Leaderboard, tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / f"board.{SUFFIX[fmt]}"
    write_leaderboard(board, path, fmt)
    assert read_leaderboard_metadata(path) == board.metadata()


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_metadata_round_trips_without_style_or_inputs(tmp_path: Path, fmt: str) -> None:
    lb = make_board(style=False)
    lb = Leaderboard(lb.table, "elo", {}, 7, 3, "00" * 32)
    path = tmp_path / f"board.{SUFFIX[fmt]}"
    write_leaderboard(lb, path, fmt)
    assert read_leaderboard_metadata(path) == lb.metadata()


def test_metadata_nan_is_read_back_as_none(tmp_path: Path) -> None:
    lb = make_board()
    lb = Leaderboard(lb.table, "davidson", {"tol": float("nan")}, 1, 3, "ee" * 32)
    for fmt in EXPORT_FORMATS:
        path = tmp_path / f"board.{SUFFIX[fmt]}"
        write_leaderboard(lb, path, fmt)
        assert read_leaderboard_metadata(path)["params"] == {"tol": None}


def test_read_metadata_explicit_format_overrides_suffix(board: Leaderboard, tmp_path: Path) -> None:
    path = tmp_path / "board.txt"
    write_leaderboard(board, path, "md")
    assert read_leaderboard_metadata(path, "md") == board.metadata()


def test_read_metadata_errors_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        read_leaderboard_metadata(tmp_path / "missing.csv")
    with pytest.raises(UserError, match="format"):
        read_leaderboard_metadata(tmp_path / "board.txt")
    plain = tmp_path / "plain.csv"
    pd.DataFrame({"model": ["a"], "rating": [1.0]}).to_csv(plain, index=False)
    with pytest.raises(UserError, match="not an arena leaderboard CSV"):
        read_leaderboard_metadata(plain)
    notes = tmp_path / "notes.md"
    notes.write_text("# just notes\n")
    with pytest.raises(UserError, match="no arena metadata"):
        read_leaderboard_metadata(notes)
    bogus = tmp_path / "bogus.parquet"
    bogus.write_bytes(b"not parquet at all")
    with pytest.raises(UserError, match="Parquet"):
        read_leaderboard_metadata(bogus)


# ------------------------------------------------------------------ CSV
def test_csv_holds_the_provenance_once_and_reads_back_with_pandas(
    board: Leaderboard, tmp_path: Path
) -> None:
    path = tmp_path / "board.csv"
    write_leaderboard(board, path, "csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(CSV_METADATA_PREFIX)
    assert sum(board.data_sha256 in line for line in lines) == 1  # once, not on every row
    assert json.loads(lines[0][len(CSV_METADATA_PREFIX) :]) == board.metadata()
    df = pd.read_csv(path, skiprows=1)  # the documented pandas option
    assert tuple(df.columns[: len(LEADERBOARD_COLUMNS)]) == LEADERBOARD_COLUMNS
    assert not set(CSV_METADATA_COLUMNS) & set(df.columns)
    assert list(df["model"]) == ["gpt_4 & co", "a|b*c", ODD_NAME]  # sorted by rating
    assert df["rating"].iloc[0] == 1234.5678912345  # full precision
    assert df["ci_lower"].isna().iloc[2]
    assert read_leaderboard_csv(path).equals(df)
    assert read_leaderboard_metadata(path) == board.metadata()


def test_csv_of_many_models_stays_small(tmp_path: Path) -> None:
    """129 models: the provenance (inputs, parameters) is written once, not 129 times."""
    import dataclasses

    many = dataclasses.replace(
        make_board(style=False),
        columns=pd.concat([make_board(style=False).table] * 43, ignore_index=True).assign(
            model=[f"model-{i}" for i in range(129)]
        ),
        params={**make_board(style=False).params, "padding": "x" * 500},
    )
    text = render_leaderboard(many, "csv")
    table_only = pd.read_csv(io.StringIO(text), skiprows=1).to_csv(index=False)
    assert len(text) < len(table_only) + 1500


def test_older_csv_exports_with_trailing_columns_still_read(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    meta = {"params": '{"ci": "sandwich"}', "inputs": "[]", "extras": "{}", "warnings": "[]"}
    row = {"rank_ub": 1, "model": "a", "rating": 1000.0, "method": "bt", "n_battles": 3,
           "n_models": 2, "data_sha256": "ab" * 32, "arena_version": "0.1", **meta}
    pd.DataFrame([row, {**row, "model": "b", "rank_ub": 2}]).to_csv(path, index=False)
    assert list(read_leaderboard_csv(path).columns) == ["rank_ub", "model", "rating"]
    assert read_leaderboard_metadata(path)["params"] == {"ci": "sandwich"}


# ------------------------------------------------------------------ JSON
def test_json_is_strict_with_nulls_for_nan(board: Leaderboard) -> None:
    def reject(token: str) -> None:
        raise AssertionError(f"non-standard JSON constant {token}")

    doc = json.loads(render_leaderboard(board, "json"), parse_constant=reject)
    assert doc["metadata"] == board.metadata()
    rows = doc["leaderboard"]
    assert [r["model"] for r in rows] == ["gpt_4 & co", "a|b*c", ODD_NAME]
    assert rows[2]["ci_lower"] is None and rows[2]["ci_upper"] is None
    assert rows[0]["rating"] == 1234.5678912345
    assert rows[0]["battles"] == 100 and isinstance(rows[0]["battles"], int)
    assert doc["style_coefficients"][0] == {
        "feature": "length",
        "coefficient": 0.25,
        "ci_lower": 0.2,
        "ci_upper": 0.3,
    }
    assert doc["style_coefficients"][1]["ci_lower"] is None


def test_json_style_coefficients_null_without_style_control() -> None:
    doc = json.loads(render_leaderboard(make_board(style=False), "json"))
    assert doc["style_coefficients"] is None


# ------------------------------------------------------------------ Markdown
def test_markdown_table(board: Leaderboard) -> None:
    text = render_leaderboard(board, "md")
    lines = text.splitlines()
    assert lines[0] == "| Rank (UB) | Model | Rating | 95% CI | Battles | Rank change |"
    assert lines[2] == "| 1 | gpt_4 & co | 1234.57 | +5.43 / -6.47 | 100 | 0 |"
    assert lines[3] == "| 1 | a\\|b\\*c | 1220.11 | +10.39 / -10.11 | 90 | -1 |"
    assert lines[4].startswith("| 3 | ") and "| 1100.00 | — | 50 | +2 |" in lines[4]
    # every table row has the same number of unescaped pipes as the header
    header_cells = lines[0].count("|")
    for row in lines[2:5]:
        assert row.replace("\\|", "").count("|") == header_cells


def test_markdown_provenance_and_style(board: Leaderboard) -> None:
    text = render_leaderboard(board, "md")
    assert "- Method: `bt`" in text
    assert "- Battles: 120" in text
    assert "- Models: 3" in text
    assert f"- Data SHA-256: `{'ab' * 32}`" in text
    assert "data/battles.jsonl" in text and "cd" * 32 in text
    assert '"scale":400' in text
    assert "| Feature | Coefficient | CI lower | CI upper |" in text
    assert "| length | 0.2500 | 0.2000 | 0.3000 |" in text


def test_markdown_uses_confidence_level_from_params() -> None:
    assert "| 90% CI |" in render_leaderboard(make_board(level=0.9), "md")
    assert "| 99% CI |" in render_leaderboard(make_board(level=99), "md")


def test_markdown_without_intervals_or_style_has_no_such_columns() -> None:
    lb = make_board(style=False)
    table = lb.table.assign(ci_lower=np.nan, ci_upper=np.nan)
    text = render_leaderboard(Leaderboard(table, "elo", {}, 120, 3, "ab" * 32), "md")
    assert text.splitlines()[0] == "| Rank (UB) | Model | Rating | Battles |"
    assert "Style coefficients" not in text


# ------------------------------------------------------------------ LaTeX
def test_latex_escape() -> None:
    assert latex_escape("a_b & c") == r"a\_b \& c"
    assert latex_escape("\\{x}") == r"\textbackslash{}\{x\}"
    assert latex_escape("50% $5 #1 ~^") == r"50\% \$5 \#1 \textasciitilde{}\textasciicircum{}"


def test_latex_table(board: Leaderboard) -> None:
    text = render_leaderboard(board, "latex")
    lines = text.splitlines()
    begin = lines.index(r"\begin{tabular}{rlrcrr}")
    assert all(line.startswith("%") for line in lines[:begin])
    assert any("% data_sha256:" in line and "ab" * 32 in line for line in lines[:begin])
    assert any("% method:" in line and "bt" in line for line in lines[:begin])
    assert lines[begin + 1] == r"\toprule" and r"\midrule" in lines and r"\bottomrule" in lines
    assert r"1 & gpt\_4 \& co & 1234.57 & $^{+5.43}_{-6.47}$ & 100 & 0 \\" in lines
    odd = r"x\textbackslash{}y\%\$\#\{\}\textasciitilde{}\textasciicircum{}\_\&"
    assert rf"3 & {odd} & 1100.00 & -- & 50 & +2 \\" in lines
    assert r"95\% CI" in text


# ------------------------------------------------------------------ Parquet
def test_parquet_holds_table_and_metadata(board: Leaderboard, tmp_path: Path) -> None:
    path = tmp_path / "board.parquet"
    write_leaderboard(board, path, "parquet")
    df = pd.read_parquet(path)
    assert list(df.columns) == list(board.table.columns)
    assert list(df["model"]) == ["gpt_4 & co", "a|b*c", ODD_NAME]
    assert df["rating"].iloc[0] == 1234.5678912345
    meta = pq.read_schema(path).metadata
    assert json.loads(meta[b"arena"]) == board.metadata()


def test_parquet_needs_a_path(board: Leaderboard) -> None:
    with pytest.raises(UserError, match="file path"):
        write_leaderboard(board, None, "parquet")
    with pytest.raises(UserError, match="binary"):
        render_leaderboard(board, "parquet")


# ------------------------------------------------------------------ writing
@pytest.mark.parametrize("fmt", ["csv", "json", "md", "latex"])
def test_no_path_prints_to_stdout(
    board: Leaderboard, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    write_leaderboard(board, None, fmt)
    assert capsys.readouterr().out == render_leaderboard(board, fmt)


def test_file_content_matches_rendered_text(board: Leaderboard, tmp_path: Path) -> None:
    path = tmp_path / "board.md"
    write_leaderboard(board, path, "MD")
    assert path.read_text(encoding="utf-8") == render_leaderboard(board, "md")


def test_unknown_format_is_a_user_error(board: Leaderboard, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown export format 'xlsx'"):
        write_leaderboard(board, tmp_path / "b.xlsx", "xlsx")
    with pytest.raises(UserError, match="csv, json, md, latex, parquet"):
        render_leaderboard(board, "html")


def test_missing_directory_is_a_user_error(board: Leaderboard, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        write_leaderboard(board, tmp_path / "nope" / "board.csv", "csv")
    assert not (tmp_path / "nope").exists()


def test_failed_write_keeps_old_file_and_leaves_no_temp_file(
    board: Leaderboard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "board.csv"
    path.write_text("old content\n")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(UserError, match="No space left"):
        write_leaderboard(board, path, "csv")
    assert path.read_text() == "old content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board.csv"]


def test_overwrite_replaces_whole_file(board: Leaderboard, tmp_path: Path) -> None:
    path = tmp_path / "board.json"
    path.write_text("x" * 100_000)
    write_leaderboard(board, path, "json")
    assert json.loads(path.read_text())["metadata"]["n_models"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board.json"]


def test_written_file_is_readable_like_a_normal_new_file(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    write_atomic(path, b"data")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_eval_report_reads_an_exported_leaderboard_csv(board: Leaderboard, tmp_path: Path) -> None:
    """``arena eval report --ratings lb.csv`` skips the provenance line of an export."""
    from arena.harness import read_ratings

    path = tmp_path / "lb.csv"
    write_leaderboard(board, path, "csv")
    ratings = read_ratings([path])
    assert ratings.to_dict() == pytest.approx(board.table.set_index("model")["rating"].to_dict())
