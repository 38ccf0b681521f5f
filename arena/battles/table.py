"""The battle table: one typed, column-oriented record every part of arena passes around.

A battle is (model_a, model_b, outcome). Rows may also carry a multiplicity (``count``,
so aggregated pair counts and single battles share one representation), a per-battle
``weight``, optional per-row metadata used by filters (timestamp, language, category
tags, anonymous flag, voter, prompt) and optional per-side style features.

Models are stored as integer codes into ``models`` so the maths never touches strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from arena.outcomes import WINNER_LABELS, Outcome  # re-exported: the table's outcome codes

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "META_COLUMNS",
    "WINNER_LABELS",
    "Battles",
    "Outcome",
]

#: Optional per-row metadata columns understood by the filters.
#: ``tstamp`` is float seconds since the epoch, ``anony`` a bool, ``category`` a tuple of
#: tag strings, the others strings.
META_COLUMNS: tuple[str, ...] = (
    "tstamp",
    "anony",
    "language",
    "category",
    "voter",
    "prompt",
)


def _int_codes(values: Any) -> NDArray[np.int32]:
    return np.ascontiguousarray(values, dtype=np.int32)


class NoMeta:
    """The metadata of a table that has no metadata columns, without importing pandas.

    Most battle files carry only ``model_a, model_b, winner`` (and perhaps style
    columns); a leaderboard of those should not pay pandas' 0.35 s import for an empty
    frame. This stands in for that empty :class:`pandas.DataFrame` in the reads made of
    :attr:`Battles.meta` (``columns``, ``len``, ``in``, ``iloc[...]``, ``reset_index``,
    ``empty``, ``shape``); anything else turns it into the real empty frame of the same
    length first, so code written for a DataFrame keeps working.
    """

    __slots__ = ("_rows",)

    def __init__(self, rows: int) -> None:
        self._rows = int(rows)

    @property
    def columns(self) -> tuple[str, ...]:
        """No columns."""
        return ()

    @property
    def empty(self) -> bool:
        """Always True, as for a DataFrame without columns."""
        return True

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, 0)``."""
        return (self._rows, 0)

    @property
    def iloc(self) -> _NoMetaRows:
        """Row selection: the selected rows, still without columns."""
        return _NoMetaRows(self._rows)

    def __len__(self) -> int:
        return self._rows

    def __contains__(self, name: object) -> bool:
        return False

    def __getitem__(self, name: object) -> Any:
        raise KeyError(name)

    def reset_index(self, drop: bool = False) -> NoMeta:
        """The same (there is no index to reset)."""
        return self

    def frame(self) -> pd.DataFrame:
        """The real empty DataFrame with this many rows."""
        import pandas as pd

        return pd.DataFrame(index=pd.RangeIndex(self._rows))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.frame(), name)

    def __repr__(self) -> str:
        return f"NoMeta({self._rows} rows)"


class _NoMetaRows:
    """``NoMeta(n).iloc[index]``: the number of rows ``index`` selects."""

    __slots__ = ("_rows",)

    def __init__(self, rows: int) -> None:
        self._rows = rows

    def __getitem__(self, index: Any) -> NoMeta:
        return NoMeta(len(np.arange(self._rows)[index]))


def _meta_frame(meta: Any) -> pd.DataFrame:
    """A real DataFrame for ``meta`` (a DataFrame or :class:`NoMeta`)."""
    return meta.frame() if isinstance(meta, NoMeta) else meta


def _no_meta() -> pd.DataFrame:
    return cast("pd.DataFrame", NoMeta(0))


@dataclass(frozen=True, eq=False)
class Battles:
    """A validated table of battles.

    Attributes
    ----------
    models:
        Model names; ``model_a``/``model_b`` index into it. Every listed model appears in
        at least one row (see :meth:`compact`).
    model_a, model_b:
        ``int32`` codes of the models shown on side A and side B.
    outcome:
        ``int8`` :class:`Outcome` codes.
    count:
        ``int64`` multiplicity of each row (1 for a single battle; pair-count files give
        one row per pair and outcome). Bootstrap resamples battles, i.e. units of count.
    weight:
        ``float64`` per-battle weight (1.0 unless the user gave weights).
    meta:
        Per-row metadata (subset of :data:`META_COLUMNS`), same length, may have no column.
    style_a, style_b:
        ``(n, k)`` raw style features of each side (e.g. answer length, header count), or
        ``None`` when the input carries neither answers nor style columns.
    style_names:
        Names of the ``k`` style features.
    ordered:
        True when row order is meaningful (single battles in vote or timestamp order),
        False for aggregated counts, where online Elo is undefined.
    """

    models: tuple[str, ...]
    model_a: NDArray[np.int32]
    model_b: NDArray[np.int32]
    outcome: NDArray[np.int8]
    count: NDArray[np.int64]
    weight: NDArray[np.float64]
    meta: pd.DataFrame = field(default_factory=_no_meta)
    style_a: NDArray[np.float64] | None = None
    style_b: NDArray[np.float64] | None = None
    style_names: tuple[str, ...] = ()
    ordered: bool = True

    def __post_init__(self) -> None:
        n = len(self.model_a)
        for name in ("model_b", "outcome", "count", "weight"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"Battles.{name} has {len(getattr(self, name))} rows, expected {n}"
                )
        if isinstance(self.meta, NoMeta) and len(self.meta) != n:
            object.__setattr__(self, "meta", NoMeta(n))  # no columns: just follow the rows
        if len(self.meta.columns) and len(self.meta) != n:
            raise ValueError(f"Battles.meta has {len(self.meta)} rows, expected {n}")
        for side in (self.style_a, self.style_b):
            if side is not None and side.shape != (n, len(self.style_names)):
                raise ValueError(
                    f"style features have shape {side.shape}, "
                    f"expected ({n}, {len(self.style_names)})"
                )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_codes(
        cls,
        models: Sequence[str],
        model_a: Any,
        model_b: Any,
        outcome: Any,
        *,
        count: Any | None = None,
        weight: Any | None = None,
        meta: pd.DataFrame | None = None,
        style_a: Any | None = None,
        style_b: Any | None = None,
        style_names: Sequence[str] = (),
        ordered: bool = True,
    ) -> Battles:
        """Build a table from integer codes (no validation of names beyond shapes)."""
        a = _int_codes(model_a)
        n = len(a)
        return cls(
            models=tuple(str(m) for m in models),
            model_a=a,
            model_b=_int_codes(model_b),
            outcome=np.ascontiguousarray(outcome, dtype=np.int8),
            count=np.ones(n, np.int64) if count is None else np.asarray(count, np.int64),
            weight=np.ones(n, np.float64) if weight is None else np.asarray(weight, np.float64),
            meta=cast("pd.DataFrame", NoMeta(n)) if meta is None else meta.reset_index(drop=True),
            style_a=None if style_a is None else np.asarray(style_a, np.float64).reshape(n, -1),
            style_b=None if style_b is None else np.asarray(style_b, np.float64).reshape(n, -1),
            style_names=tuple(style_names),
            ordered=ordered,
        )

    @classmethod
    def from_names(
        cls,
        model_a: Any,
        model_b: Any,
        outcome: Any,
        **kwargs: Any,
    ) -> Battles:
        """Build a table from model-name columns and :class:`Outcome` codes.

        Names are factorised together so both sides share one code space.
        """
        import pandas as pd

        a_codes, a_names = pd.factorize(pd.Series(model_a), sort=False)
        b_codes, b_names = pd.factorize(pd.Series(model_b), sort=False)
        if (a_codes < 0).any() or (b_codes < 0).any():
            raise ValueError("model names must not be missing")
        names = pd.Index(a_names).append(pd.Index(b_names)).unique()
        remap_a = names.get_indexer(a_names)
        remap_b = names.get_indexer(b_names)
        return cls.from_codes(
            [str(x) for x in names],
            remap_a[a_codes],
            remap_b[b_codes],
            outcome,
            **kwargs,
        ).compact()

    # ------------------------------------------------------------------ basic properties
    def __len__(self) -> int:
        return len(self.model_a)

    @property
    def n_models(self) -> int:
        """Number of models."""
        return len(self.models)

    @property
    def n_battles(self) -> int:
        """Number of battles (sum of row multiplicities)."""
        return int(self.count.sum())

    @property
    def has_style(self) -> bool:
        """Whether per-side style features are present."""
        return self.style_a is not None and self.style_b is not None and len(self.style_names) > 0

    def battles_per_model(self) -> NDArray[np.int64]:
        """Number of battles each model took part in."""
        k = self.n_models
        return (
            np.bincount(self.model_a, weights=self.count, minlength=k)
            + np.bincount(self.model_b, weights=self.count, minlength=k)
        ).astype(np.int64)

    # ------------------------------------------------------------------ transformations
    def take(self, index: NDArray[Any]) -> Battles:
        """Rows selected by a boolean mask or integer index, models compacted."""
        idx = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index)
        sub = replace(
            self,
            model_a=self.model_a[idx],
            model_b=self.model_b[idx],
            outcome=self.outcome[idx],
            count=self.count[idx],
            weight=self.weight[idx],
            meta=self.meta.iloc[idx].reset_index(drop=True),
            style_a=None if self.style_a is None else self.style_a[idx],
            style_b=None if self.style_b is None else self.style_b[idx],
        )
        return sub.compact()

    def compact(self) -> Battles:
        """Drop models that appear in no row and renumber codes (order of names kept)."""
        used = np.zeros(self.n_models, bool)
        used[self.model_a] = True
        used[self.model_b] = True
        if used.all():
            return self
        remap = np.cumsum(used, dtype=np.int64) - 1
        return replace(
            self,
            models=tuple(m for m, u in zip(self.models, used, strict=True) if u),
            model_a=remap[self.model_a].astype(np.int32),
            model_b=remap[self.model_b].astype(np.int32),
        )

    @staticmethod
    def concat(parts: Sequence[Battles]) -> Battles:
        """Stack tables; style features are kept only when every part has the same ones."""
        if not parts:
            raise ValueError("no battle tables to concatenate")
        if len(parts) == 1:
            return parts[0]
        index: dict[str, int] = {}
        for p in parts:
            for m in p.models:
                index.setdefault(m, len(index))
        names = list(index)
        a, b = [], []
        for p in parts:
            remap = np.asarray([index[m] for m in p.models], dtype=np.int64)
            a.append(remap[p.model_a])
            b.append(remap[p.model_b])
        same_style = all(p.has_style for p in parts) and len({p.style_names for p in parts}) == 1
        return Battles.from_codes(
            [str(x) for x in names],
            np.concatenate(a),
            np.concatenate(b),
            np.concatenate([p.outcome for p in parts]),
            count=np.concatenate([p.count for p in parts]),
            weight=np.concatenate([p.weight for p in parts]),
            meta=_concat_meta([p.meta for p in parts]),
            style_a=np.concatenate([p.style_a for p in parts]) if same_style else None,
            style_b=np.concatenate([p.style_b for p in parts]) if same_style else None,
            style_names=parts[0].style_names if same_style else (),
            ordered=all(p.ordered for p in parts),
        )

    # ------------------------------------------------------------------ identity
    def sha256(self, *, style: bool = True) -> str:
        """Content hash of the battles (names, sides, outcomes, counts, weights, order).

        The style features are included when present and ``style`` is true; a fit that
        does not use them passes False, so the hash covers exactly the data it used.
        """
        h = hashlib.sha256()
        h.update("\x1f".join(self.models).encode())
        for arr in (self.model_a, self.model_b, self.outcome, self.count, self.weight):
            h.update(np.ascontiguousarray(arr).tobytes())
        if style and self.has_style:
            h.update("\x1f".join(self.style_names).encode())
            h.update(np.ascontiguousarray(self.style_a).tobytes())
            h.update(np.ascontiguousarray(self.style_b).tobytes())
        return h.hexdigest()

    def to_frame(self) -> pd.DataFrame:
        """The table in FastChat layout: ``model_a, model_b, winner`` plus count, weight, meta."""
        import pandas as pd

        names = np.asarray(self.models, dtype=object)
        frame = pd.DataFrame(
            {
                "model_a": names[self.model_a],
                "model_b": names[self.model_b],
                "winner": np.asarray(WINNER_LABELS, dtype=object)[self.outcome],
                "count": self.count,
                "weight": self.weight,
            }
        )
        for col in self.meta.columns:
            frame[col] = self.meta[col].to_numpy()
        return frame


def _concat_meta(metas: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Stack metadata frames; no pandas when none of them has a column."""
    if all(isinstance(m, NoMeta) for m in metas):
        return cast("pd.DataFrame", NoMeta(sum(len(m) for m in metas)))
    import pandas as pd

    return pd.concat([_meta_frame(m) for m in metas], ignore_index=True)
