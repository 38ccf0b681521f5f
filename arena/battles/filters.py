"""Select the battles a leaderboard is computed on (category, language, dates, ...).

Filters are applied in a fixed order: ``exclude``, ``category``, ``language``,
``since``/``until``, ``anonymous_only``, then ``dedup_prompts`` (so the first battle of
a prompt is looked for among the battles that passed the row filters), then
``min_battles`` last (battle counts only make sense on the data that is finally rated).
A filter that leaves nothing raises :class:`UserError` naming that filter, so the user
learns which flag to relax rather than getting an empty leaderboard.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from arena.battles.table import Battles
from arena.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FilterSpec", "apply_filters", "parse_date"]


@dataclass(frozen=True)
class FilterSpec:
    """Which battles to keep; the defaults keep everything.

    Attributes
    ----------
    category:
        Keep battles whose category tags include this name (case-insensitive).
    language:
        Keep battles in this language (case-insensitive).
    since, until:
        Keep battles with ``since <= tstamp < until`` (epoch seconds, UTC); battles
        without a timestamp are dropped when either bound is set.
    anonymous_only:
        Keep only anonymous battles (model names hidden from the voter).
    exclude:
        Drop every battle involving one of these models.
    min_battles:
        Drop models with fewer battles than this (counting row multiplicities), then
        their battles; done once, so survivors may end a little below the threshold.
    dedup_prompts:
        Keep only the first battle of each prompt (compared after stripping and
        case-folding), as LMArena does against prompt flooding.
    """

    category: str | None = None
    language: str | None = None
    since: float | None = None
    until: float | None = None
    anonymous_only: bool = False
    exclude: tuple[str, ...] = ()
    min_battles: int = 0
    dedup_prompts: bool = False


def parse_date(text: str) -> float:
    """Parse a ``--since``/``--until`` value into epoch seconds.

    Parameters
    ----------
    text:
        ``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 date/time; a time without an offset
        is taken as UTC.

    Raises
    ------
    UserError
        When the text is not such a date.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(
            f"invalid date {text!r}; expected YYYY-MM-DD or an ISO date/time "
            "such as 2024-05-01T12:30:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _meta_column(battles: Battles, column: str, flag: str, source: str) -> pd.Series:
    """Return a metadata column, or raise naming the flag that needs it."""
    if column not in battles.meta.columns:
        present = ", ".join(map(str, battles.meta.columns)) or "none"
        raise UserError(
            f"{flag} needs a '{column}' column; {source} has none (metadata columns: {present})"
        )
    return battles.meta[column]


def _per_value(values: pd.Series, test: Callable[[Any], bool]) -> NDArray[np.bool_]:
    """Evaluate ``test`` once per distinct value of a column and spread it to the rows.

    Metadata columns hold few distinct values (languages, tag tuples), so this keeps
    Python-level work proportional to them rather than to the rows.
    """
    import pandas as pd

    codes, uniques = pd.factorize(values.to_numpy(dtype=object), sort=False)
    table = np.asarray([bool(test(u)) for u in uniques] + [bool(test(None))], dtype=bool)
    return table[codes]


def _has_tag(name: str) -> Callable[[Any], bool]:
    """Build a test of whether a cell's category tags include ``name`` (case-insensitive)."""
    wanted = name.strip().casefold()

    def test(tags: Any) -> bool:
        if isinstance(tags, str):
            tags = tags.split(";")
        if not isinstance(tags, tuple | list | np.ndarray):
            return False
        return any(isinstance(t, str) and t.strip().casefold() == wanted for t in tags)

    return test


def _is_text(name: str) -> Callable[[Any], bool]:
    """Build a test of whether a cell is the text ``name`` (case-insensitive, stripped)."""
    wanted = name.strip().casefold()
    return lambda value: isinstance(value, str) and value.strip().casefold() == wanted


def _exclude_mask(battles: Battles, names: tuple[str, ...]) -> NDArray[np.bool_]:
    """Keep-mask without the battles of ``names``; unknown names are an error."""
    index = {m: i for i, m in enumerate(battles.models)}
    for name in names:
        if name not in index:
            close = difflib.get_close_matches(name, battles.models, n=3, cutoff=0.6)
            hint = (
                f"did you mean {', '.join(map(repr, close))}?"
                if close
                else f"the input has {battles.n_models} models"
            )
            raise UserError(f"--exclude: unknown model {name!r}; {hint}")
    dropped = np.zeros(battles.n_models, bool)
    dropped[[index[n] for n in names]] = True
    return ~(dropped[battles.model_a] | dropped[battles.model_b])


def _time_mask(battles: Battles, spec: FilterSpec, source: str) -> NDArray[np.bool_]:
    """Keep-mask of battles with ``since <= tstamp < until``."""
    flag = "--since" if spec.since is not None else "--until"
    stamps = _meta_column(battles, "tstamp", flag, source).to_numpy(np.float64, na_value=np.nan)
    since = -math.inf if spec.since is None else spec.since
    until = math.inf if spec.until is None else spec.until
    with np.errstate(invalid="ignore"):
        return (stamps >= since) & (stamps < until)


def _dedup_mask(battles: Battles, source: str) -> NDArray[np.bool_]:
    """Keep-mask of the first battle of each prompt (stripped, case-folded).

    Battles without a prompt are all kept: there is nothing to compare.
    """
    import pandas as pd

    prompts = _meta_column(battles, "prompt", "--dedup-prompts", source)
    codes, uniques = pd.factorize(prompts.to_numpy(dtype=object), sort=False)
    normal = [u.strip().casefold() if isinstance(u, str) else "" for u in uniques]
    norm_codes, _ = pd.factorize(pd.Series([*normal, ""], dtype=object), sort=False)
    keys = np.asarray(norm_codes)[codes]  # code -1 (missing) picks the trailing ""
    empty: NDArray[np.bool_] = np.asarray([*(not n for n in normal), True], dtype=bool)[codes]
    first: NDArray[np.bool_] = ~pd.Series(keys).duplicated().to_numpy()
    return first | empty


def _min_battles_mask(battles: Battles, minimum: int) -> NDArray[np.bool_]:
    """Keep-mask of battles whose two models both have at least ``minimum`` battles."""
    enough = battles.battles_per_model() >= minimum
    return enough[battles.model_a] & enough[battles.model_b]


def _category_mask(battles: Battles, name: str, source: str) -> NDArray[np.bool_]:
    """Keep-mask of battles tagged with category ``name``."""
    return _per_value(_meta_column(battles, "category", "--category", source), _has_tag(name))


def _language_mask(battles: Battles, name: str, source: str) -> NDArray[np.bool_]:
    """Keep-mask of battles in language ``name``."""
    return _per_value(_meta_column(battles, "language", "--language", source), _is_text(name))


def _anonymous_mask(battles: Battles, source: str) -> NDArray[np.bool_]:
    """Keep-mask of anonymous battles (a missing flag counts as not anonymous)."""
    flags = _meta_column(battles, "anony", "--anonymous-only", source)
    return _per_value(flags, lambda v: isinstance(v, bool | np.bool_) and bool(v))


def _window(spec: FilterSpec) -> str:
    """Name the time filter for messages, e.g. ``--since 2024-01-01T00:00:00+00:00``."""
    return " ".join(
        f"{flag} {datetime.fromtimestamp(t, UTC).isoformat()}"
        for flag, t in (("--since", spec.since), ("--until", spec.until))
        if t is not None
    )


#: A filter: its name in messages and the function giving its keep-mask.
_Step = tuple[str, Callable[[Battles], NDArray[np.bool_]]]


def _steps(spec: FilterSpec, source: str) -> list[_Step]:
    """List the filters ``spec`` asks for, in the order they are applied."""
    steps: list[_Step] = []
    if spec.exclude:
        names = ", ".join(map(repr, spec.exclude))
        steps.append((f"--exclude {names}", partial(_exclude_mask, names=spec.exclude)))
    if spec.category is not None:
        mask = partial(_category_mask, name=spec.category, source=source)
        steps.append((f"--category {spec.category!r}", mask))
    if spec.language is not None:
        mask = partial(_language_mask, name=spec.language, source=source)
        steps.append((f"--language {spec.language!r}", mask))
    if spec.since is not None or spec.until is not None:
        steps.append((_window(spec), partial(_time_mask, spec=spec, source=source)))
    if spec.anonymous_only:
        steps.append(("--anonymous-only", partial(_anonymous_mask, source=source)))
    if spec.dedup_prompts:
        steps.append(("--dedup-prompts", partial(_dedup_mask, source=source)))
    if spec.min_battles > 1:
        mask = partial(_min_battles_mask, minimum=spec.min_battles)
        steps.append((f"--min-battles {spec.min_battles}", mask))
    return steps


def apply_filters(battles: Battles, spec: FilterSpec, *, source: str = "input") -> Battles:
    """Keep the battles that ``spec`` selects (see the module docstring for the order).

    Parameters
    ----------
    battles:
        The table to filter.
    spec:
        What to keep.
    source:
        What to call the data in messages (e.g. the file name).

    Raises
    ------
    UserError
        When a filter needs a metadata column the data lacks, names an unknown model,
        has an empty time window, or leaves no battles (the message names the filter).
    """
    if spec.since is not None and spec.until is not None and spec.since >= spec.until:
        raise UserError("--since must be earlier than --until")
    if spec.min_battles < 0:
        raise UserError(f"--min-battles must be >= 0, got {spec.min_battles}")
    for name, mask_of in _steps(spec, source):
        keep = mask_of(battles)
        if not keep.any():
            raise UserError(
                f"the filter {name} left no battles "
                f"({battles.n_battles} battles of {battles.n_models} models before it)"
            )
        if not keep.all():
            battles = battles.take(keep)
    return battles
