from __future__ import annotations

import struct
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from arena.battles.matrices import count_matrix, win_rate_matrix
from arena.battles.table import Battles
from arena.errors import UserError
from arena.records import Leaderboard
from arena.report import plot_heatmap, plot_ratings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG, after checking it is one and that it decodes."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[:2] == (height, width)
    assert pixels.std() > 0  # not a blank image
    return width, height


def make_board(k: int, *, nan_ci: bool = False, method: str = "bt") -> Leaderboard:
    rng = np.random.default_rng(k)
    rating = np.sort(rng.normal(1100, 80, k))[::-1]
    half = rng.uniform(3, 20, k)
    table = pd.DataFrame(
        {
            "rank_ub": np.arange(1, k + 1),
            "model": [f"model-{i:03d}" for i in range(k)],
            "rating": rating,
            "ci_lower": np.nan if nan_ci else rating - half,
            "ci_upper": np.nan if nan_ci else rating + half,
            "battles": rng.integers(100, 1000, k),
        }
    )
    return Leaderboard(table, method, {"level": 0.95}, 12_345, k, "0" * 64)


@pytest.mark.parametrize("k", [2, 10])
def test_plot_ratings_writes_a_png(tmp_path: Path, k: int) -> None:
    path = tmp_path / "ratings.png"
    plot_ratings(make_board(k), path)
    width, height = png_size(path)
    assert 300 <= width <= 2000 and 150 <= height <= 2000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ratings.png"]  # no temp file left


def test_plot_ratings_without_intervals(tmp_path: Path) -> None:
    path = tmp_path / "ratings.png"
    plot_ratings(make_board(5, nan_ci=True, method="elo"), path)
    png_size(path)


def test_plot_ratings_with_some_intervals_missing(tmp_path: Path) -> None:
    lb = make_board(6)
    table = lb.table.copy()
    table.loc[[1, 4], ["ci_lower", "ci_upper"]] = np.nan
    path = tmp_path / "ratings.png"
    plot_ratings(Leaderboard(table, "bt", {}, 10, 6, "0" * 64), path)
    png_size(path)


def test_plot_ratings_grows_with_the_number_of_models(tmp_path: Path) -> None:
    plot_ratings(make_board(10), tmp_path / "small.png")
    plot_ratings(make_board(150), tmp_path / "large.png")
    _, small = png_size(tmp_path / "small.png")
    _, large = png_size(tmp_path / "large.png")
    assert large > 10 * small / 2  # roughly proportional, so 150 labels stay readable
    assert large / 150 >= 15  # at least 15 pixels per model row


def test_plot_heatmap_small_matrix_with_gaps(tmp_path: Path) -> None:
    battles = Battles.from_names(
        ["a", "a", "b", "c"], ["b", "b", "a", "a"], [0, 1, 2, 0], count=[3, 1, 2, 1]
    )
    rates = win_rate_matrix(battles)
    assert rates.isna().to_numpy().sum() == 3 + 2  # diagonal and the b-c pair
    path = tmp_path / "winrate.png"
    plot_heatmap(rates, path, title="Win rate", center=0.5)
    width, height = png_size(path)
    assert 300 <= width <= 2000 and 300 <= height <= 2000


def test_plot_heatmap_counts_with_integer_format(tmp_path: Path) -> None:
    battles = Battles.from_names(["a", "b"], ["b", "a"], [0, 1], count=[5, 7])
    path = tmp_path / "counts.png"
    plot_heatmap(count_matrix(battles), path, title="Battles", fmt="d", cmap="viridis")
    png_size(path)


def test_plot_heatmap_large_matrix_is_not_annotated_but_readable(tmp_path: Path) -> None:
    k = 60
    names = [f"m{i}" for i in range(k)]
    values = np.random.default_rng(0).uniform(0, 1, (k, k))
    np.fill_diagonal(values, np.nan)
    path = tmp_path / "big.png"
    plot_heatmap(pd.DataFrame(values, index=names, columns=names), path, title="Big")
    width, height = png_size(path)
    assert width >= k * 10 and height >= k * 10


def test_plot_heatmap_all_nan(tmp_path: Path) -> None:
    matrix = pd.DataFrame(np.full((2, 2), np.nan), index=["a", "b"], columns=["a", "b"])
    path = tmp_path / "empty.png"
    plot_heatmap(matrix, path, title="Nothing yet")
    png_size(path)


def test_plot_heatmap_rejects_empty_matrix_and_bad_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        plot_heatmap(pd.DataFrame(), tmp_path / "x.png", title="x")
    matrix = pd.DataFrame([[0.5]], index=["a"], columns=["a"])
    with pytest.raises(ValueError):
        plot_heatmap(matrix, tmp_path / "x.png", title="x", fmt="!nonsense")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("name", ["ratings.jpg", "ratings.svg", "ratings"])
def test_plots_refuse_non_png_paths(tmp_path: Path, name: str) -> None:
    with pytest.raises(UserError, match=r"\.png"):
        plot_ratings(make_board(3), tmp_path / name)
    matrix = pd.DataFrame([[np.nan, 0.4], [0.6, np.nan]], index=["a", "b"], columns=["a", "b"])
    with pytest.raises(UserError, match=r"\.png"):
        plot_heatmap(matrix, tmp_path / name, title="x")
    assert list(tmp_path.iterdir()) == []


def test_plots_refuse_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        plot_ratings(make_board(3), tmp_path / "missing" / "r.png")
    with pytest.raises(UserError, match="does not exist"):
        plot_heatmap(
            pd.DataFrame([[1.0]], index=["a"], columns=["a"]),
            tmp_path / "missing" / "h.png",
            title="x",
        )


def test_upper_case_png_suffix_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "R.PNG"
    plot_ratings(make_board(3), path)
    png_size(path)
