"""Battles: the typed battle table, readers for battle files, style features and filters.

Everything downstream (ratings, reports, the web app) works on :class:`Battles`; this
package is where user files become one, and where they are narrowed to the battles a
leaderboard should be computed on.
"""

from arena.battles.filters import FilterSpec, apply_filters, parse_date
from arena.battles.readers import (
    FORMATS,
    ColumnMap,
    detect_format,
    from_frame,
    input_fingerprint,
    read_battles,
)
from arena.battles.style import STYLE_FEATURES, features_for_texts, markdown_features
from arena.battles.table import META_COLUMNS, WINNER_LABELS, Battles, Outcome

__all__ = [
    "FORMATS",
    "META_COLUMNS",
    "STYLE_FEATURES",
    "WINNER_LABELS",
    "Battles",
    "ColumnMap",
    "FilterSpec",
    "Outcome",
    "apply_filters",
    "detect_format",
    "features_for_texts",
    "from_frame",
    "input_fingerprint",
    "markdown_features",
    "parse_date",
    "read_battles",
]
