"""Side-by-side: the visitor picks both models; the vote is recorded as not anonymous."""

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
over = round_ is None or round_.status in ("voted", "failed")
full = round_ is not None and len(round_.turns) >= svc.config.max_turns
prompt = st.chat_input(
    "Ask both models" if over else ("Vote, then start a new round" if full else "Ask a follow-up"),
    key="sbs.prompt",
    disabled=(not over and full) or (round_ is not None and round_.status == "generating"),
)
if prompt is not None:
    try:
        if over:
            round_ = svc.start_side_by_side(voter(), model_a, model_b, prompt)
        else:
            assert round_ is not None
            round_ = svc.follow_up(round_, voter(), prompt)
        state[ROUND] = round_
    except UserError as error:
        state[ERROR] = str(error)

show_error(ERROR)
round_ = show_round(round_, svc, ROUND)
vote_buttons(round_, actions.vote, "sbs")
show_result(round_)
left, right, _ = st.columns([1, 1, 4])
left.button("New round", key="sbs.new", on_click=actions.new_round, width="stretch")
right.button(
    "Regenerate",
    key="sbs.regenerate",
    on_click=actions.regenerate,
    disabled=round_ is None or not round_.can_regenerate,
    width="stretch",
)
