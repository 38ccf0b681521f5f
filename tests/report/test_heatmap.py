"""The win-rate PNG: the web page's colour direction, and a readable top N by default."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from arena.cli.main import main
from arena.report.plots import WINRATE_CMAP, plot_heatmap
from tests.conftest import data_file

from .test_plots import png_size


def mean_colour(path: Path) -> np.ndarray:
    """Mean RGB of the clearly coloured pixels (not white, not grey, not black text)."""
    rgb = matplotlib.image.imread(path)[..., :3]
    saturation = rgb.max(axis=-1) - rgb.min(axis=-1)
    return np.asarray(rgb[saturation > 0.3].mean(axis=0))


def test_winning_is_blue_as_on_the_web_page(tmp_path: Path) -> None:
    low, high = mpl.colormaps[WINRATE_CMAP](0.0), mpl.colormaps[WINRATE_CMAP](1.0)
    assert low[0] > low[2] and high[2] > high[0]  # vega "redblue": 0 red, 1 blue
    names = ["a", "b", "c"]
    wins = pd.DataFrame(np.full((3, 3), 0.95), index=names, columns=names)
    path = tmp_path / "w.png"
    plot_heatmap(wins, path, title="all win", vmin=0.0, vmax=1.0, center=0.5)
    r, _, b = mean_colour(path)
    assert b > r + 0.2  # the cells of a row model that wins are blue


def test_the_cli_heatmap_shows_the_top_15_by_default(tmp_path: Path) -> None:
    counts = data_file("chatbotarena_20240814")
    top, every = tmp_path / "top.png", tmp_path / "all.png"
    assert main(["leaderboard", str(counts), "--heatmap", str(top), "--quiet"]) == 0
    assert main(["leaderboard", str(counts), "--heatmap", str(every), "--heatmap-top", "0",
                 "--quiet"]) == 0
    (w15, h15), (w129, h129) = png_size(top), png_size(every)
    assert w15 < 1000 and h15 < 1000  # 15 models, annotated and readable
    assert w129 > 1200 and h129 > 1200  # every model: 129 columns
    with pytest.raises(SystemExit) as bad:  # argparse: one line on stderr, status 2
        main(["leaderboard", str(counts), "--heatmap", str(top), "--heatmap-top", "x"])
    assert bad.value.code == 2
