"""Judge leaderboards of the web app: caching and display of stored judge battles.

``arena judge`` stores its battles beside the votes (:mod:`arena.store.judge`); the
leaderboard page can show a judge's ratings beside the human ones, with the Spearman
rank correlation of the two on their common models. The fit and the correlation are
:mod:`arena.judge`'s (:func:`~arena.judge.judge_leaderboard`,
:func:`~arena.judge.rank_correlation`, the same as ``arena judge``'s report); this module
only renames, caches and formats. Judge battles change only when a run is stored, and
are few (every pair of models on each prompt), so a judge's board is computed on demand
in the calling thread and kept for the leaderboard's TTL.

Every name is public (:class:`arena.service.catalog.PublicNames`): a preview model,
judge or contestant, appears under its codename.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from arena.battles import from_frame
from arena.errors import UserError
from arena.judge import RankAgreement, judge_leaderboard, rank_correlation
from arena.records import Leaderboard
from arena.service.catalog import PublicNames
from arena.service.leaderboard import BoardView, display_table
from arena.service.ttl import TTLCache
from arena.store import SessionFactory, list_models
from arena.store.judge import judge_battles_frame, list_judges

__all__ = [
    "JUDGE_DISPLAY_COLUMNS",
    "JudgeBoard",
    "JudgeLeaderboards",
    "RankAgreement",
    "build_judge_board",
    "rank_agreement",
]

#: Columns of :attr:`JudgeBoard.table`, what the leaderboard page shows.
JUDGE_DISPLAY_COLUMNS: tuple[str, ...] = ("Rank (UB)", "Model", "Score", "95% CI", "Battles")


@dataclass(frozen=True)
class JudgeBoard:
    """The leaderboard of one judge's battles, ready to show.

    Attributes
    ----------
    judge:
        The judge's public name.
    leaderboard:
        The full record with public model names; None when there is nothing to rate
        (see ``message``).
    table:
        The table to show, columns :data:`JUDGE_DISPLAY_COLUMNS`.
    n_battles:
        Judge battles counted.
    computed_at:
        When it was computed (seconds since the epoch).
    message:
        Why there is no leaderboard, else None.
    """

    judge: str
    leaderboard: Leaderboard | None
    table: pd.DataFrame
    n_battles: int
    computed_at: float
    message: str | None = None


def build_judge_board(frame: pd.DataFrame, judge: str, names: PublicNames) -> JudgeBoard:
    """Fit one judge's battles (store names in ``frame``) and package them with public names."""
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in JUDGE_DISPLAY_COLUMNS})
    public_judge = names.of(judge)
    if frame.empty:
        message = f"No battles of the judge {public_judge!r} are stored."
        return JudgeBoard(public_judge, None, empty, 0, time.time(), message)
    public = frame.assign(
        model_a=[names.of(m) for m in frame["model_a"]],
        model_b=[names.of(m) for m in frame["model_b"]],
        judge=public_judge,
    )
    battles = from_frame(public, source=f"judge battles of {public_judge}", style=False)
    try:
        lb = judge_leaderboard(battles, filters={"judge": public_judge})
    except UserError as error:
        return JudgeBoard(public_judge, None, empty, len(frame), time.time(), str(error))
    table = display_table(lb, count_label="Battles")
    return JudgeBoard(public_judge, lb, table, len(frame), time.time())


def rank_agreement(human: BoardView, judge: JudgeBoard) -> RankAgreement:
    """Spearman rank correlation of the human and judge ratings on their common models.

    :func:`arena.judge.rank_correlation` on the two boards' ratings; the models are in
    the human board's order (best first). No correlation (None) when either board has
    no leaderboard.
    """
    if human.leaderboard is None or judge.leaderboard is None:
        return RankAgreement(None, ())
    return rank_correlation(_ratings(human.leaderboard), _ratings(judge.leaderboard))


def _ratings(lb: Leaderboard) -> dict[str, float]:
    """Model -> rating of a leaderboard, in its (best first) order."""
    t = lb.table
    return dict(zip(t["model"].astype(str), t["rating"].astype(float), strict=True))


class JudgeLeaderboards:
    """Judge leaderboards of the store, each computed on demand and kept ``ttl_s`` seconds.

    Parameters
    ----------
    read_sessions:
        Read-only session factory of the vote store.
    ttl_s:
        Age after which the judges and a judge's board are read again.
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
        self._judges: TTLCache[None, dict[str, str]] = TTLCache(ttl_s, clock=clock)
        self._boards: TTLCache[str, JudgeBoard] = TTLCache(ttl_s, clock=clock)

    def _read_judge_names(self) -> dict[str, str]:
        with self._sessions() as session:
            names = PublicNames.from_models(list_models(session))
            return {names.of(j): j for j in list_judges(session)}

    def _judge_names(self) -> dict[str, str]:
        """Public name -> store name of every judge with stored battles."""
        return self._judges.get(None, self._read_judge_names)

    def judges(self) -> tuple[str, ...]:
        """Public names of the judges with stored battles (empty: none stored)."""
        return tuple(self._judge_names())

    def board(self, judge: str) -> JudgeBoard:
        """The leaderboard of ``judge`` (a public name from :meth:`judges`).

        Raises
        ------
        UserError
            No battles of that judge are stored.
        """
        store_name = self._judge_names().get(judge)
        if store_name is None:
            known = ", ".join(self.judges()) or "none"
            raise UserError(f"no battles of the judge {judge!r} are stored; judges: {known}")
        return self._boards.get(store_name, lambda: self._read_board(store_name))

    def _read_board(self, store_name: str) -> JudgeBoard:
        with self._sessions() as session:
            names = PublicNames.from_models(list_models(session))
            frame = judge_battles_frame(session, store_name)
        return build_judge_board(frame, store_name, names)

    def invalidate(self) -> None:
        """Names changed (an admin reveal): read everything again on the next view."""
        self._judges.invalidate()
        self._boards.invalidate()
