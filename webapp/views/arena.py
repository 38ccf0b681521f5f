"""Arena (battle): two anonymous models answer; the visitor votes, then sees who they were."""

from __future__ import annotations

import streamlit as st

from arena.errors import UserError
from webapp.common import (
    RoundActions,
    chat_label,
    loading_notice,
    round_controls,
    service,
    show_answers,
    show_error,
    show_outcome,
    stream_answers,
    voter,
)

ROUND = "arena.round"
ERROR = "arena.error"

svc = service()
state = st.session_state
actions = RoundActions(ROUND, ERROR)

st.title("Arena", anchor=False)
st.caption(
    "Ask anything. Two anonymous models answer side by side; vote for the better answer, "
    "then see which models they were. Follow-up messages go to both."
)

round_ = state.get(ROUND)
generating = round_ is not None and round_.status == "generating"
notice = loading_notice(svc, live=not generating)

label, disabled = chat_label(round_, svc.config.max_turns, start="Ask anything to start a round")
prompt = st.chat_input(label, key="arena.prompt", disabled=disabled)
if prompt is not None:
    try:
        if round_ is None or round_.status in ("voted", "failed", "stopped"):
            state[ROUND] = svc.start_battle(voter(), prompt)
        else:
            state[ROUND] = svc.follow_up(round_, voter(), prompt)
    except UserError as error:
        state[ERROR] = str(error)
    else:
        st.rerun()  # draw the page for the new answers (buttons, chat box) before they come

show_error(ERROR)
placeholders = show_answers(round_)
show_outcome(round_)
round_controls(round_, actions, "arena")
st.caption(
    f"Message {len(round_.turns)} of {svc.config.max_turns} in this round."
    if round_ is not None
    else f"Up to {svc.config.max_turns} messages per round."
)
status = st.empty()
if round_ is not None and generating and len(placeholders) == 2:
    stream_answers(round_, svc, placeholders, ROUND, notice, status)
