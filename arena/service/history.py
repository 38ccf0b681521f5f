"""The Leaderboard page's history: places moved since the previous snapshot, a model over time.

The web app stores its public board as a snapshot on an admin click or a schedule
(:meth:`arena.service.ArenaService.store_snapshot`, source :data:`BOARD_SOURCE`); only
those snapshots are compared with the page's board, never ones that ``arena leaderboard
--snapshot`` made from other battles. Two views of them:

- *moves*: each model of the board shown now against the newest snapshot whose votes
  differ from it (so a snapshot of the very board shown is skipped): ``new`` when that
  snapshot did not rate the model, ``↑N`` / ``↓N`` when it moved N places, ``=`` when it
  kept its place (places as ``arena history`` counts them: the row order);
- *a model's history*: its rating, interval and place in each snapshot, oldest first.

Names follow the board's one public-name rule (:class:`PublicNames`): a preview model
appears under its codename until the admin reveals it, also where a snapshot holds its
store or display name. A snapshot keeps the name it was stored under, so points stored
while a now-revealed model was a preview stay under its codename (nothing records which
codename a model had).

Snapshots are read at most once per TTL (the board's), and each snapshot's rows once:
rows are never updated.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from arena.service.catalog import PublicNames
from arena.service.ttl import TTLCache
from arena.store import SessionFactory
from arena.store.catalog import list_models
from arena.store.schema import Model
from arena.store.snapshots import SnapshotSummary, get_snapshot, list_snapshots, model_history

__all__ = [
    "BOARD_SOURCE",
    "HISTORY_COLUMNS",
    "BoardHistory",
    "BoardMoves",
    "history_frame",
    "move_marker",
    "moves_against",
    "public_aliases",
]

#: The ``source`` of the snapshots the web app stores (the board the page shows).
BOARD_SOURCE = "the web app's live votes"
#: Columns of :meth:`BoardHistory.model_history`'s frame.
HISTORY_COLUMNS = ("snapshot", "stored", "rating", "ci_lower", "ci_upper", "place", "votes")
#: Snapshots whose rows are kept in memory (each is a few dozen rows).
ROWS_MEMO = 64


@dataclass(frozen=True)
class BoardMoves:
    """How the models of a board moved since a snapshot.

    Attributes
    ----------
    snapshot:
        Id of the snapshot compared with.
    stored:
        When it was stored (UTC).
    markers:
        Public name -> ``new``, ``↑N``, ``↓N`` or ``=`` (every model of the board).
    """

    snapshot: int
    stored: datetime
    markers: dict[str, str]

    def annotate(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` (a board's display table) with a ``Moved`` column after ``Model``."""
        at = list(table.columns).index("Model") + 1
        out = table.copy()
        out.insert(at, "Moved", [self.markers.get(str(m), "") for m in table["Model"]])
        return out


def public_aliases(models: Iterable[Model]) -> dict[str, str]:
    """Name found in a snapshot -> name to show now (the board's public-name rule).

    Store names map to :class:`PublicNames` labels; a preview's display name maps to its
    codename too, so a snapshot stored before a model became a preview does not name it.
    Names not listed (imported models, old codenames) are shown as they are.
    """
    rows = list(models)
    names = PublicNames.from_models(rows)
    aliases = dict(names.label)
    for m in rows:
        if m.codename and m.display_name not in aliases:
            aliases[m.display_name] = names.of(m.name)
    return aliases


def move_marker(now: int, before: int | None) -> str:
    """``new`` (no earlier place), ``↑N`` / ``↓N`` (places gained / lost) or ``=``."""
    if before is None:
        return "new"
    if now < before:
        return f"↑{before - now}"
    if now > before:
        return f"↓{now - before}"
    return "="


def moves_against(current: Sequence[str], previous: Sequence[str]) -> dict[str, str]:
    """Markers of the models ``current`` (best first) against ``previous`` (best first)."""
    before = {name: place for place, name in enumerate(previous, start=1)}
    return {name: move_marker(place, before.get(name)) for place, name in enumerate(current, 1)}


def history_frame(points: Sequence[tuple[SnapshotSummary, int, float, float | None,
                                         float | None, int]]) -> pd.DataFrame:
    """One row per point (:data:`HISTORY_COLUMNS`), oldest first.

    A missing bound (no interval, or an unbounded side) is drawn at the rating, so the
    band narrows to the line there instead of breaking.
    """
    rows = [
        {
            "snapshot": s.id,
            "stored": pd.Timestamp(s.created_at),
            "rating": rating,
            "ci_lower": rating if lower is None else lower,
            "ci_upper": rating if upper is None else upper,
            "place": place,
            "votes": votes,
        }
        for s, place, rating, lower, upper, votes in points
    ]
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    return frame.sort_values(["stored", "snapshot"], kind="stable").reset_index(drop=True)


class BoardHistory:
    """The web app's snapshots, cached (module docstring).

    Parameters
    ----------
    read_sessions:
        Read-only session factory of the vote store.
    ttl_s:
        Seconds the list of snapshots (and the public names) is reused.
    clock:
        Monotonic clock (tests).
    """

    def __init__(
        self,
        read_sessions: SessionFactory,
        ttl_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = read_sessions
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._state: TTLCache[None, tuple[tuple[SnapshotSummary, ...], dict[str, str]]] = (
            TTLCache(ttl_s, clock=clock)
        )
        self._rows: OrderedDict[int, tuple[str, ...]] = OrderedDict()

    def invalidate(self) -> None:
        """Read the snapshots again at the next call (a snapshot was just stored)."""
        self._state.invalidate()

    def _read_state(self) -> tuple[tuple[SnapshotSummary, ...], dict[str, str]]:
        with self._sessions() as session:
            snapshots = tuple(s for s in list_snapshots(session) if s.source == BOARD_SOURCE)
            aliases = public_aliases(list_models(session))
        return snapshots, aliases

    def _current(self) -> tuple[tuple[SnapshotSummary, ...], dict[str, str]]:
        return self._state.get(None, self._read_state)

    def snapshots(self) -> tuple[SnapshotSummary, ...]:
        """The web app's snapshots, oldest first (empty: the page shows no history)."""
        return self._current()[0]

    def _order(self, snapshot_id: int, aliases: dict[str, str]) -> tuple[str, ...]:
        with self._lock:
            stored = self._rows.get(snapshot_id)
        if stored is None:
            with self._sessions() as session:
                _, rows = get_snapshot(session, snapshot_id)
                stored = tuple(r.model for r in rows)
            with self._lock:
                self._rows[snapshot_id] = stored
                while len(self._rows) > ROWS_MEMO:
                    self._rows.popitem(last=False)
        return tuple(aliases.get(m, m) for m in stored)

    def moves(self, models: Sequence[str], data_sha256: str) -> BoardMoves | None:
        """Markers of ``models`` (public names, best first) since the previous snapshot.

        The previous snapshot is the newest one whose data hash is not ``data_sha256``
        (the hash of the board shown); None when there is none.
        """
        snapshots, aliases = self._current()
        previous = next((s for s in reversed(snapshots) if s.data_sha256 != data_sha256), None)
        if previous is None:
            return None
        try:
            order = self._order(previous.id, aliases)
        except KeyError:  # deleted meanwhile: compare again at the next refresh
            self.invalidate()
            return None
        return BoardMoves(previous.id, previous.created_at, moves_against(models, order))

    def models(self) -> tuple[str, ...]:
        """Public names rated by the newest snapshot, best first (the history's choices)."""
        snapshots, aliases = self._current()
        if not snapshots:
            return ()
        try:
            return self._order(snapshots[-1].id, aliases)
        except KeyError:
            self.invalidate()
            return ()

    def model_history(self, name: str) -> pd.DataFrame:
        """One public name's points over the web app's snapshots (:func:`history_frame`).

        Empty when no snapshot rates the model (or ``name`` is no public name: a store
        name of a preview model finds nothing under it).
        """
        snapshots, aliases = self._current()
        ours = {s.id for s in snapshots}
        stored_as = {name} | {stored for stored, shown in aliases.items() if shown == name}
        if name in aliases and aliases[name] != name:
            stored_as.discard(name)  # a name that stands for another model now: not this one
        points = []
        with self._sessions() as session:
            for stored in sorted(stored_as):
                for summary, row in model_history(session, stored):
                    if summary.id in ours:
                        points.append(
                            (summary, row.position, row.rating, row.ci_lower, row.ci_upper,
                             row.battles)
                        )
        return history_frame(points)
