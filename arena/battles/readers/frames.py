"""From a DataFrame to :class:`~arena.battles.table.Battles`.

The required and optional columns, pair-count tables (one row per pair with win, loss
and tie counts), the metadata kept beside the battles, and the style features.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from arena.battles.style import STYLE_FEATURES, features_for_texts
from arena.battles.table import Battles
from arena.outcomes import PAIR_COUNT_COLUMNS, Outcome

if TYPE_CHECKING:
    import pandas as pd
from arena.battles.readers.columns import (
    _FRAME_ROWS,
    ColumnMap,
    _check_outcome_map,
    _column,
    _counts,
    _factorize_cells,
    _flags,
    _lmarena_tags,
    _model_codes,
    _required_codes,
    _Source,
    _tags,
    _text,
    _timestamps,
    _weights,
)
from arena.battles.readers.conversations import _conversations, _explicit_style, _metadata_style

# ---------------------------------------------------------------------------- frames


def _found(frame: pd.DataFrame) -> str:
    """List the columns of a frame, for 'missing column' messages."""
    names = [str(c) for c in frame.columns]
    shown = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
    return shown or "none"


def _require(frame: pd.DataFrame, names: Sequence[str], src: _Source, what: str) -> None:
    """Raise unless every column in ``names`` is present."""
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise src.fail(
            f"missing required column(s) {', '.join(map(repr, missing))}; {what} "
            f"(columns found: {_found(frame)})",
            column=missing[0],
        )


def _is_pair_counts(frame: pd.DataFrame, winner: str) -> bool:
    """Whether a frame holds pair counts rather than single battles.

    Either count column without a winner column is enough, so that a file missing the
    other one is told which column it lacks rather than that it has no winner.
    """
    return winner not in frame.columns and bool({"wins_a", "wins_b"} & set(frame.columns))


def _pair_count_battles(frame: pd.DataFrame, src: _Source, cols: ColumnMap) -> Battles:
    """One row per (pair, outcome) with its count; zero counts dropped, unordered.

    ``wins_a`` and ``wins_b`` are required; ``tie`` and ``tie_bothbad`` default to 0.
    """
    if len(frame) == 0:
        raise src.fail("no data rows; expected one row per model pair")
    _require(
        frame,
        (cols.model_a, cols.model_b, "wins_a", "wins_b"),
        src,
        f"a pair-count file needs {cols.model_a}, {cols.model_b}, wins_a, wins_b "
        "and optionally tie, tie_bothbad",
    )
    a_col, b_col = _column(frame, cols.model_a), _column(frame, cols.model_b)
    assert a_col is not None and b_col is not None
    names, model_a, model_b = _model_codes(
        _factorize_cells(a_col, src, cols.model_a)[:2],
        _factorize_cells(b_col, src, cols.model_b)[:2],
        src,
        (cols.model_a, cols.model_b),
    )
    n = len(frame)
    counts = np.zeros((n, len(Outcome)), np.int64)
    for outcome, spellings in enumerate(PAIR_COUNT_COLUMNS):
        name = next((s for s in spellings if s in frame.columns), None)
        column = None if name is None else _column(frame, name)
        if name is not None and column is not None:
            counts[:, outcome] = _counts(column, src, name)
    flat = counts.ravel()
    keep = flat > 0
    if not keep.any():
        raise src.fail("every count is 0; expected at least one battle")
    rows = np.repeat(np.arange(n), len(Outcome))[keep]
    outcomes = np.tile(np.arange(len(Outcome), dtype=np.int8), n)[keep]
    return Battles.from_codes(
        names, model_a[rows], model_b[rows], outcomes, count=flat[keep], ordered=False
    ).compact()


def _style_columns(
    frame: pd.DataFrame, src: _Source, cols: ColumnMap, *, need_prompts: bool, want_style: bool
) -> tuple[tuple[NDArray[np.float64], NDArray[np.float64]] | None, pd.Series | None]:
    """Return per-side style features and prompts from conversations (each may be None).

    Style sources, first usable wins: explicit ``tokens_a ... bold_b`` columns, FastChat
    ``conv_metadata`` (when every row has it), ``answer_a``/``answer_b`` texts,
    ``conversation_a``/``conversation_b``. Conversations are only parsed when they are
    needed, for prompts (``need_prompts``) or style, since that loops over rows. With
    ``want_style`` false no features are computed (None).
    """
    import pandas as pd

    style = _explicit_style(frame, src) if want_style else None
    metadata = _column(frame, "conv_metadata")
    if want_style and style is None and metadata is not None:
        style = _metadata_style(metadata)
    answer_a, answer_b = _column(frame, cols.answer_a), _column(frame, cols.answer_b)
    if want_style and style is None and answer_a is not None and answer_b is not None:
        style = (features_for_texts(answer_a.array), features_for_texts(answer_b.array))
    conv_a, conv_b = _column(frame, "conversation_a"), _column(frame, "conversation_b")
    style_from_conversations = (
        want_style and style is None and conv_a is not None and conv_b is not None
    )
    if conv_a is None or not (need_prompts or style_from_conversations):
        return style, None
    first_turns, answers_a = _conversations(conv_a, src, "conversation_a")
    if style_from_conversations and conv_b is not None:
        answers_b = _conversations(conv_b, src, "conversation_b")[1]
        style = (features_for_texts(answers_a), features_for_texts(answers_b))
    return style, pd.Series(first_turns, dtype="str")


def _meta(frame: pd.DataFrame, src: _Source, cols: ColumnMap) -> dict[str, Any]:
    """Convert the metadata columns present in the frame to their canonical types."""
    import pandas as pd

    meta: dict[str, Any] = {}
    converters: dict[str, Callable[[pd.Series, _Source, str], Any]] = {
        "tstamp": _timestamps,
        "anony": _flags,
        "category": _tags,
    }
    for field in ("tstamp", "anony", "language", "category", "voter", "prompt"):
        name = getattr(cols, field)
        column = _column(frame, name)
        if column is None and field == "voter":
            name, column = "judge", _column(frame, "judge")
        if column is None:
            continue
        convert = converters.get(field)
        meta[field] = _text(column) if convert is None else convert(column, src, name)
    tag_dicts = _column(frame, "category_tag")
    if "category" not in meta and tag_dicts is not None:
        code = _column(frame, "is_code")
        flags = [None] * len(frame) if code is None else list(code.array)
        meta["category"] = pd.Series(
            [_lmarena_tags(v, c) for v, c in zip(tag_dicts.array, flags, strict=True)], dtype=object
        )
    return meta


def _battles(
    frame: pd.DataFrame,
    src: _Source,
    columns: ColumnMap | None,
    outcome_map: Mapping[str, str] | None,
    style: bool = True,
) -> Battles:
    """Convert a frame of single battles (or of pair counts) to :class:`Battles`."""
    import pandas as pd

    cols = columns or ColumnMap()
    _check_outcome_map(outcome_map)
    if _is_pair_counts(frame, cols.winner):
        return _pair_count_battles(frame, src, cols)
    if len(frame) == 0:
        raise src.fail("no data rows; expected at least one battle")
    required = (cols.model_a, cols.model_b, cols.winner)
    _require(frame, required, src, f"a battle file needs {', '.join(required)}")
    names, model_a, model_b, outcome, unused = _required_codes(frame, cols, outcome_map, src)

    count_col, weight_col = _column(frame, cols.count), _column(frame, cols.weight)
    count = None if count_col is None else _counts(count_col, src, cols.count)
    weight = None if weight_col is None else _weights(weight_col, src, cols.weight)
    meta = _meta(frame, src, cols)
    features, prompts = _style_columns(
        frame, src, cols, need_prompts="prompt" not in meta, want_style=style
    )
    if prompts is not None:
        meta["prompt"] = prompts
    n = len(frame)
    battles = Battles.from_codes(
        names,
        model_a,
        model_b,
        outcome,
        count=count,
        weight=weight,
        meta=pd.DataFrame(meta, index=pd.RangeIndex(n)) if meta else None,
        style_a=None if features is None else features[0],
        style_b=None if features is None else features[1],
        style_names=STYLE_FEATURES if features is not None else (),
        ordered=count is None or bool((count == 1).all()),
    )
    if count is not None and not (count > 0).all():
        if not (count > 0).any():
            raise src.fail("every count is 0; expected at least one battle", column=cols.count)
        return battles.take(count > 0)
    return battles.compact() if unused else battles


def from_frame(
    df: pd.DataFrame,
    *,
    source: str = "<DataFrame>",
    columns: ColumnMap | None = None,
    outcome_map: Mapping[str, str] | None = None,
    style: bool = True,
) -> Battles:
    """Convert a DataFrame of battles to a validated :class:`Battles` table.

    Parameters
    ----------
    df:
        One battle per row with ``model_a``, ``model_b``, ``winner`` (labels
        ``model_a | model_b | tie | tie (bothbad)``, FastChat's ``tie(bothbad)`` too),
        and optionally ``weight``, ``count``, ``tstamp`` (epoch seconds or ISO date/time),
        ``anony``, ``language``, ``category`` (string, ';'-separated string or list),
        ``voter`` (or ``judge``), ``prompt``, answers ``answer_a``/``answer_b`` or FastChat
        ``conversation_a``/``conversation_b`` and ``conv_metadata``, or explicit style
        columns ``tokens_a, headers_a, list_items_a, bold_a`` and their ``_b`` twins.
        A frame with ``wins_a``/``wins_b`` instead of ``winner`` is read as pair counts.
    source:
        What to call the data in error messages (a file name when read from a file).
    columns:
        Which of ``df``'s columns hold each field, when they are not the canonical names.
    outcome_map:
        Raw ``winner`` values to canonical labels, e.g. ``{"left": "model_a",
        "right": "model_b", "tie": "tie"}``; values not in the map may still be
        canonical labels.
    style:
        Compute the style features (False skips them when the fit will not use them).

    Returns
    -------
    Battles
        Rows with count 0 are dropped; ``ordered`` is False when counts aggregate
        several battles.

    Raises
    ------
    BattleFileError
        Naming the source, the row (counted from 1 in frame order) or column, and what
        was expected.
    UserError
        When ``outcome_map`` sends a value to something other than a canonical label.
    """
    return _battles(df, _Source(source, _FRAME_ROWS), columns, outcome_map, style)
