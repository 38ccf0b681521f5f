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
#: Seconds between two redraws of the streaming answers.
REDRAW_S = 0.05


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
    """Show, once, the error a callback left under ``key``."""
    message = st.session_state.pop(key, None)
    if message:
        st.error(message)


def markdown(text: str) -> None:
    """Render text from a model or a visitor as Markdown with raw HTML kept inert."""
    st.markdown(safe_markdown(text))


def _side_titles(round_: Round | None) -> tuple[str, str]:
    if round_ is not None and round_.labels is not None:
        return f"Model A: {round_.labels[0]}", f"Model B: {round_.labels[1]}"
    return "Model A", "Model B"


def show_round(round_: Round | None, svc: ArenaService, state_key: str) -> Round | None:
    """Draw both sides of a round; stream the answers if the round is generating.

    Returns the round after streaming (stored under ``state_key`` too).
    """
    columns = st.columns(2, gap="medium")
    titles = _side_titles(round_)
    boxes = []
    for column, title in zip(columns, titles, strict=True):
        with column:
            st.subheader(title, anchor=False)
            boxes.append(st.container(border=True))
    if round_ is None:
        for box in boxes:
            box.caption("The answer will appear here.")
        return None
    placeholders = []
    for box, answers in zip(boxes, (round_.answers_a, round_.answers_b), strict=True):
        with box:
            for i, turn in enumerate(round_.turns):
                with st.chat_message("user"):
                    markdown(turn)
                with st.chat_message("assistant"):
                    if i < len(answers):
                        markdown(answers[i])
                    elif round_.status == "generating":
                        placeholders.append(st.empty())
                    else:
                        st.caption("No answer.")
    if round_.status == "generating" and len(placeholders) == 2:
        round_ = _stream(round_, svc, placeholders, state_key)
    return round_


def _stream(
    round_: Round,
    svc: ArenaService,
    placeholders: list[st.delta_generator.DeltaGenerator],
    key: str,
) -> Round:
    for placeholder in placeholders:
        placeholder.caption("Thinking…")
    try:
        events = svc.stream(round_, voter())
    except UserError as error:
        failed = dataclasses.replace(round_, status="failed", message=str(error))
        st.session_state[key] = failed
        st.error(str(error))
        return failed
    text = {"a": "", "b": ""}
    shown = {"a": "", "b": ""}
    last = 0.0
    for event in events:
        if event.kind == "loading" and event.side is not None:
            placeholders["ab".index(event.side)].caption(
                f"Model {event.side.upper()} is loading; its answer starts once it is ready…"
            )
        elif event.kind == "text" and event.side is not None:
            text[event.side] = event.text
            now = time.monotonic()
            if now - last >= REDRAW_S:
                last = now
                _redraw(placeholders, text, shown)
        elif event.round is not None:
            _redraw(placeholders, text, shown)
            for side, placeholder in zip("ab", placeholders, strict=True):
                if event.kind == "done" and not text[side]:
                    placeholder.caption("(The model gave an empty answer.)")
            round_ = event.round
            st.session_state[key] = round_
            if event.kind == "failed":
                st.error(event.text)
    return round_


def _redraw(
    placeholders: list[st.delta_generator.DeltaGenerator],
    text: dict[str, str],
    shown: dict[str, str],
) -> None:
    for side, placeholder in zip("ab", placeholders, strict=True):
        if text[side] != shown[side]:
            placeholder.markdown(safe_markdown(text[side]))
            shown[side] = text[side]


@dataclasses.dataclass(frozen=True)
class RoundActions:
    """Button callbacks on the round kept under ``round_key`` in the session state.

    A refused action (already voted, over the rate limit, ...) leaves its message under
    ``error_key`` for :func:`show_error`; the round is replaced only on success.
    """

    round_key: str
    error_key: str

    def vote(self, choice: Choice) -> None:
        """Record the visitor's vote on the current round."""
        self._apply(lambda svc, round_: svc.vote(round_, voter(), choice))

    def regenerate(self) -> None:
        """Ask both models again for the last answer."""
        self._apply(lambda svc, round_: svc.regenerate(round_, voter()))

    def new_round(self) -> None:
        """Forget the current round (the next prompt starts another)."""
        st.session_state.pop(self.round_key, None)

    def _apply(self, action: Callable[[ArenaService, Round], Round]) -> None:
        try:
            st.session_state[self.round_key] = action(
                service(), st.session_state[self.round_key]
            )
        except UserError as error:
            st.session_state[self.error_key] = str(error)


def vote_buttons(round_: Round | None, on_vote: Callable[[Choice], None], key: str) -> None:
    """The four vote buttons, enabled only while the round takes a vote."""
    enabled = round_ is not None and round_.can_vote
    for column, choice in zip(st.columns(4), Choice, strict=True):
        column.button(
            choice.value,
            key=f"{key}-vote-{choice.name}",
            on_click=on_vote,
            args=(choice,),
            disabled=not enabled,
            width="stretch",
        )


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
