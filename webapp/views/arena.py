"""Arena (battle): two anonymous models answer; the visitor votes, then sees who they were."""

from __future__ import annotations

import streamlit as st

from arena.errors import UserError
from webapp.common import (
    RoundActions,
    service,
    show_error,
    show_result,
    show_round,
    vote_buttons,
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

available = svc.availability()
if available.usable < 2:
    st.warning("Fewer than two models are available right now: battles cannot start. Try later.")
elif available.loading:
    st.info(f"{available.loading} of {available.usable} models are still loading.")

round_ = state.get(ROUND)
over = round_ is None or round_.status in ("voted", "failed")
full = round_ is not None and len(round_.turns) >= svc.config.max_turns
prompt = st.chat_input(
    "Ask anything to start a round"
    if over
    else ("Vote, then start a new round" if full else "Ask a follow-up (both models see it)"),
    key="arena.prompt",
    disabled=(not over and full) or (round_ is not None and round_.status == "generating"),
)
if prompt is not None:
    try:
        if over:
            round_ = svc.start_battle(voter(), prompt)
        else:
            assert round_ is not None
            round_ = svc.follow_up(round_, voter(), prompt)
        state[ROUND] = round_
    except UserError as error:
        state[ERROR] = str(error)

show_error(ERROR)
round_ = show_round(round_, svc, ROUND)
if round_ is not None and round_.status == "failed" and round_.message:
    st.caption(round_.message)
vote_buttons(round_, actions.vote, "arena")
show_result(round_)

left, right, _ = st.columns([1, 1, 4])
left.button("New round", key="arena.new", on_click=actions.new_round, width="stretch")
right.button(
    "Regenerate",
    key="arena.regenerate",
    on_click=actions.regenerate,
    disabled=round_ is None or not round_.can_regenerate,
    width="stretch",
)
if round_ is not None:
    st.caption(f"Message {len(round_.turns)} of {svc.config.max_turns} in this round.")
