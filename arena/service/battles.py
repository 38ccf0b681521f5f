"""Battle rounds: draw two models, stream both answers, follow-ups, regenerations, the vote.

The service's rounds behind :class:`arena.service.ArenaService` (which delegates here).
It never hands out a model name before the vote (see :mod:`arena.service.rounds`); the
store enforces one vote per battle; a model that fails marks its battle failed and the
others keep serving. Only whole answers are stored and voted: answers are produced
behind the page under first-token and idle deadlines and answer caps
(:mod:`arena.service.generation`); a side that fails, misses a deadline or ends
truncated fails the battle, and :meth:`BattleDesk.stop` ends both sides early (the
battle then takes a vote only if both answers were already complete). The names
revealed after a vote are the board's (:meth:`arena.service.catalog.Catalog.label`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from arena.backends import BackendTimeout, BackendUnavailable, Message
from arena.outcomes import WINNER_CODES
from arena.service._store import StoreAccess
from arena.service.catalog import Catalog
from arena.service.categories import categorize
from arena.service.config import ServiceConfig
from arena.service.errors import (
    GenerationFailed,
    NoModelsAvailable,
    RoundClosed,
    ServiceError,
)
from arena.service.generation import PairJob, PairOutcome
from arena.service.leaks import LeakDetector
from arena.service.limits import SharedRateLimiter, check_prompt, check_turns, clean_text
from arena.service.pool import ModelPool
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
    InvalidTransition,
    Session,
    StoreError,
    UnknownBattle,
    VoteError,
    add_turn,
    create_battle,
    get_battle,
    mark_failed,
    record_vote,
    set_answers,
    start_generation,
)

__all__ = [
    "HEARTBEAT_S",
    "STOPPED_MESSAGE",
    "WATCH_INTERVAL_S",
    "Availability",
    "BattleDesk",
    "PublicModel",
]

log = logging.getLogger(__name__)

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


class BattleDesk:
    """The rounds of every visitor of a server process (module docstring); thread-safe.

    Parameters
    ----------
    config:
        Limits and settings.
    store:
        The vote store.
    pool:
        The models' backends.
    catalog:
        The stored models (what may be drawn, the names revealed).
    tickets:
        Signs and checks the round tickets.
    leak_detector:
        The identity-leak word list in force (rebuilt when the catalog changes).
    on_vote:
        Called after each recorded vote (the live board's staleness).
    rng:
        Random source of the pair sampler.
    """

    def __init__(
        self,
        config: ServiceConfig,
        store: StoreAccess,
        pool: ModelPool,
        catalog: Catalog,
        tickets: Tickets,
        *,
        leak_detector: Callable[[], LeakDetector],
        on_vote: Callable[[], None],
        rng: random.Random,
    ) -> None:
        self.config = config
        self._store = store
        self.pool = pool
        self.catalog = catalog
        self._tickets = tickets
        self._leak_detector = leak_detector
        self._on_vote = on_vote
        self._rng = rng
        self._limiter = (
            SharedRateLimiter(store.sessions, "message", config.rate_window_s)
            if config.rate_limit
            else None
        )
        self._clients_lock = threading.Lock()
        self._clients: OrderedDict[str, str] = OrderedDict()  # voter token -> client address
        self._memo_lock = threading.Lock()
        self._memo: OrderedDict[int, tuple[str, str]] = OrderedDict()
        #: The adaptive pair policy's fit, refitted behind at most every refresh_s.
        self.uncertainty = UncertaintyCache(self._fit_uncertainty, config.adaptive_refresh_s)
        self._jobs_lock = threading.Lock()
        self._jobs: OrderedDict[tuple[int, int], PairJob[StreamEvent]] = OrderedDict()

    def close(self) -> None:
        """Stop the running answers (they record their outcome) and the background refit."""
        with self._jobs_lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop()
        deadline = time.monotonic() + 2.0  # let stopped jobs record their outcome
        for job in jobs:
            job.join(max(0.0, deadline - time.monotonic()))
        self.uncertainty.close()

    def _remember(self, battle_id: int, names: tuple[str, str]) -> None:
        with self._memo_lock:
            self._memo[battle_id] = names
            while len(self._memo) > BATTLE_MEMO:
                self._memo.popitem(last=False)

    def _remembered(self, battle_id: int) -> tuple[str, str] | None:
        with self._memo_lock:
            return self._memo.get(battle_id)

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
            self.uncertainty.get(),  # cached; refitted behind at most every refresh_s
            self.config.adaptive_settings(),
        )

    def _fit_uncertainty(self) -> PairUncertainty | None:
        """The adaptive policy's fit: the leaderboard's votes (anonymous, no leaks)."""
        import numpy as np

        from arena.store import vote_counts

        with self._store.read() as session:
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
        with self._store.write() as session:
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
        with self._store.write() as session:
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
            with self._store.write() as session:
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
        with self._store.write() as session:
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
        with self._store.read() as session:
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
                with self._store.write() as session:
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
            with self._store.write() as session:
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
        detector = self._leak_detector()
        try:
            names = self._remembered(battle_id)
            with self._store.write() as session:
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
        self._on_vote()  # a board showing "No votes yet" is stale now
        labels = (self.catalog.label(names[0]), self.catalog.label(names[1]))
        result = VoteResult(pick, pick.outcome, labels[0], labels[1], leak)
        return replace(round_, status="voted", vote=result, labels=labels)
