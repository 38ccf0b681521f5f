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
service keeps serving the others. Only whole answers are stored and voted: answers are
produced behind the page under first-token and idle deadlines and answer caps
(:mod:`arena.service.generation`); a side that fails, misses a deadline or ends
truncated fails the battle, and :meth:`ArenaService.stop` ends both sides early (the
battle then takes a vote only if both answers were already complete).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import logging
import random
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.backends import (
    Backend,
    BackendTimeout,
    BackendUnavailable,
    Message,
    ModelConfig,
    load_models,
)
from arena.errors import UserError
from arena.outcomes import WINNER_CODES
from arena.service.admin import StoredFailures
from arena.service.catalog import CATALOG_TTL_S, Catalog, CatalogEntry, public_label
from arena.service.categories import categorize
from arena.service.config import ServiceConfig
from arena.service.errors import (
    GenerationFailed,
    NoModelsAvailable,
    RoundClosed,
    ServiceError,
)
from arena.service.generation import PairJob, PairOutcome
from arena.service.leaks import LeakDetector, leak_terms
from arena.service.limits import SharedRateLimiter, check_prompt, check_turns, clean_text
from arena.service.pool import ModelPool, ModelState, model_spec
from arena.service.rounds import Choice, Round, Side, StreamEvent, Tickets, VoteResult
from arena.service.sampling import (
    PAIR_SAMPLING_KEY,
    Candidate,
    PairDraw,
    PairUncertainty,
    UncertaintyCache,
    draw_pair,
)
from arena.store import (
    AlreadyVoted,
    BattleFailed,
    BattleNotReady,
    BattleStatus,
    Engine,
    InvalidTransition,
    Session,
    StoreError,
    UnknownBattle,
    UnknownModel,
    VoteError,
    VoteStats,
    add_turn,
    create_battle,
    database_faults,
    get_battle,
    list_models,
    make_sessionmaker,
    mark_failed,
    open_engine,
    record_vote,
    set_answers,
    start_generation,
    upsert_models,
    vote_stats,
)
from arena.store import update_model as store_update_model

if TYPE_CHECKING:
    import pandas as pd

    from arena.campaign.standing import Standing
    from arena.service.history import BoardHistory, BoardMoves
    from arena.service.judges import JudgeBoard, JudgeLeaderboards, RankAgreement
    from arena.service.leaderboard import BoardView, LiveLeaderboard

__all__ = [
    "CATALOG_TTL_S",
    "AdminModel",
    "ArenaService",
    "Availability",
    "PublicModel",
    "public_label",
]

log = logging.getLogger(__name__)

_KEEP: Any = object()


#: Visitors whose client address this process remembers (for the per-address limit).
CLIENT_MEMO = 100_000
#: Battles whose two model names this process remembers (saves reading them back).
BATTLE_MEMO = 10_000


@dataclass(frozen=True)
class PublicModel:
    """A model a visitor may pick in side-by-side mode (never a preview)."""

    name: str
    label: str
    organization: str | None


@dataclass(frozen=True)
class Availability:
    """How many models can answer now, without naming them (for the arena page)."""

    ready: int
    loading: int
    #: Active models whose backend could not be made or loaded (the admin page says why).
    failed: int = 0

    @property
    def usable(self) -> int:
        """Models that are ready or loading."""
        return self.ready + self.loading


@dataclass(frozen=True)
class AdminModel:
    """Everything the admin page shows about a model."""

    name: str
    display_name: str
    organization: str | None
    codename: str | None
    active: bool
    weight: float
    state: str
    error: str | None


def _visitor_failure(error: BaseException | None) -> str:
    """Why a round failed, for the visitor: never which side (that would hint at the model)."""
    if isinstance(error, BackendTimeout):
        what = "One of the models took too long to answer"
    elif isinstance(error, BackendUnavailable):
        what = "One of the models is temporarily unavailable"
    else:
        what = "One of the models could not give a whole answer"
    return f"{what}. This round is not counted: start a new round."


#: What a stopped round says, when one of its answers was not complete.
STOPPED_MESSAGE = (
    "You stopped the answers before both were complete, so this round takes no vote. "
    "Regenerate, or start a new round."
)
#: The stored error of a battle stopped before both answers were complete.
STOPPED_ERROR = "stopped by the visitor before both answers were complete"
#: The stored error of a battle replaced by Regenerate (it can never be voted then).
REPLACED_ERROR = "replaced by a regenerated round"
#: Finished generation jobs kept for watchers that re-attach (a page rerun).
JOB_MEMO = 1000
#: Fewest seconds between two updates a watcher gets (whatever the backend's pace).
WATCH_INTERVAL_S = 0.05
#: Seconds without news after which a watcher gets a ``waiting`` event (the page shows
#: that the answers are still awaited, and gets a moment to handle a click such as Stop).
HEARTBEAT_S = 1.0


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
        self._sessions = make_sessionmaker(engine)
        self._read_sessions = make_sessionmaker(engine, read_only=True)
        self._rng = rng or random.SystemRandom()
        self._tickets = Tickets(self.config.secret or secrets.token_bytes(32))
        self._limiter = (
            SharedRateLimiter(self._sessions, "message", self.config.rate_window_s)
            if self.config.rate_limit
            else None
        )
        self._clients_lock = threading.Lock()
        self._clients: OrderedDict[str, str] = OrderedDict()  # voter token -> client address
        with self._sessions.begin() as session:
            upsert_models(session, [model_spec(c) for c in models], deactivate_missing=True)
        self.pool = ModelPool(models, backends=backends)
        self.catalog = Catalog(self._read, self._catalog_changed)
        self._memo_lock = threading.Lock()
        self._memo: OrderedDict[int, tuple[str, str]] = OrderedDict()
        self._detector_lock = threading.Lock()
        self._detector = self._build_detector()
        self._board_lock = threading.Lock()
        self._board: LiveLeaderboard | None = None
        self._judge_boards: JudgeLeaderboards | None = None
        self._history: BoardHistory | None = None
        self._uncertainty = UncertaintyCache(self._fit_uncertainty, self.config.adaptive_refresh_s)
        self._stopping = threading.Event()
        if self.config.snapshot_every_s is not None:
            threading.Thread(
                target=self._snapshot_schedule,
                args=(self.config.snapshot_every_s,),
                name="leaderboard-snapshots",
                daemon=True,
            ).start()
        self._jobs_lock = threading.Lock()
        self._jobs: OrderedDict[tuple[int, int], PairJob[StreamEvent]] = OrderedDict()

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
        with self._jobs_lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop()
        deadline = time.monotonic() + 2.0  # let stopped jobs record their outcome
        for job in jobs:
            job.join(max(0.0, deadline - time.monotonic()))
        if self._board is not None:
            self._board.close()
        self._uncertainty.close()
        self._stopping.set()
        self.pool.close()
        self.engine.dispose()

    # -- sessions ----------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Session]:
        # A database fault (file deleted, read-only, disk full, busy) becomes one clear
        # StoreError, logged; the transaction is rolled back, so nothing half-written.
        with database_faults(), self._sessions.begin() as session:
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        # Closing (not rolling back) ends the transaction and keeps loaded rows readable.
        with database_faults(), self._read_sessions() as session:
            yield session

    # -- models ------------------------------------------------------------------------

    def _catalog_changed(self, entries: Sequence[CatalogEntry]) -> None:
        """Apply a changed catalog (this replica's admin change or another's) everywhere.

        The identity-leak word list is rebuilt (a new codename or name counts at once)
        and the leaderboards and the history are refreshed (their public names: a
        preview never appears under its real name beyond one catalog TTL).
        """
        detector = self._build_detector(entries)
        with self._detector_lock:
            self._detector = detector
        if self._board is not None:
            self._board.invalidate()
        if self._judge_boards is not None:
            self._judge_boards.invalidate()
        if self._history is not None:
            self._history.invalidate()

    def _remember(self, battle_id: int, names: tuple[str, str]) -> None:
        with self._memo_lock:
            self._memo[battle_id] = names
            while len(self._memo) > BATTLE_MEMO:
                self._memo.popitem(last=False)

    def _remembered(self, battle_id: int) -> tuple[str, str] | None:
        with self._memo_lock:
            return self._memo.get(battle_id)

    def _build_detector(self, entries: Sequence[CatalogEntry] | None = None) -> LeakDetector:
        if entries is None:
            entries = self.catalog.read_entries()
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

    def availability(self) -> Availability:
        """How many active models are ready, loading and failed (no names)."""
        names = [m.name for m in self.catalog.drawable()]
        states = [self.pool.state(n).state for n in names]
        return Availability(*(states.count(s) for s in ("ready", "loading", "failed")))

    def side_by_side_models(self) -> list[PublicModel]:
        """Active, non-preview models this server can run, for the side-by-side picker."""
        rows = self.catalog.drawable()
        usable = self.pool.usable(m.name for m in rows)
        names = self.catalog.public_names()
        return [
            PublicModel(m.name, names.of(m.name), m.organization)
            for m in rows
            if m.name in usable and m.codename is None
        ]

    def model_states(self) -> list[ModelState]:
        """Loading state of every model of the models file (admin only: names)."""
        return self.pool.states()

    # -- battles -----------------------------------------------------------------------

    def identify(self, voter: str, client: str) -> None:
        """Say which client address a voter token comes from (the web app, per page view).

        Message limits then count per session and per address (in the database, so a
        new tab or another server replica does not start afresh); a token never
        identified counts per session only. ``client`` is a key from
        :func:`arena.service.limits.client_address`.
        """
        with self._clients_lock:
            self._clients[voter] = client
            self._clients.move_to_end(voter)
            while len(self._clients) > CLIENT_MEMO:
                self._clients.popitem(last=False)

    def _rate(self, voter: str) -> None:
        if self._limiter is None:
            return
        with self._clients_lock:
            client = self._clients.get(voter)
        keys: list[tuple[str, str, int | None]] = [("session", voter, self.config.rate_limit)]
        if client is not None:
            keys.append(("client", client, self.config.client_rate_limit))
        self._limiter.hit(keys)

    def _new_battle(
        self,
        session: Session,
        voter: str,
        model_a: str,
        model_b: str,
        turns: Sequence[str],
        *,
        anonymous: bool,
        category: str | None,
        pair_sampling: dict[str, Any] | None = None,
    ) -> int:
        params: dict[str, Any] = dataclasses.asdict(self.config.sampling)
        if pair_sampling is not None:  # how the pair was drawn (inverse-probability weights)
            params[PAIR_SAMPLING_KEY] = pair_sampling
        try:
            battle = create_battle(
                session,
                model_a,
                model_b,
                list(turns),
                category=category,
                params=params,
                anonymous=anonymous,
                voter=voter,
            )
            start_generation(session, battle.id)
        except VoteError as error:  # a bad voter token
            raise ServiceError(f"cannot start a round: {error}") from None
        except StoreError as error:  # e.g. a model removed meanwhile: never show its name
            log.warning("starting a battle failed: %s", error)
            raise NoModelsAvailable(
                "no battle can be started right now: the models changed; please try again"
            ) from None
        return battle.id

    def _draw_pair(self, candidates: Sequence[Candidate]) -> PairDraw:
        """Draw with the configured policy (:mod:`arena.service.sampling`)."""
        policy = self.config.pair_sampling
        if policy != "adaptive":
            return draw_pair(candidates, self._rng, policy)
        return draw_pair(
            candidates,
            self._rng,
            policy,
            self._uncertainty.get(),  # cached; refitted behind at most every refresh_s
            self.config.adaptive_settings(),
        )

    def _fit_uncertainty(self) -> PairUncertainty | None:
        """The adaptive policy's fit: the leaderboard's votes (anonymous, no leaks)."""
        import numpy as np

        from arena.store import vote_counts

        with self._read() as session:
            counts = vote_counts(session)
        names = sorted({m.name for m in self.catalog.drawable()})
        counted = counts[counts["anony"] & ~counts["identity_leak"]]
        models = sorted(set(names) | set(counted["model_a"]) | set(counted["model_b"]))
        if len(models) < 2:
            return None
        index = {m: i for i, m in enumerate(models)}
        table = np.zeros((len(models), len(models), 4))
        for a, b, winner, n in zip(
            counted["model_a"], counted["model_b"], counted["winner"], counted["count"], strict=True
        ):
            i, j, o = index[a], index[b], WINNER_CODES[winner]
            if i > j:  # store the pair as (lower index, higher index)
                i, j, o = j, i, o.swapped()
            table[i, j, o] += n
        return PairUncertainty.from_counts(models, table, int(counted["count"].sum()))

    def start_battle(self, voter: str, prompt: str) -> Round:
        """Start an anonymous battle of two sampled models on ``prompt``.

        Raises
        ------
        EmptyPrompt, PromptTooLong, RateLimited, NoModelsAvailable
        """
        text = check_prompt(prompt, self.config.max_prompt_chars)
        self._rate(voter)
        rows = self.catalog.drawable()
        usable = self.pool.usable(m.name for m in rows)
        candidates = [
            Candidate(m.name, m.weight, m.codename is not None) for m in rows if m.name in usable
        ]
        draw = self._draw_pair(candidates)
        model_a, model_b = draw.names
        with self._write() as session:
            battle_id = self._new_battle(
                session,
                voter,
                model_a,
                model_b,
                [text],
                anonymous=True,
                category=categorize(text),
                pair_sampling=draw.record(),
            )
        self._remember(battle_id, (model_a, model_b))
        return Round(self._tickets.issue(battle_id, voter), anonymous=True, turns=(text,))

    def start_side_by_side(self, voter: str, model_a: str, model_b: str, prompt: str) -> Round:
        """Start a battle of two models the visitor chose (its vote is not anonymous).

        Raises
        ------
        EmptyPrompt, PromptTooLong, RateLimited, ServiceError
            Also when a model is not offered in side-by-side mode, or both are the same.
        """
        text = check_prompt(prompt, self.config.max_prompt_chars)
        offered = {m.name: m for m in self.side_by_side_models()}
        if model_a == model_b:
            raise ServiceError("choose two different models")
        if model_a not in offered or model_b not in offered:
            raise ServiceError("choose both models from the list of available models")
        self._rate(voter)
        with self._write() as session:
            battle_id = self._new_battle(
                session, voter, model_a, model_b, [text], anonymous=False, category=categorize(text)
            )
        self._remember(battle_id, (model_a, model_b))
        labels = (offered[model_a].label, offered[model_b].label)
        return Round(
            self._tickets.issue(battle_id, voter), anonymous=False, turns=(text,), labels=labels
        )

    def follow_up(self, round_: Round, voter: str, prompt: str) -> Round:
        """Add a follow-up message to a ready round; stream the new answers next.

        Raises
        ------
        UnknownRound, RoundClosed, TooManyTurns, EmptyPrompt, PromptTooLong, RateLimited
        """
        battle_id = self._tickets.battle_id(round_.ticket, voter)
        if round_.status != "ready":
            raise RoundClosed(
                "this round is over: start a new round"
                if round_.status in ("voted", "failed")
                else "wait until both answers are complete"
            )
        check_turns(len(round_.turns), self.config.max_turns)
        text = check_prompt(prompt, self.config.max_prompt_chars)
        self._rate(voter)
        try:
            with self._write() as session:
                add_turn(session, battle_id, text)
        except UnknownBattle:
            raise
        except InvalidTransition:
            raise RoundClosed("this round is over: start a new round") from None
        return replace(round_, turns=(*round_.turns, text), status="generating", message=None)

    def regenerate(self, round_: Round, voter: str) -> Round:
        """Answer the last message afresh with the same two models, as a new battle.

        The old battle keeps its answers and gets no vote. Allowed on a ready round and
        on a failed one (a retry).

        Raises
        ------
        UnknownRound, RoundClosed, RateLimited, UnknownBattle
        """
        battle_id = self._tickets.battle_id(round_.ticket, voter)
        if round_.status == "voted":
            raise RoundClosed("this round is over: start a new round")
        self._rate(voter)
        with self._write() as session:
            old = get_battle(session, battle_id)  # the stored status decides, not the caller's
            if old.status == BattleStatus.VOTED:
                raise RoundClosed("this round is over: start a new round")
            if old.status not in (BattleStatus.READY, BattleStatus.FAILED):
                raise RoundClosed("wait until both answers are complete")
            names = (old.model_a.name, old.model_b.name)
            if old.status == BattleStatus.READY:  # its stale buttons can never vote now
                mark_failed(session, battle_id, REPLACED_ERROR)
            new_id = self._new_battle(
                session,
                voter,
                *names,
                round_.turns,
                anonymous=old.anonymous,
                category=old.conversation.category,
                pair_sampling=(old.params or {}).get(PAIR_SAMPLING_KEY),  # the same draw
            )
        self._remember(new_id, names)
        previous = len(round_.turns) - 1
        return replace(
            round_,
            ticket=self._tickets.issue(new_id, voter),
            answers_a=round_.answers_a[:previous],
            answers_b=round_.answers_b[:previous],
            status="generating",
            message=None,
        )

    def stream(self, round_: Round, voter: str) -> Iterator[StreamEvent]:
        """Stream both answers to the round's last message; the last event has the new round.

        The answers are produced behind the page (a :class:`~arena.service.generation.
        PairJob` per battle, under the configured deadlines and caps): the checks run now
        (errors raise here), the first call starts the answers, and the returned iterator
        watches them (at most one update per :data:`WATCH_INTERVAL_S`, whatever pace the
        backends keep, and a ``waiting`` event after each :data:`HEARTBEAT_S` without
        news). Closing the iterator (the page reran, the visitor left) stops
        nothing: a later call with the same round watches the same answers, or gets
        their result at once. The last event is ``done`` (both answers complete and
        stored, round ready), ``failed`` (battle marked failed; the message names
        neither a model nor a side) or ``stopped`` (see :meth:`stop`).

        Raises
        ------
        UnknownRound, RoundClosed, GenerationFailed, UnknownBattle
        """
        battle_id = self._tickets.battle_id(round_.ticket, voter)
        if round_.status != "generating":
            raise RoundClosed("there is nothing to answer in this round")
        key = (battle_id, len(round_.turns))  # one job per answered turn
        with self._jobs_lock:
            job = self._jobs.get(key)
        if job is not None:
            return self._watch(job, round_)
        names = self._remembered(battle_id)
        with self._read() as session:
            battle = get_battle(session, battle_id)
            status = battle.status
            stored = (tuple(battle.answers_a), tuple(battle.answers_b))
            if names is None:  # started by another process, or before a restart
                names = (battle.model_a.name, battle.model_b.name)
                self._remember(battle_id, names)
        if status == BattleStatus.FAILED:
            raise GenerationFailed(
                "this round ended before both answers were complete: start a new round"
            )
        if status == BattleStatus.READY and len(stored[0]) == len(round_.turns):
            ready = replace(round_, answers_a=stored[0], answers_b=stored[1], status="ready")
            return iter([StreamEvent("done", None, "", ready)])  # answered, job forgotten
        if status != BattleStatus.GENERATING:
            raise RoundClosed("there is nothing to answer in this round")
        turns = round_.turns  # set_answers checks the count against the stored turns
        previous = len(turns) - 1
        if len(round_.answers_a) != previous or len(round_.answers_b) != previous:
            raise RoundClosed("this round's answers are out of step: start a new round")
        backends = (self.pool.backend(names[0]), self.pool.backend(names[1]))
        for side, backend in zip("ab", backends, strict=True):
            if backend is None:
                self._fail(battle_id, f"side {side.upper()}: the model is not available here")
                raise GenerationFailed(_visitor_failure(None))
        conversations = tuple(
            self._messages(turns, answers) for answers in (round_.answers_a, round_.answers_b)
        )
        assert backends[0] is not None and backends[1] is not None
        with self._jobs_lock:
            job = self._jobs.get(key)  # another call may have started it meanwhile
            if job is None:
                job = PairJob(
                    (backends[0], backends[1]),
                    (conversations[0], conversations[1]),
                    self.config.sampling,
                    self.config.deadlines,
                    functools.partial(self._finish, round_, battle_id, names),
                    names=names,
                    clean=clean_text,
                )
                self._jobs[key] = job
                self._forget_finished_jobs()
                job.start()
        return self._watch(job, round_)

    def stop(self, round_: Round, voter: str) -> None:
        """Stop both answers of a generating round now (the visitor's Stop button).

        The round's stream then ends ``done`` if both answers were already complete,
        else ``stopped``: the battle is stored as failed and never takes a vote (only
        whole answers are voted), though the page shows what had come. Nothing happens
        for a round that is not answering in this process.

        Raises
        ------
        UnknownRound
        """
        battle_id = self._tickets.battle_id(round_.ticket, voter)
        with self._jobs_lock:
            job = self._jobs.get((battle_id, len(round_.turns)))
        if job is not None:
            job.stop()

    def _forget_finished_jobs(self) -> None:
        """Drop the oldest finished jobs beyond :data:`JOB_MEMO` (call with the lock held)."""
        excess = len(self._jobs) - JOB_MEMO
        for key in [k for k, j in self._jobs.items() if not j.running][: max(0, excess)]:
            del self._jobs[key]

    def _watch(self, job: PairJob[StreamEvent], round_: Round) -> Iterator[StreamEvent]:
        version = -1
        shown, complete, loading = ["", ""], [False, False], False
        while True:
            previous = version
            snap = job.wait(version, timeout=HEARTBEAT_S)
            version = snap.version
            if version == previous:  # nothing new: say the answers are still awaited
                yield StreamEvent("waiting")
                continue
            if snap.loading != loading:
                yield StreamEvent("loading" if snap.loading else "loaded")
            loading = snap.loading
            sides: tuple[Side, Side] = ("a", "b")
            for i, side in enumerate(sides):
                if snap.texts[i] != shown[i] or snap.complete[i] != complete[i]:
                    shown[i], complete[i] = snap.texts[i], snap.complete[i]
                    yield StreamEvent("text", side, shown[i], complete=complete[i])
            if snap.ended:
                if snap.result is not None:
                    yield snap.result
                else:  # _finish raised (a bug): say so, never hang
                    message = "This round could not be completed. Start a new round."
                    failed = replace(round_, status="failed", message=message)
                    yield StreamEvent("failed", None, message, failed)
                return
            time.sleep(WATCH_INTERVAL_S)

    @staticmethod
    def _messages(turns: Sequence[str], answers: Sequence[str]) -> list[Message]:
        messages = []
        for i, turn in enumerate(turns):
            messages.append(Message("user", turn))
            if i < len(answers):
                messages.append(Message("assistant", answers[i]))
        return messages

    def _finish(
        self, round_: Round, battle_id: int, names: tuple[str, str], outcome: PairOutcome
    ) -> StreamEvent:
        """Store a job's outcome: both answers (ready), or the battle failed (no vote)."""
        if outcome.kind == "done":
            answers_a = (*round_.answers_a, outcome.texts[0])
            answers_b = (*round_.answers_b, outcome.texts[1])
            try:
                with self._write() as session:
                    set_answers(
                        session,
                        battle_id,
                        list(answers_a),
                        list(answers_b),
                        latency_a=outcome.latency[0],
                        latency_b=outcome.latency[1],
                    )
            except StoreError as error:
                log.warning("battle %s: storing the answers failed: %s", battle_id, error)
                self._fail(battle_id, f"storing the answers failed: {error}")
                message = "This round could not be saved. Start a new round."
                failed = replace(round_, status="failed", message=message)
                return StreamEvent("failed", None, message, failed)
            ready = replace(round_, answers_a=answers_a, answers_b=answers_b, status="ready")
            return StreamEvent("done", None, "", ready)
        if outcome.kind == "stopped":
            self._fail(battle_id, STOPPED_ERROR)
            stopped = replace(
                round_, status="stopped", message=STOPPED_MESSAGE, partial=outcome.texts
            )
            return StreamEvent("stopped", None, STOPPED_MESSAGE, stopped)
        side, problem = outcome.side or "a", outcome.error
        name = names["ab".index(side)]
        log.warning("battle %s, side %s (%s) failed: %s", battle_id, side, name, problem)
        self._fail(battle_id, f"side {side.upper()} ({name}): {type(problem).__name__}: {problem}")
        message = _visitor_failure(problem)
        failed = replace(round_, status="failed", message=message)
        return StreamEvent("failed", None, message, failed)

    def generate(self, round_: Round, voter: str) -> Round:
        """Run :meth:`stream` to the end and return the resulting round."""
        last: Round | None = None
        for event in self.stream(round_, voter):
            if event.round is not None:
                last = event.round
        assert last is not None
        return last

    def _fail(self, battle_id: int, error: str) -> None:
        try:
            with self._write() as session:
                mark_failed(session, battle_id, error)
        except StoreError as problem:  # already failed, or voted meanwhile
            log.info("battle %s not marked failed: %s", battle_id, problem)

    def vote(self, round_: Round, voter: str, choice: Choice | str) -> Round:
        """Record the visitor's vote; the returned round reveals the models.

        The answers are checked for identity leaks first; a leaking vote is recorded
        with ``identity_leak`` set. One vote per battle is enforced by the database.

        Raises
        ------
        UnknownRound, ServiceError (unknown choice), UnknownBattle, AlreadyVoted,
        BattleNotReady
        """
        try:
            pick = Choice(choice)
        except ValueError:
            raise ServiceError(
                f"unknown vote {choice!r}: expected one of {', '.join(c.value for c in Choice)}"
            ) from None
        battle_id = self._tickets.battle_id(round_.ticket, voter)
        self.catalog.poll()  # another replica's new codename joins the word list first
        detector = self.leak_detector
        try:
            names = self._remembered(battle_id)
            with self._write() as session:
                battle = get_battle(session, battle_id)
                leak = detector.leaks([*battle.answers_a, *battle.answers_b])
                record_vote(session, battle_id, pick.outcome, voter, identity_leak=leak)
                if names is None:
                    names = (battle.model_a.name, battle.model_b.name)
        except UnknownBattle:
            raise UnknownBattle("this round is unknown: start a new round") from None
        except AlreadyVoted:
            raise AlreadyVoted("this round already has its vote: start a new round") from None
        except BattleFailed:
            raise BattleFailed("this round failed and takes no vote: start a new round") from None
        except BattleNotReady:
            raise BattleNotReady("wait until both answers are complete, then vote") from None
        if self._board is not None:
            self._board.note_vote()  # a board showing "No votes yet" is stale now
        labels = (self.catalog.label(names[0]), self.catalog.label(names[1]))
        result = VoteResult(pick, pick.outcome, labels[0], labels[1], leak)
        return replace(round_, status="voted", vote=result, labels=labels)

    # -- leaderboard -------------------------------------------------------------------

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
        Names follow the catalog within :data:`CATALOG_TTL_S` (another replica's reveal
        or new codename starts a refresh); votes within the leaderboard TTL.
        """
        self.catalog.poll()
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
        self.catalog.poll()
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
        self.catalog.poll()
        with database_faults():
            return self.board_history.models()

    def model_history(self, name: str) -> pd.DataFrame:
        """A model's rating, interval and place over the snapshots (public ``name``).

        Columns :data:`arena.service.history.HISTORY_COLUMNS`, oldest first; empty when
        no snapshot rates it.
        """
        with database_faults():
            return self.board_history.model_history(name)

    # -- admin -------------------------------------------------------------------------

    @property
    def login_failures(self) -> StoredFailures:
        """Wrong admin passwords per client address, in the database (for the admin gate)."""
        return StoredFailures(self._sessions)

    def admin_models(self) -> list[AdminModel]:
        """Every model in the store with its settings and this process's loading state."""
        with self._read() as session:
            rows = list_models(session)
        out = []
        for m in rows:
            state = self.pool.state(m.name)
            out.append(
                AdminModel(
                    m.name,
                    m.display_name,
                    m.organization,
                    m.codename,
                    m.active,
                    m.sampling_weight,
                    state.state,
                    state.error,
                )
            )
        return out

    def update_model(
        self,
        name: str,
        *,
        weight: float | None = None,
        active: bool | None = None,
        codename: str | None = _KEEP,
    ) -> None:
        """Change a model's sampling weight, active flag or codename (None reveals it).

        Saved in the database: this process applies it at once, every other server
        replica within :data:`CATALOG_TTL_S` (its next catalog read). The models file is
        applied again when a server starts (any replica): copy lasting changes into it.

        Raises
        ------
        UserError
            Unknown model, negative weight, or a codename another model has.
        """
        changes: dict[str, Any] = {}
        if weight is not None:
            changes["sampling_weight"] = weight
        if active is not None:
            changes["active"] = bool(active)
        if codename is not _KEEP:
            changes["codename"] = codename or None
        try:
            with self._write() as session:
                store_update_model(session, name, **changes)
        except UnknownModel:
            raise UnknownModel(f"unknown model {name!r}") from None
        self.catalog.entries(fresh=True)  # a change: word list rebuilt, boards refreshed

    def reveal(self, name: str) -> None:
        """Announce a preview model: its real name replaces its codename everywhere."""
        self.update_model(name, codename=None)

    def model_standing(self, name: str, *, rounds: int = 100) -> Standing:
        """A model's standing from the stored votes, real names (admin only).

        See :func:`arena.campaign.standing.model_standing`; takes seconds (bootstrap).

        Raises
        ------
        UserError
            No votes yet, or the model has none.
        """
        from arena.campaign.data import read_store
        from arena.campaign.standing import model_standing

        with self._read() as session:
            data = read_store(session, admin=True)
        return model_standing(data.battles, data.resolve(name), rounds=rounds)

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

        with self._write() as session:
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
        with self._write() as session:
            snapshot_id = save_scheduled_snapshot(
                session, view.leaderboard, source=BOARD_SOURCE, slot=slot
            )
        if snapshot_id is not None:
            self.board_history.invalidate()
        return snapshot_id

    def vote_stats(self) -> VoteStats:
        """Counts of votes, voters, outcomes, statuses and per-model results."""
        with self._read() as session:
            return vote_stats(session)

    def export_votes(self, fmt: str) -> bytes:
        """Every vote in the FastChat battle layout, as ``csv`` or ``jsonl`` bytes."""
        from arena.store import write_votes

        stream = io.StringIO()
        with self._read() as session:
            write_votes(session, stream, fmt)
        return stream.getvalue().encode("utf-8")
