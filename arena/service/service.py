"""The voting service: everything the web app does, without the web page.

::

    service = ArenaService.open(database=None, models_file=None)   # models load meanwhile
    round_ = service.start_battle(voter, "Why is the sky blue?")
    for event in service.stream(round_, voter):     # both answers, side by side
        ...                                         # event.side, event.text
    round_ = event.round                            # ready: vote, follow up or regenerate
    round_ = service.vote(round_, voter, Choice.A)  # names revealed in round_.vote

The service is shared by every visitor of a server process and is thread-safe. It
never hands out a model name before the vote (see :mod:`arena.service.rounds`); the
store enforces one vote per battle; a model that fails marks its battle failed and the
service keeps serving the others.

:class:`ArenaService` is a small facade: it opens the store, loads the models and
wires the modules that do the work, each with one job:

- :mod:`arena.service.catalog`: the stored models, cached, and the one public-name rule;
- :mod:`arena.service.battles`: rounds (draw, stream, follow up, regenerate, stop, vote);
- :mod:`arena.service.boards`: the live, judge and history boards, and the snapshots;
- :mod:`arena.service.admin`: the admin gate and the model desk (changes, statistics,
  exports).

When the catalog changes (this replica's admin change or another's, within
:data:`CATALOG_TTL_S`), the identity-leak word list is rebuilt and the boards refresh.
"""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from arena.backends import Backend, ModelConfig, load_models
from arena.service._store import StoreAccess
from arena.service.admin import _KEEP, AdminModel, ModelAdmin, StoredFailures
from arena.service.battles import STOPPED_MESSAGE, Availability, BattleDesk, PublicModel
from arena.service.boards import Boards
from arena.service.catalog import CATALOG_TTL_S, Catalog, CatalogEntry, public_label
from arena.service.config import ServiceConfig
from arena.service.leaks import LeakDetector, leak_terms
from arena.service.pool import ModelPool, ModelState, model_spec
from arena.service.rounds import Choice, Round, StreamEvent, Tickets
from arena.store import Engine, VoteStats, open_engine, upsert_models

if TYPE_CHECKING:
    import pandas as pd

    from arena.campaign.standing import Standing
    from arena.service.history import BoardHistory, BoardMoves
    from arena.service.judges import JudgeBoard, JudgeLeaderboards, RankAgreement
    from arena.service.leaderboard import BoardView, LiveLeaderboard

__all__ = [
    "CATALOG_TTL_S",
    "STOPPED_MESSAGE",
    "AdminModel",
    "ArenaService",
    "Availability",
    "PublicModel",
    "public_label",
]


class ArenaService:
    """See the module docstring.

    Parameters
    ----------
    engine:
        Engine of a migrated vote database (:func:`arena.store.open_engine`).
    models:
        The models file's entries; the ``models`` table is made to match them
        (models no longer listed are deactivated, their votes kept).
    config:
        Limits and settings.
    backends:
        Ready-made backends by model name (tests); the others are created from
        ``models`` and loaded in the background.
    rng:
        Random source of the pair sampler (a system random source by default).
    """

    def __init__(
        self,
        engine: Engine,
        models: Sequence[ModelConfig],
        config: ServiceConfig | None = None,
        *,
        backends: dict[str, Backend] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config or ServiceConfig()
        self.engine = engine
        self._store = StoreAccess(engine)
        self._sessions = self._store.sessions
        self._read_sessions = self._store.read_sessions
        self._tickets = Tickets(self.config.secret or secrets.token_bytes(32))
        with self._sessions.begin() as session:
            upsert_models(session, [model_spec(c) for c in models], deactivate_missing=True)
        self.pool = ModelPool(models, backends=backends)
        self.catalog = Catalog(self._store.read, self._catalog_changed)
        self._detector_lock = threading.Lock()
        self._detector = self._build_detector(self.catalog.read_entries())
        self.boards = Boards(self.config, self._store, self.catalog.poll)
        self.battles = BattleDesk(
            self.config,
            self._store,
            self.pool,
            self.catalog,
            self._tickets,
            leak_detector=lambda: self.leak_detector,
            on_vote=self.boards.note_vote,
            rng=rng or random.SystemRandom(),
        )
        self._uncertainty = self.battles.uncertainty
        self.admin = ModelAdmin(self._store, self.pool, self.catalog)

    @classmethod
    def open(
        cls,
        database: str | None = None,
        models_file: str | Path | None = None,
        config: ServiceConfig | None = None,
        *,
        migrate: bool = False,
        backends: dict[str, Backend] | None = None,
    ) -> ArenaService:
        """Read the models file, open the database (migrating it first if asked), start.

        Raises
        ------
        arena.backends.ModelsFileError
            The models file is missing or invalid (nothing is stored then).
        arena.store.DatabaseUnavailable, arena.store.SchemaNotCurrent
            The database cannot be reached or is not migrated.
        """
        models = load_models(models_file)
        if migrate:
            from arena.store import database_url, upgrade

            upgrade(database_url(database))
        engine = open_engine(database)
        try:
            return cls(engine, models, config, backends=backends)
        except BaseException:
            engine.dispose()
            raise

    def close(self) -> None:
        """Stop background work, release the backends and the database connections."""
        self.battles.close()
        self.boards.close()
        self.pool.close()
        self.engine.dispose()

    # -- the catalog and the identity-leak word list -------------------------------

    def _catalog_changed(self, entries: Sequence[CatalogEntry]) -> None:
        """Apply a changed catalog (this replica's admin change or another's) everywhere.

        The identity-leak word list is rebuilt (a new codename or name counts at once)
        and the leaderboards and the history are refreshed (their public names: a
        preview never appears under its real name beyond one catalog TTL).
        """
        detector = self._build_detector(entries)
        with self._detector_lock:
            self._detector = detector
        self.boards.invalidate()

    def _build_detector(self, entries: Sequence[CatalogEntry]) -> LeakDetector:
        models: list[tuple[str, str | None, str | None, str | None]] = [
            (m.name, m.display_name, m.organization, m.codename) for m in entries
        ]
        models += [
            (c.name, c.display_name, c.organization, c.codename) for c in self.pool.configs.values()
        ]
        return LeakDetector(leak_terms(models, self.config.extra_leak_words))

    @property
    def leak_detector(self) -> LeakDetector:
        """The identity-leak word list in force."""
        with self._detector_lock:
            return self._detector

    def model_states(self) -> list[ModelState]:
        """Loading state of every model of the models file (admin only: names)."""
        return self.pool.states()

    # -- battles (arena.service.battles) -------------------------------------------

    def availability(self) -> Availability:
        """See :meth:`BattleDesk.availability`."""
        return self.battles.availability()

    def side_by_side_models(self) -> list[PublicModel]:
        """See :meth:`BattleDesk.side_by_side_models`."""
        return self.battles.side_by_side_models()

    def identify(self, voter: str, client: str) -> None:
        """See :meth:`BattleDesk.identify`."""
        self.battles.identify(voter, client)

    def start_battle(self, voter: str, prompt: str) -> Round:
        """See :meth:`BattleDesk.start_battle`."""
        return self.battles.start_battle(voter, prompt)

    def start_side_by_side(self, voter: str, model_a: str, model_b: str, prompt: str) -> Round:
        """See :meth:`BattleDesk.start_side_by_side`."""
        return self.battles.start_side_by_side(voter, model_a, model_b, prompt)

    def follow_up(self, round_: Round, voter: str, prompt: str) -> Round:
        """See :meth:`BattleDesk.follow_up`."""
        return self.battles.follow_up(round_, voter, prompt)

    def regenerate(self, round_: Round, voter: str) -> Round:
        """See :meth:`BattleDesk.regenerate`."""
        return self.battles.regenerate(round_, voter)

    def stream(self, round_: Round, voter: str) -> Iterator[StreamEvent]:
        """See :meth:`BattleDesk.stream`."""
        return self.battles.stream(round_, voter)

    def stop(self, round_: Round, voter: str) -> None:
        """See :meth:`BattleDesk.stop`."""
        self.battles.stop(round_, voter)

    def generate(self, round_: Round, voter: str) -> Round:
        """See :meth:`BattleDesk.generate`."""
        return self.battles.generate(round_, voter)

    def vote(self, round_: Round, voter: str, choice: Choice | str) -> Round:
        """See :meth:`BattleDesk.vote`."""
        return self.battles.vote(round_, voter, choice)

    # -- boards (arena.service.boards) ---------------------------------------------

    @property
    def leaderboard(self) -> LiveLeaderboard:
        """See :attr:`Boards.leaderboard`."""
        return self.boards.leaderboard

    def board(
        self,
        category: str | None = None,
        *,
        style_control: bool = False,
        wait: float = 0.0,
        source: str = "live",
    ) -> BoardView | None:
        """See :meth:`Boards.board`."""
        return self.boards.board(category, style_control=style_control, wait=wait, source=source)

    @property
    def judge_leaderboards(self) -> JudgeLeaderboards:
        """See :attr:`Boards.judge_leaderboards`."""
        return self.boards.judge_leaderboards

    def judges(self) -> tuple[str, ...]:
        """See :meth:`Boards.judges`."""
        return self.boards.judges()

    def judge_board(self, judge: str) -> JudgeBoard:
        """See :meth:`Boards.judge_board`."""
        return self.boards.judge_board(judge)

    def judge_agreement(self, human: BoardView, judge: JudgeBoard) -> RankAgreement:
        """See :meth:`Boards.judge_agreement`."""
        return self.boards.judge_agreement(human, judge)

    @property
    def board_history(self) -> BoardHistory:
        """See :attr:`Boards.board_history`."""
        return self.boards.board_history

    def board_moves(self, view: BoardView) -> BoardMoves | None:
        """See :meth:`Boards.board_moves`."""
        return self.boards.board_moves(view)

    def history_models(self) -> tuple[str, ...]:
        """See :meth:`Boards.history_models`."""
        return self.boards.history_models()

    def model_history(self, name: str) -> pd.DataFrame:
        """See :meth:`Boards.model_history`."""
        return self.boards.model_history(name)

    def store_snapshot(self, label: str | None = None) -> int:
        """See :meth:`Boards.store_snapshot`."""
        return self.boards.store_snapshot(label)

    def scheduled_snapshot(self, *, slot: int | None = None) -> int | None:
        """See :meth:`Boards.scheduled_snapshot`."""
        return self.boards.scheduled_snapshot(slot=slot)

    # -- admin (arena.service.admin) -----------------------------------------------

    @property
    def login_failures(self) -> StoredFailures:
        """See :attr:`ModelAdmin.login_failures`."""
        return self.admin.login_failures

    def admin_models(self) -> list[AdminModel]:
        """See :meth:`ModelAdmin.admin_models`."""
        return self.admin.admin_models()

    def update_model(
        self,
        name: str,
        *,
        weight: float | None = None,
        active: bool | None = None,
        codename: str | None = _KEEP,
    ) -> None:
        """See :meth:`ModelAdmin.update_model`."""
        self.admin.update_model(name, weight=weight, active=active, codename=codename)

    def reveal(self, name: str) -> None:
        """See :meth:`ModelAdmin.reveal`."""
        self.admin.reveal(name)

    def model_standing(self, name: str, *, rounds: int = 100) -> Standing:
        """See :meth:`ModelAdmin.model_standing`."""
        return self.admin.model_standing(name, rounds=rounds)

    def vote_stats(self) -> VoteStats:
        """See :meth:`ModelAdmin.vote_stats`."""
        return self.admin.vote_stats()

    def export_votes(self, fmt: str) -> bytes:
        """See :meth:`ModelAdmin.export_votes`."""
        return self.admin.export_votes(fmt)

