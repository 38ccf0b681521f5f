"""Reports of a computed leaderboard: file exports and PNG plots.

Exports: CSV, JSON, Markdown, LaTeX, Parquet, each carrying the provenance metadata
(CSV: once, in a ``# arena-metadata`` first line; :func:`read_leaderboard_csv` reads it).
"""

from arena.report.exports import (
    EXPORT_FORMATS,
    TEXT_FORMATS,
    format_from_path,
    read_leaderboard_csv,
    read_leaderboard_metadata,
    render_bytes,
    render_leaderboard,
    write_atomic,
    write_leaderboard,
)
from arena.report.plots import plot_heatmap, plot_ratings

__all__ = [
    "EXPORT_FORMATS",
    "TEXT_FORMATS",
    "format_from_path",
    "plot_heatmap",
    "plot_ratings",
    "read_leaderboard_csv",
    "read_leaderboard_metadata",
    "render_bytes",
    "render_leaderboard",
    "write_atomic",
    "write_leaderboard",
]
