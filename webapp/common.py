"""What every page shares: the service, the visitor's token, rendering a round."""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
from collections.abc import Callable

import streamlit as st

from arena.errors import UserError
from arena.service import (
    ADMIN_ENV,
    AdminGate,
    ArenaService,
    Choice,
    Round,
    ServiceConfig,
    safe_markdown,
)

#: Environment variables the app reads (``arena serve`` sets them).
DATABASE_ENV = "ARENA_DATABASE_URL"
MODELS_ENV = "ARENA_MODELS_FILE"
#: Seconds between two redraws of the streaming answers (whatever pace the models keep).
REDRAW_S = 0.1
#: A redraw waits at least this many times the last redraw's own duration (so drawing
#: takes at most about a fifth of a core per visitor, however long the answers grow).
REDRAW_BUDGET = 5.0
#: Seconds between two checks of the models' loading while the page waits.
LOADING_POLL_S = 2.0


@st.cache_resource(show_spinner="Starting the arena…")
def _open_service(database: str | None, models: str | None, config: ServiceConfig) -> ArenaService:
    svc = ArenaService.open(database, models, config)
    _ = svc.leaderboard  # start computing the leaderboard now, in the background
    return svc


def service() -> ArenaService:
    """The process-wide service; on a configuration error, say so and stop the page."""
    try:
        config = ServiceConfig.from_env()
        return _open_service(
            os.environ.get(DATABASE_ENV) or None, os.environ.get(MODELS_ENV) or None, config
        )
    except UserError as error:
        st.error(f"The arena cannot start: {error}")
        st.stop()
        raise  # unreachable: st.stop() ends the run


def _secret_password() -> str | None:
    try:
        value = st.secrets.get("admin_password")
    except Exception:  # no secrets file at all
        return None
    return str(value) if value else None


@st.cache_resource
def _admin_gate(password: str | None) -> AdminGate:
    return AdminGate(password)


def admin_gate() -> AdminGate:
    """The admin password gate ($ARENA_ADMIN_PASSWORD, else the ``admin_password`` secret)."""
    return _admin_gate(os.environ.get(ADMIN_ENV) or _secret_password())


def voter() -> str:
    """The visitor's pseudonymous token, made on the first page view of the session."""
    if "voter" not in st.session_state:
        st.session_state["voter"] = secrets.token_urlsafe(18)
    token: str = st.session_state["voter"]
    return token


def show_error(key: str) -> None:
    """Show, once, the error a callback left under ``key``.

    Always one container, empty without an error: the page keeps its shape, so a
    message does not shift what follows (elements of the previous drawing would linger
    beside the new ones while answers stream).
    """
    message = st.session_state.pop(key, None)
    with st.container():
        if message:
            st.error(message)


def markdown(text: str) -> None:
    """Render text from a model or a visitor as Markdown with raw HTML kept inert."""
    st.markdown(safe_markdown(text))


def _side_titles(round_: Round | None) -> tuple[str, str]:
    if round_ is not None and round_.labels is not None:
        return f"Model A: {round_.labels[0]}", f"Model B: {round_.labels[1]}"
    return "Model A", "Model B"


Placeholder = st.delta_generator.DeltaGenerator


def show_answers(round_: Round | None) -> list[Placeholder]:
    """Draw both sides of a round; return the two placeholders of answers still to come.

    A failed round shows no answer to its last message on either side (which side failed
    would hint at the model); a stopped one shows both answers as far as they came.
    """
    columns = st.columns(2, gap="medium")
    boxes = []
    for column, title in zip(columns, _side_titles(round_), strict=True):
        with column:
            st.subheader(title, anchor=False)
            boxes.append(st.container(border=True))
    if round_ is None:
        for box in boxes:
            box.caption("The answer will appear here.")
        return []
    placeholders = []
    partial = round_.partial or ("", "")
    sides = (round_.answers_a, round_.answers_b)
    for i, (box, answers) in enumerate(zip(boxes, sides, strict=True)):
        with box:
            for turn_index, turn in enumerate(round_.turns):
                with st.chat_message("user"):
                    markdown(turn)
                with st.chat_message("assistant"):
                    if turn_index < len(answers):
                        if answers[turn_index]:
                            markdown(answers[turn_index])
                        else:
                            st.caption("(The model gave an empty answer.)")
                    elif round_.status == "generating":
                        placeholder = st.empty()
                        placeholder.caption("Waiting for the answer…")
                        placeholders.append(placeholder)
                    elif round_.status == "stopped":
                        if partial[i]:
                            markdown(partial[i])
                            st.caption("(Stopped.)")
                        else:
                            st.caption("(Stopped before the first words.)")
                    else:
                        st.caption("No answer: this round failed.")
    return placeholders


def show_outcome(round_: Round | None) -> None:
    """The one message of a round that is over: failed, stopped, or voted (who was who).

    Always one container, empty for a round that is not over: the page keeps the same
    shape in every state, so nothing of an earlier state lingers while answers stream.
    """
    with st.container():
        if round_ is None:
            return
        if round_.status == "failed":
            st.error(round_.message or "This round failed. Start a new round.")
        elif round_.status == "stopped":
            st.warning(round_.message or "You stopped this round. Start a new round.")
        elif round_.status == "voted":
            show_result(round_)


def stream_answers(
    round_: Round,
    svc: ArenaService,
    placeholders: list[Placeholder],
    key: str,
    notice: Placeholder | None = None,
    status: Placeholder | None = None,
) -> None:
    """Show the answers as they come, then redraw the whole page in the round's new state.

    The answers are produced behind the page (:meth:`ArenaService.stream`): a rerun (any
    click, a stale button) only re-attaches to them. At most one redraw per
    :data:`REDRAW_S`, whatever pace the models keep, and at most one per
    :data:`REDRAW_BUDGET` times what the last redraw cost: parsing a long answer takes tens
    of milliseconds, and a page that redrew it every tick would spend its server's CPU on
    one visitor. While nothing new comes, a side
    without text yet and ``status`` say how long the answers have been awaited (so the
    visitor sees they are still coming; the page also handles clicks such as Stop then).
    """
    try:
        events = svc.stream(round_, voter())
    except UserError as error:
        st.session_state[key] = dataclasses.replace(round_, status="failed", message=str(error))
        st.rerun()
    text = {"a": "", "b": ""}
    complete = {"a": False, "b": False}
    shown: dict[str, tuple[str, bool] | None] = {"a": None, "b": None}
    last = 0.0
    cost = 0.0  # seconds the last redraw took (rendering long answers is not free)
    started = time.monotonic()
    told = -1
    final: Round | None = None

    def progress() -> None:
        nonlocal told
        elapsed = int(time.monotonic() - started)
        if elapsed == told or elapsed < 1:
            return
        told = elapsed
        for side, placeholder in zip("ab", placeholders, strict=True):
            if not text[side]:
                placeholder.caption(f"Waiting for the answer… {elapsed} s")
        if status is not None:
            status.caption(f"The answers are coming ({elapsed} s so far); Stop ends both.")

    for event in events:
        if event.kind == "waiting":
            progress()
        elif event.kind == "loading" and notice is not None:
            notice.info(
                "A model is still loading; its answer starts once it is ready "
                "(the first start can take a few minutes)."
            )
        elif event.kind == "loaded" and notice is not None:
            notice.empty()
        elif event.kind == "text" and event.side is not None:
            text[event.side], complete[event.side] = event.text, event.complete
            now = time.monotonic()
            if now - last >= max(REDRAW_S, REDRAW_BUDGET * cost):
                last = now
                _redraw(placeholders, text, complete, shown)
                progress()
                cost = time.monotonic() - now
        elif event.round is not None:
            final = event.round
    if final is not None:
        st.session_state[key] = final
        st.rerun()  # the whole page in the new state: buttons, chat box, notices


def _redraw(
    placeholders: list[Placeholder],
    text: dict[str, str],
    complete: dict[str, bool],
    shown: dict[str, tuple[str, bool] | None],
) -> None:
    for side, placeholder in zip("ab", placeholders, strict=True):
        now = (text[side], complete[side])
        if now == shown[side] or not text[side]:
            continue
        with placeholder.container():
            markdown(text[side])
            st.caption("Complete." if complete[side] else "Writing…")
        shown[side] = now


@dataclasses.dataclass(frozen=True)
class RoundActions:
    """Button callbacks on the round kept under ``round_key`` in the session state.

    Every button of a round carries its ticket: a click on a button of an earlier round
    (one replaced by Regenerate or a new round, still on screen for a moment) does
    nothing to the current one. A refused action (already voted, over the rate limit,
    ...) leaves its message under ``error_key`` for :func:`show_error`; the round is
    replaced only on success.
    """

    round_key: str
    error_key: str

    def vote(self, ticket: str, choice: Choice) -> None:
        """Record the visitor's vote on the round of ``ticket``."""
        self._apply(ticket, lambda svc, round_: svc.vote(round_, voter(), choice))

    def regenerate(self, ticket: str) -> None:
        """Ask both models again for the last answer."""
        self._apply(ticket, lambda svc, round_: svc.regenerate(round_, voter()))

    def stop(self, ticket: str) -> None:
        """Stop both answers now (the stream then ends the round)."""

        def stop(svc: ArenaService, round_: Round) -> Round:
            svc.stop(round_, voter())
            return round_

        self._apply(ticket, stop)

    def new_round(self) -> None:
        """Forget the current round (the next prompt starts another)."""
        st.session_state.pop(self.round_key, None)

    def _apply(self, ticket: str, action: Callable[[ArenaService, Round], Round]) -> None:
        current: Round | None = st.session_state.get(self.round_key)
        if current is None or current.ticket != ticket:
            st.session_state[self.error_key] = (
                "That button belonged to an earlier round, so nothing was done."
            )
            return
        try:
            st.session_state[self.round_key] = action(service(), current)
        except UserError as error:
            st.session_state[self.error_key] = str(error)


def round_controls(round_: Round | None, actions: RoundActions, key: str) -> None:
    """The vote buttons, then Stop (while answering), New round and Regenerate.

    The vote buttons are enabled only once both answers are complete (the store refuses
    any other vote anyway). "New round" is the primary button once a round is over.
    """
    enabled = round_ is not None and round_.can_vote
    ticket = round_.ticket if round_ is not None else ""
    for column, choice in zip(st.columns(4), Choice, strict=True):
        column.button(
            choice.value,
            key=f"{key}-vote-{choice.name}",
            on_click=actions.vote,
            args=(ticket, choice),
            disabled=not enabled,
            width="stretch",
        )
    over = round_ is not None and round_.status in ("failed", "stopped", "voted")
    stop, new, regenerate, _ = st.columns([1, 1, 1, 3])
    stop.button(
        "Stop",
        key=f"{key}.stop",
        on_click=actions.stop,
        args=(ticket,),
        disabled=round_ is None or not round_.can_stop,
        width="stretch",
        help="End both answers now; the round then takes no vote unless both were complete",
    )
    new.button(
        "New round",
        key=f"{key}.new",
        on_click=actions.new_round,
        type="primary" if over else "secondary",
        disabled=round_ is None,
        width="stretch",
    )
    regenerate.button(
        "Regenerate",
        key=f"{key}.regenerate",
        on_click=actions.regenerate,
        args=(ticket,),
        disabled=round_ is None or not round_.can_regenerate,
        width="stretch",
    )


def chat_label(round_: Round | None, max_turns: int, *, start: str) -> tuple[str, bool]:
    """The chat box's placeholder text for the round's state, and whether it is disabled.

    After the first answers the box sends a follow-up, and says so.
    """
    if round_ is None:
        return start, False
    if round_.status == "generating":
        return "Wait for both answers (or press Stop)", True
    if round_.status in ("voted", "failed", "stopped"):
        return "Ask anything to start a new round", False
    if len(round_.turns) >= max_turns:
        return "Vote, then start a new round", True
    return "Ask a follow-up (both models see it)", False


def loading_notice(svc: ArenaService, *, live: bool) -> Placeholder:
    """Say when battles cannot start or a model is still loading (never which model).

    With ``live`` the notice checks again every few seconds, so it goes once loading
    ends; while answers stream, the stream keeps it true instead (and the page is drawn
    afresh at the end). Returns the notice's placeholder.
    """
    holder = st.container()  # one slot in the page, whatever is drawn inside
    notice = holder.empty()

    def draw() -> None:
        available = svc.availability()
        if available.usable < 2:
            failed = (
                f" ({available.failed} failed to load; the admin page says why)"
                if available.failed
                else ""
            )
            notice.warning(
                f"Fewer than two models are available right now{failed}: battles cannot "
                "start. Try later."
            )
        elif available.loading:
            notice.info(
                f"{available.loading} of {available.usable} models are still loading; "
                "a battle with a loading model starts answering once it is ready."
            )
        else:
            notice.empty()

    if live and svc.availability().loading:
        with holder:
            st.fragment(draw, run_every=LOADING_POLL_S)()
    else:
        draw()
    return notice


def show_result(round_: Round | None) -> None:
    """After the vote: who was who, and whether the vote counts."""
    if round_ is None or round_.vote is None:
        return
    vote = round_.vote
    st.success(
        f"Thanks for voting ({vote.choice.value}). "
        f"Model A was **{safe_markdown(vote.label_a)}**, "
        f"Model B was **{safe_markdown(vote.label_b)}**."
    )
    if vote.identity_leak:
        st.warning(
            "An answer named its model or maker, so this vote is kept out of the "
            "anonymous leaderboard."
        )
