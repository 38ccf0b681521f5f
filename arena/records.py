"""Typed records passed between the ratings engine, the exporters and the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CI_KINDS", "LEADERBOARD_COLUMNS", "METHODS", "Leaderboard"]

#: Rating methods: Bradley–Terry, Davidson (ties), online Elo.
METHODS: tuple[str, ...] = ("bt", "davidson", "elo")
#: Interval kinds.
CI_KINDS: tuple[str, ...] = ("sandwich", "bootstrap", "none")

#: Columns every leaderboard table has, in this order (more may follow).
LEADERBOARD_COLUMNS: tuple[str, ...] = (
    "rank_ub",
    "model",
    "rating",
    "ci_lower",
    "ci_upper",
    "battles",
)


@dataclass(frozen=True)
class Leaderboard:
    """A computed leaderboard and everything needed to reproduce it.

    Attributes
    ----------
    columns:
        The table's columns: a :class:`pandas.DataFrame`, or (as
        :func:`arena.leaderboard.compute_leaderboard` builds it, so that a command
        writing CSV never imports pandas) a mapping of column name to equal-length numpy
        arrays. Read it through :attr:`table` (always a DataFrame) or :meth:`column`.
    table:
        (property) One row per model sorted by rating (descending); columns start with
        :data:`LEADERBOARD_COLUMNS`, then ``wins, losses, ties, ci_flag`` and, with style
        control, ``rating_plain, rank_plain, rank_change``. ``ci_lower``/``ci_upper``
        are NaN when no interval was asked for; ``ci_flag`` is empty unless the data
        cannot bound the model's rating (``arena.leaderboard.CI_FLAGS`` lists the values).
    method:
        ``"bt"``, ``"davidson"`` or ``"elo"``.
    params:
        JSON-serialisable parameters of the computation (scale, base, offset, anchor,
        CI kind, rounds, seed, confidence level, filters, tolerance, iterations, ...).
    n_battles, n_models:
        Size of the data after filtering.
    data_sha256:
        Content hash of the filtered battle table (:meth:`Battles.sha256`).
    inputs:
        ``{"path": ..., "sha256": ...}`` of each input file (empty for in-memory data).
    style_coefficients:
        With style control: one row per feature, columns ``feature, coefficient,
        ci_lower, ci_upper``; otherwise None.
    extras:
        Method-specific scalars (e.g. the Davidson tie parameter ``nu``).
    warnings:
        Human-readable warnings raised during the computation (also emitted through
        :mod:`warnings`).
    """

    columns: pd.DataFrame | Mapping[str, np.ndarray]
    method: str
    params: dict[str, Any]
    n_battles: int
    n_models: int
    data_sha256: str
    inputs: tuple[dict[str, str], ...] = ()
    style_coefficients: pd.DataFrame | None = None
    extras: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @cached_property
    def table(self) -> pd.DataFrame:
        """The table as a DataFrame (built from :attr:`columns` on first use)."""
        if isinstance(self.columns, Mapping):
            import pandas as pd

            return pd.DataFrame(dict(self.columns))
        return self.columns

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of the table's columns, in order."""
        return tuple(str(c) for c in self.columns)  # a DataFrame iterates over its columns

    def column(self, name: str) -> np.ndarray:
        """One column as a numpy array (no pandas needed when :attr:`columns` is a mapping).

        Raises
        ------
        KeyError
            When the table has no such column.
        """
        if isinstance(self.columns, Mapping):
            return np.asarray(self.columns[name])
        return self.columns[name].to_numpy()

    def metadata(self) -> dict[str, Any]:
        """Everything but the tables, as a JSON-serialisable dict (what exports embed)."""
        from arena import __version__

        return {
            "arena_version": __version__,
            "method": self.method,
            "params": self.params,
            "n_battles": self.n_battles,
            "n_models": self.n_models,
            "data_sha256": self.data_sha256,
            "inputs": list(self.inputs),
            "extras": self.extras,
            "warnings": list(self.warnings),
        }
