"""Conversations and style features of a battle log.

The message lists of ``conversation_a``/``conversation_b`` (checked: a hostile file may
nest them deeply or mistype them), and the style features taken from FastChat's
``conv_metadata``, from explicit ``style_*`` columns, or from the answer texts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from arena.battles.style import STYLE_FEATURES

if TYPE_CHECKING:
    import pandas as pd
from arena.battles.readers.columns import _first, _is_missing, _json_limit, _numbers, _show, _Source


# ---------------------------------------------------------------------------- conversations
def _content_text(content: Any) -> str:
    """Text of a message's content: a string, or a list of parts with ``text`` fields."""
    if isinstance(content, str):
        return content
    if isinstance(content, list | tuple | np.ndarray):
        parts = (p.get("text", "") if isinstance(p, Mapping) else p for p in content)
        return "\n".join(p for p in parts if isinstance(p, str))
    return "" if _is_missing(content) else str(content)


def _messages(value: Any, src: _Source, index: int, column: str) -> list[Mapping[str, Any]]:
    """One conversation cell as a list of ``{"role", "content"}`` messages."""
    if _is_missing(value):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise src.fail(
                f"conversation is not valid JSON ({exc.msg}); expected a list of "
                '{"role": ..., "content": ...} messages',
                index=index,
                column=column,
            ) from None
        except (RecursionError, ValueError) as exc:
            raise src.fail(
                f"conversation cannot be read ({_json_limit(exc)}); expected a list of "
                '{"role": ..., "content": ...} messages',
                index=index,
                column=column,
            ) from None
    if isinstance(value, list | tuple | np.ndarray) and all(
        isinstance(m, Mapping) and "role" in m and "content" in m for m in value
    ):
        return list(value)
    raise src.fail(
        'expected a list of {"role": ..., "content": ...} messages', index=index, column=column
    )


def _conversations(
    values: pd.Series, src: _Source, column: str
) -> tuple[list[str | None], list[str]]:
    """First user turn and joined assistant turns of every conversation in a column."""
    prompts: list[str | None] = []
    answers: list[str] = []
    for i, value in enumerate(values.array):
        messages = _messages(value, src, i, column)
        user = [_content_text(m["content"]) for m in messages if m["role"] == "user"]
        prompts.append(user[0] if user else None)
        answers.append(
            "\n\n".join(_content_text(m["content"]) for m in messages if m["role"] == "assistant")
        )
    return prompts, answers


def _metadata_side(meta: Any, side: str) -> list[float] | None:
    """Return one side's four style features from FastChat ``conv_metadata``, or None.

    Header/list/bold entries are dicts of counts per level in LMArena's data (summed) or
    plain numbers.
    """
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except (RecursionError, ValueError):  # JSONDecodeError is a ValueError
            return None
    if not isinstance(meta, Mapping):
        return None
    keys = (
        f"sum_assistant_{side}_tokens",
        f"header_count_{side}",
        f"list_count_{side}",
        f"bold_count_{side}",
    )
    out: list[float] = []
    for key in keys:
        value = meta.get(key)
        if isinstance(value, Mapping):
            value = sum(v for v in value.values() if isinstance(v, int | float) and v is not None)
        if not isinstance(value, int | float) or _is_missing(value):
            return None
        out.append(float(value))
    return out


def _metadata_style(values: pd.Series) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Style features from ``conv_metadata``, or None unless every row has them."""
    sides: list[list[list[float]]] = [[], []]
    for meta in values.array:
        for side, rows in zip("ab", sides, strict=True):
            feats = _metadata_side(meta, side)
            if feats is None:
                return None
            rows.append(feats)
    shape = (len(values), len(STYLE_FEATURES))
    return (
        np.asarray(sides[0], np.float64).reshape(shape),
        np.asarray(sides[1], np.float64).reshape(shape),
    )


def _explicit_style(
    frame: pd.DataFrame, src: _Source
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Style features from ``tokens_a, headers_a, ..., bold_b`` columns, if all are present."""
    sides = []
    for side in "ab":
        names = [f"{feature}_{side}" for feature in STYLE_FEATURES]
        if not all(name in frame.columns for name in names):
            return None
        block = []
        for name in names:
            numbers = _numbers(frame[name])
            with np.errstate(invalid="ignore"):
                bad = _first(~np.isfinite(numbers) | (numbers < 0))
            if bad is not None:
                raise src.fail(
                    f"style feature {_show(frame[name].iloc[bad])} is not a finite number >= 0",
                    index=bad,
                    column=name,
                )
            block.append(numbers)
        sides.append(np.column_stack(block))
    return sides[0], sides[1]
