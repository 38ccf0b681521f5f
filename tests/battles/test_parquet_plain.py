"""Plain Parquet battle files: read from Arrow directly, same battles, same refusals.

A Parquet file holding only ``model_a, model_b, winner`` (and perhaps the eight style
columns) is turned into :class:`Battles` without pandas. These tests hold that route to
the general reader: the same table as the CSV of the same rows, and for every broken
file the same message as when a metadata column sends the file through the general
(pandas) reader.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arena.battles import STYLE_FEATURES, Battles, read_battles
from arena.errors import BattleFileError

STYLE_COLUMNS = [f"{f}_{side}" for side in "ab" for f in STYLE_FEATURES]


def rows(n: int = 40, *, style: bool = True) -> dict[str, list[Any]]:
    models = ["alpha", "beta", "gamma", "delta", "eps ilon"]
    winners = ["model_a", "model_b", "tie", "tie (bothbad)", "Model_A ", "tie(bothbad)"]
    data: dict[str, list[Any]] = {"model_a": [], "model_b": [], "winner": []}
    for i in range(n):
        a, b = models[i % 5], models[(i + 1 + i // 5) % 5]
        if a == b:
            b = models[(i + 2) % 5]
        data["model_a"].append(a)
        data["model_b"].append(b)
        data["winner"].append(winners[i % len(winners)])
    if style:
        for j, name in enumerate(STYLE_COLUMNS):
            data[name] = [(i * (j + 3)) % 17 for i in range(n)]
    return data


def write(path: Path, data: dict[str, Any], **kwargs: Any) -> Path:
    pq.write_table(pa.table(data), path, **kwargs)
    return path


def assert_same(a: Battles, b: Battles) -> None:
    assert a.models == b.models
    for name in ("model_a", "model_b", "outcome", "count", "weight"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.style_names == b.style_names
    if a.has_style:
        np.testing.assert_array_equal(a.style_a, b.style_a)
        np.testing.assert_array_equal(a.style_b, b.style_b)
    assert a.ordered == b.ordered
    assert a.sha256() == b.sha256()


@pytest.mark.parametrize("style", [True, False])
def test_a_plain_file_gives_the_battles_its_csv_gives(tmp_path: Path, style: bool) -> None:
    data = rows()
    parquet = write(tmp_path / "b.parquet", data, row_group_size=7)  # several row groups
    csv = tmp_path / "b.csv"
    pd.DataFrame(data).to_csv(csv, index=False)
    from_parquet = read_battles(parquet, style=style)
    assert_same(from_parquet, read_battles(csv, style=style))
    assert from_parquet.has_style is style
    assert "eps ilon" in from_parquet.models and list(from_parquet.meta.columns) == []


def test_dictionary_encoded_columns_with_unused_and_padded_names(tmp_path: Path) -> None:
    # a categorical whose dictionary lists a model no row uses and a name with spaces
    frame = pd.DataFrame(rows(12, style=False))
    padded = [" " + m for m in frame["model_a"]]
    frame["model_a"] = pd.Categorical(padded, categories=[*sorted(set(padded)), " never"])
    path = tmp_path / "b.parquet"
    frame.to_parquet(path)
    battles = read_battles(path)
    assert "never" not in battles.models
    assert all(m == m.strip() for m in battles.models)
    # the general reader (sent there by a metadata column) numbers models the same way
    general = tmp_path / "general.parquet"
    frame.assign(language="English").to_parquet(general)
    assert_same(battles, read_battles(general))


def test_an_outcome_map_applies_on_the_plain_route(tmp_path: Path) -> None:
    data = rows(10, style=False)
    data["winner"] = ["left", "right", "draw", "left", "right"] * 2
    path = write(tmp_path / "b.parquet", data)
    battles = read_battles(path, outcome_map={"left": "model_a", "right": "model_b", "draw": "tie"})
    assert battles.outcome.tolist() == [0, 1, 2, 0, 1] * 2


def _with_language(data: dict[str, list[Any]]) -> dict[str, list[Any]]:
    n = len(data["model_a"])
    return {**data, "language": ["English"] * n}


def _broken(name: str) -> dict[str, Any]:
    data: dict[str, Any] = rows(12)
    if name == "missing name":
        data["model_b"] = [*data["model_b"][:3], None, *data["model_b"][4:]]
    elif name == "empty name":
        data["model_a"] = [*data["model_a"][:5], "  ", *data["model_a"][6:]]
    elif name == "self battle":
        data["model_b"] = [*data["model_b"][:2], data["model_a"][2], *data["model_b"][3:]]
    elif name == "unknown outcome":
        data["winner"] = [*data["winner"][:4], "model_c", *data["winner"][5:]]
    elif name == "missing outcome":
        data["winner"] = [*data["winner"][:4], None, *data["winner"][5:]]
    elif name == "negative style":
        data["bold_b"] = [*data["bold_b"][:6], -1, *data["bold_b"][7:]]
    elif name == "infinite style":
        data["tokens_a"] = [float(v) for v in data["tokens_a"]]
        data["tokens_a"][1] = float("inf")
    elif name == "text style":
        data["headers_a"] = [str(v) for v in data["headers_a"]]
        data["headers_a"][8] = "many"
    elif name == "no rows":
        data = {k: pa.array([], pa.string()) for k in ("model_a", "model_b", "winner")}
    elif name == "numbers as names":
        data["model_a"] = list(range(12))
    return data


BROKEN = [
    "missing name",
    "empty name",
    "self battle",
    "unknown outcome",
    "missing outcome",
    "negative style",
    "infinite style",
    "text style",
    "no rows",
]


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_file_is_refused_with_the_general_reader_s_message(
    tmp_path: Path, case: str
) -> None:
    data = _broken(case)
    plain = write(tmp_path / "plain.parquet", data)
    general = write(
        tmp_path / "general.parquet",
        data if case == "no rows" else _with_language(data),
    )
    with pytest.raises(BattleFileError) as plain_error:
        read_battles(plain, style=True)
    if case == "no rows":
        assert "no data rows" in str(plain_error.value)
        return
    with pytest.raises(BattleFileError) as general_error:
        read_battles(general, style=True)
    assert str(plain_error.value).replace("plain", "general") == str(general_error.value)


def test_numbers_as_model_names_are_read_as_names(tmp_path: Path) -> None:
    # an integer column is not a dictionary of strings: the general reader takes it
    data = _broken("numbers as names")
    battles = read_battles(write(tmp_path / "b.parquet", data), style=False)
    assert "0" in battles.models and len(battles) == 12


def test_a_plain_parquet_leaderboard_never_imports_pandas(tmp_path: Path) -> None:
    path = write(tmp_path / "b.parquet", rows(60))
    probe = (
        "import sys\n"
        "from arena.battles import read_battles\n"
        "from arena.leaderboard import compute_leaderboard\n"
        "from arena.report.exports import render_leaderboard\n"
        f"b = read_battles({str(path)!r}, style=False)\n"
        "lb = compute_leaderboard(b, method='bt', ci='sandwich')\n"
        "text = render_leaderboard(lb, 'csv')\n"
        "print(len(text.splitlines()), 'pandas' in sys.modules, 'scipy' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["7", "False", "False"]  # header, columns, 5 models
