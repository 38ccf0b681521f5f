"""Side-by-side: the visitor picks both models; the vote is recorded as not anonymous."""

from __future__ import annotations

import streamlit as st

from arena.errors import UserError
from webapp.common import (
    RoundActions,
    chat_label,
    round_controls,
    service,
    show_answers,
    show_error,
    show_outcome,
    stream_answers,
    voter,
)

ROUND = "sbs.round"
PAIR = "sbs.pair"
ERROR = "sbs.error"

svc = service()
state = st.session_state
actions = RoundActions(ROUND, ERROR)

st.title("Side-by-side", anchor=False)
st.caption(
    "Choose two models and compare their answers. These votes are not anonymous, so they "
    "do not count toward the leaderboard's blind ratings."
)

models = svc.side_by_side_models()
if len(models) < 2:
    st.warning("Fewer than two models are available for side-by-side comparison right now.")
    st.stop()
labels = {m.name: m.label for m in models}
names = list(labels)
pick_a, pick_b = st.columns(2)
model_a: str = pick_a.selectbox(
    "Model A", names, index=0, format_func=lambda n: labels[n], key="sbs.a"
)
model_b: str = pick_b.selectbox(
    "Model B", names, index=1, format_func=lambda n: labels[n], key="sbs.b"
)
if state.get(PAIR) != (model_a, model_b) and ROUND in state:
    state.pop(ROUND)  # another pair: the next message starts a new round
state[PAIR] = (model_a, model_b)

round_ = state.get(ROUND)
label, disabled = chat_label(round_, svc.config.max_turns, start="Ask both models")
prompt = st.chat_input(label, key="sbs.prompt", disabled=disabled)
if prompt is not None:
    try:
        if round_ is None or round_.status in ("voted", "failed", "stopped"):
            state[ROUND] = svc.start_side_by_side(voter(), model_a, model_b, prompt)
        else:
            state[ROUND] = svc.follow_up(round_, voter(), prompt)
    except UserError as error:
        state[ERROR] = str(error)
    else:
        st.rerun()  # draw the page for the new answers before they come

show_error(ERROR)
placeholders = show_answers(round_)
show_outcome(round_)
round_controls(round_, actions, "sbs")
status = st.empty()
if round_ is not None and round_.status == "generating" and len(placeholders) == 2:
    stream_answers(round_, svc, placeholders, ROUND, status=status)
