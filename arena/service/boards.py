"""The boards behind the Leaderboard page: the live board, the judge boards, the history.

Each is cached and created on first use (:class:`~arena.service.leaderboard.
LiveLeaderboard`, :class:`~arena.service.judges.JudgeLeaderboards`,
:class:`~arena.service.history.BoardHistory`); this module holds them for the service,
refreshes them when the model catalog changes (public names) and stores the snapshots
(on an admin click or a schedule). Names follow the catalog within its TTL: every view
first polls it, so another replica's reveal or new codename starts a refresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from arena.errors import UserError
from arena.service._store import StoreAccess
from arena.service.config import ServiceConfig
from arena.store import database_faults

if TYPE_CHECKING:
    import pandas as pd

    from arena.service.history import BoardHistory, BoardMoves
    from arena.service.judges import JudgeBoard, JudgeLeaderboards, RankAgreement
    from arena.service.leaderboard import BoardView, LiveLeaderboard

__all__ = ["Boards"]

log = logging.getLogger(__name__)


class Boards:
    """The service's boards (module docstring); thread-safe.

    Parameters
    ----------
    config:
        The TTLs and the snapshot schedule (``snapshot_every_s``: a background thread
        stores the board at each slot boundary).
    store:
        The vote store.
    poll_catalog:
        Reads the model catalog if its TTL ran out (a change calls :meth:`invalidate`).
    """

    def __init__(
        self, config: ServiceConfig, store: StoreAccess, poll_catalog: Callable[[], None]
    ) -> None:
        self.config = config
        self._store = store
        self._read_sessions = store.read_sessions
        self._poll_catalog = poll_catalog
        self._board_lock = threading.Lock()
        self._board: LiveLeaderboard | None = None
        self._judge_boards: JudgeLeaderboards | None = None
        self._history: BoardHistory | None = None
        self._stopping = threading.Event()
        if config.snapshot_every_s is not None:
            threading.Thread(
                target=self._snapshot_schedule,
                args=(config.snapshot_every_s,),
                name="leaderboard-snapshots",
                daemon=True,
            ).start()

    def invalidate(self) -> None:
        """Public names changed: refresh every board that exists."""
        if self._board is not None:
            self._board.invalidate()
        if self._judge_boards is not None:
            self._judge_boards.invalidate()
        if self._history is not None:
            self._history.invalidate()

    def note_vote(self) -> None:
        """A vote was recorded: a live board showing "No votes yet" is stale now."""
        if self._board is not None:
            self._board.note_vote()

    def close(self) -> None:
        """Stop the snapshot schedule and the live board's refreshes."""
        if self._board is not None:
            self._board.close()
        self._stopping.set()

    @property
    def leaderboard(self) -> LiveLeaderboard:
        """The cached live leaderboard (computing starts in the background on first use)."""
        with self._board_lock:
            if self._board is None:
                from arena.service.leaderboard import LiveLeaderboard

                self._board = LiveLeaderboard(self._read_sessions, self.config.leaderboard_ttl_s)
            return self._board

    def board(
        self,
        category: str | None = None,
        *,
        style_control: bool = False,
        wait: float = 0.0,
        source: str = "live",
    ) -> BoardView | None:
        """The public leaderboard (None while it is first computed, after ``wait`` s).

        ``source``: ``live`` votes, ``imported`` battles (``arena db import``) or ``all``.
        Names follow the catalog within :data:`~arena.service.catalog.CATALOG_TTL_S`
        (another replica's reveal or new codename starts a refresh); votes within the
        leaderboard TTL.
        """
        self._poll_catalog()
        return self.leaderboard.board(
            category, style_control=style_control, wait=wait, source=source
        )

    @property
    def judge_leaderboards(self) -> JudgeLeaderboards:
        """The cached leaderboards of the stored ``arena eval judge`` battles."""
        with self._board_lock:
            if self._judge_boards is None:
                from arena.service.judges import JudgeLeaderboards

                self._judge_boards = JudgeLeaderboards(
                    self._read_sessions, self.config.leaderboard_ttl_s
                )
            return self._judge_boards

    def judges(self) -> tuple[str, ...]:
        """Public names of the judges with stored battles (empty: the page shows none)."""
        self._poll_catalog()
        return self.judge_leaderboards.judges()

    def judge_board(self, judge: str) -> JudgeBoard:
        """The leaderboard of one judge's battles (a public name from :meth:`judges`)."""
        return self.judge_leaderboards.board(judge)

    def judge_agreement(self, human: BoardView, judge: JudgeBoard) -> RankAgreement:
        """Spearman rank correlation of a human and a judge leaderboard on common models."""
        from arena.service.judges import rank_agreement

        return rank_agreement(human, judge)

    @property
    def board_history(self) -> BoardHistory:
        """The web app's stored leaderboard snapshots, cached like the board."""
        with self._board_lock:
            if self._history is None:
                from arena.service.history import BoardHistory

                self._history = BoardHistory(self._read_sessions, self.config.leaderboard_ttl_s)
            return self._history

    def board_moves(self, view: BoardView) -> BoardMoves | None:
        """``new`` / ``↑N`` / ``↓N`` / ``=`` per model of ``view`` since the previous snapshot.

        Only for the board the snapshots hold (live votes, all categories, no style
        control); None for other views, before the first snapshot or with no votes.
        """
        if (
            view.leaderboard is None
            or view.category is not None
            or view.style_control
            or view.source != "live"
        ):
            return None
        with database_faults():
            return self.board_history.moves(
                list(view.leaderboard.table["model"]), view.leaderboard.data_sha256
            )

    def history_models(self) -> tuple[str, ...]:
        """Public names of the newest snapshot's models, best first (empty: no snapshot)."""
        self._poll_catalog()
        with database_faults():
            return self.board_history.models()

    def model_history(self, name: str) -> pd.DataFrame:
        """A model's rating, interval and place over the snapshots (public ``name``).

        Columns :data:`arena.service.history.HISTORY_COLUMNS`, oldest first; empty when
        no snapshot rates it.
        """
        with database_faults():
            return self.board_history.model_history(name)

    def store_snapshot(self, label: str | None = None) -> int:
        """Store the public leaderboard (all votes) as a snapshot; returns its id.

        The table is the one the Leaderboard page shows (public names), computed afresh
        from the votes, with its provenance (data hash, method, parameters); ``arena
        history`` lists it.

        Raises
        ------
        UserError
            There is no leaderboard yet (no votes, or its first computation is running).
        """
        from arena.store.snapshots import save_snapshot

        self.leaderboard.refresh()  # the votes as they are now, not the cached board
        view = self.board()
        if view is None or view.leaderboard is None:
            raise UserError(
                (view.message if view is not None else None) or "there is no leaderboard yet"
            )
        from arena.service.history import BOARD_SOURCE

        with self._store.write() as session:
            snapshot_id = save_snapshot(
                session, view.leaderboard, source=BOARD_SOURCE, label=label
            )
        self.board_history.invalidate()
        return snapshot_id

    def _snapshot_schedule(self, every_s: float) -> None:
        """Store a snapshot at each slot boundary of period ``every_s`` unless nothing changed.

        The ticks fall on wall-clock multiples of ``every_s`` (:func:`~arena.store.
        snapshots.next_slot`), the same instants on every replica, and each slot is
        stored once in the database whichever replica comes first.
        """
        from arena.store.snapshots import next_slot

        while True:
            begins, slot = next_slot(time.time(), every_s)
            if self._stopping.wait(max(0.0, begins - time.time())):
                return
            try:
                self.scheduled_snapshot(slot=slot)
            except UserError:  # no leaderboard yet
                continue
            except Exception:  # keep serving; try again at the next tick
                log.exception("storing the scheduled leaderboard snapshot failed")

    def scheduled_snapshot(self, *, slot: int | None = None) -> int | None:
        """Store the public leaderboard unless the newest snapshot has the same data.

        ``slot`` is the schedule slot (the Unix second its period began) the snapshot
        stands for: a slot is stored once, by whichever server replica on the database
        comes first (a unique index; :func:`arena.store.snapshots.save_scheduled_snapshot`).
        Returns the new snapshot's id, or None when nothing changed since the last one or
        the slot is already stored.
        """
        from arena.service.history import BOARD_SOURCE
        from arena.store.snapshots import save_scheduled_snapshot

        self.leaderboard.refresh()
        view = self.board()
        if view is None or view.leaderboard is None:
            raise UserError(
                (view.message if view is not None else None) or "there is no leaderboard yet"
            )
        with self._store.write() as session:
            snapshot_id = save_scheduled_snapshot(
                session, view.leaderboard, source=BOARD_SOURCE, slot=slot
            )
        if snapshot_id is not None:
            self.board_history.invalidate()
        return snapshot_id
