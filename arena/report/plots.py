"""PNG plots of a leaderboard and of pairwise matrices.

Figures are drawn on a bare :class:`matplotlib.figure.Figure` (Agg rendering, no pyplot
state, no display needed, safe in servers and threads) and written atomically, like the
exports. matplotlib is imported inside the functions so importing :mod:`arena.report`
stays fast for commands that draw nothing.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from arena.errors import UserError
from arena.io import write_atomic
from arena.records import Leaderboard
from arena.report.exports import ci_label

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["WINRATE_CMAP", "plot_heatmap", "plot_ratings"]

#: Matrices up to this many rows and columns get each cell's value written in it.
ANNOTATE_MAX: int = 30

#: Colour map of win rates: red where the row model loses, blue where it wins, the
#: direction of the web page's heatmap (Vega's ``redblue`` scheme, low red to high blue).
WINRATE_CMAP: str = "RdBu"

_METHOD_NAMES: dict[str, str] = {
    "bt": "Bradley-Terry",
    "davidson": "Davidson",
    "elo": "Online Elo",
}
_DPI = 100


def _check_png_path(path: Path | str) -> Path:
    """Return ``path`` as a Path; raise :class:`UserError` unless a ``.png`` in an existing dir."""
    file = Path(path)
    if file.suffix.lower() != ".png":
        raise UserError(f"cannot plot to {file}: plots are PNG images, use a .png file name")
    if not file.parent.is_dir():
        raise UserError(f"cannot write {file}: directory {file.parent} does not exist")
    return file


def _save_png(fig: Figure, path: Path) -> None:
    """Render ``fig`` to PNG in memory, then write it atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    write_atomic(path, buffer.getvalue())


def _format_cell(value: float, fmt: str) -> str:
    """Format a cell with ``fmt``; integer specs such as ``d`` get the value rounded."""
    try:
        return format(value, fmt)
    except ValueError:
        return format(round(value), fmt)


def _label_fontsize(n: int) -> float:
    """Return a tick-label font size that stays legible while fitting ``n`` labels."""
    return 9.0 if n <= 40 else 7.0 if n <= 120 else 6.0


def plot_ratings(lb: Leaderboard, path: Path | str) -> None:
    """Plot ratings with their confidence intervals, one row per model, best at the top.

    The figure grows with the number of models (about a fifth of an inch per model) so
    that labels stay readable from 2 to 300+ models. Models without an interval (NaN
    bounds) are drawn as a bare point. The title names the method and the data size.

    Raises
    ------
    UserError
        If ``path`` is not a ``.png`` file in an existing directory, or cannot be written.
    """
    from matplotlib.figure import Figure

    file = _check_png_path(path)
    table = lb.table.sort_values("rating", ascending=False, kind="stable", na_position="last")
    n = len(table)
    names = [str(m) for m in table["model"]]
    rating = table["rating"].to_numpy(dtype=np.float64)
    lower = table["ci_lower"].to_numpy(dtype=np.float64)
    upper = table["ci_upper"].to_numpy(dtype=np.float64)
    y = np.arange(n, dtype=np.float64)
    has_ci = np.isfinite(lower) & np.isfinite(upper)

    fig = Figure(figsize=(8.0, max(2.5, 0.2 * n + 1.5)), layout="constrained")
    ax = fig.add_subplot()
    if has_ci.any():
        ax.hlines(
            y[has_ci],
            lower[has_ci],
            upper[has_ci],
            color="tab:blue",
            lw=1.5,
            label=ci_label(lb.params),
        )
    ax.plot(rating, y, "o", color="tab:blue", markersize=4 if n > 60 else 5, label="rating")
    ax.set_yticks(y, names, fontsize=_label_fontsize(n))
    ax.set_ylim(n - 0.5, -0.5)  # best model on top
    ax.grid(axis="x", alpha=0.3)
    ax.tick_params(axis="x", top=True, labeltop=n > 40)  # long plots: scale at both ends
    ax.set_xlabel("rating")
    if has_ci.any():
        ax.legend(loc="lower right", fontsize=8)
    method = _METHOD_NAMES.get(lb.method, lb.method)
    ax.set_title(f"{method} ratings: {lb.n_models:,} models, {lb.n_battles:,} battles")
    _save_png(fig, file)


def plot_heatmap(
    matrix: pd.DataFrame,
    path: Path | str,
    *,
    title: str,
    fmt: str = ".2f",
    cmap: str = WINRATE_CMAP,
    vmin: float | None = None,
    vmax: float | None = None,
    center: float | None = None,
) -> None:
    """Plot a model-by-model matrix as a colour-coded grid with a colour bar.

    Each cell's value is written in it (formatted with ``fmt``) when the matrix has at
    most :data:`ANNOTATE_MAX` rows and columns; larger ones are colour only. NaN cells
    (no battles, the diagonal) are left blank, in light grey. Row labels run down the left,
    column labels along the top, so ``matrix.loc[row, col]`` reads like the table.

    Parameters
    ----------
    matrix:
        Numeric matrix labelled by model (e.g. from :mod:`arena.battles.matrices`).
    path:
        Output ``.png`` file.
    title:
        Figure title.
    fmt:
        Format spec of the annotations.
    cmap, vmin, vmax:
        Colour map (default :data:`WINRATE_CMAP`: blue = the row model wins, as on the
        web page) and its range (default: the finite data range).
    center:
        Value that should get the middle colour of a diverging map (e.g. 0.5 for win
        rates): the default range is widened to be symmetric around it.

    Raises
    ------
    UserError
        If ``path`` is not a ``.png`` file in an existing directory, or cannot be written.
    ValueError
        If the matrix is empty or not numeric, or ``fmt``/``cmap`` is unusable.
    """
    import matplotlib as mpl
    from matplotlib.figure import Figure

    file = _check_png_path(path)
    if matrix.empty:
        raise ValueError("cannot plot an empty matrix")
    _format_cell(0.5, fmt)  # an unusable format fails here, before any drawing
    values = matrix.to_numpy(dtype=np.float64)
    n_rows, n_cols = values.shape
    finite = values[np.isfinite(values)]
    lo = vmin if vmin is not None else float(finite.min()) if finite.size else 0.0
    hi = vmax if vmax is not None else float(finite.max()) if finite.size else 1.0
    if center is not None:
        half = max(abs(hi - center), abs(center - lo))
        lo = center - half if vmin is None else lo
        hi = center + half if vmax is None else hi
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5

    biggest = max(n_rows, n_cols)
    cell = 0.45 if biggest <= ANNOTATE_MAX else 0.2 if biggest <= 100 else 0.1  # inches
    fig = Figure(
        figsize=(max(4.0, cell * n_cols + 2.5), max(3.5, cell * n_rows + 1.5)), layout="constrained"
    )
    ax = fig.add_subplot()
    if cmap not in mpl.colormaps:
        raise ValueError(f"unknown matplotlib colour map {cmap!r}")
    colours = mpl.colormaps[cmap].with_extremes(bad="0.85")  # grey: "no data" is not 0.5
    image = ax.imshow(
        np.ma.masked_invalid(values),
        cmap=colours,
        vmin=lo,
        vmax=hi,
        aspect="equal",
        interpolation="nearest",
    )
    fig.colorbar(image, ax=ax, shrink=min(1.0, 6.0 / max(n_rows, 1) + 0.4))

    size = _label_fontsize(max(n_rows, n_cols))
    ax.set_xticks(np.arange(n_cols), [str(c) for c in matrix.columns], fontsize=size, rotation=90)
    ax.set_yticks(np.arange(n_rows), [str(r) for r in matrix.index], fontsize=size)
    ax.xaxis.tick_top()
    if matrix.columns.name:
        ax.set_xlabel(str(matrix.columns.name))
        ax.xaxis.set_label_position("top")
    if matrix.index.name:
        ax.set_ylabel(str(matrix.index.name))
    ax.set_title(title)

    if max(n_rows, n_cols) <= ANNOTATE_MAX:
        rgba = np.asarray(colours(image.norm(values)), dtype=np.float64)
        light = rgba[..., :3] @ np.array([0.299, 0.587, 0.114]) > 0.5  # perceived brightness
        for i, j in zip(*np.nonzero(np.isfinite(values)), strict=True):
            ax.text(
                j,
                i,
                _format_cell(float(values[i, j]), fmt),
                ha="center",
                va="center",
                fontsize=7,
                color="black" if light[i, j] else "white",
            )
    _save_png(fig, file)
