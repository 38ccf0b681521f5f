"""Admin: models, weights, codenames and reveals, vote statistics, exports."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from arena.errors import UserError
from webapp.client import client
from webapp.common import admin_gate, service, show_error

ERROR = "admin.error"
NOTICE = "admin.notice"
EXPORT = "admin.export.data"

state = st.session_state
st.title("Admin", anchor=False)
gate = admin_gate()
if not gate.enabled:
    st.warning(
        "The admin page is disabled: set the ARENA_ADMIN_PASSWORD environment variable "
        "(or `admin_password` in Streamlit's secrets) and restart the server."
    )
    st.stop()


svc = service()


def _login() -> None:
    # Wrong tries are counted per client address in the database (every replica sees
    # them), with a back-off; another address, e.g. the real admin's, is not slowed.
    try:
        if gate.check(state.get("admin.password", ""), client(), svc.login_failures):
            state["admin"] = True
        else:
            state[ERROR] = "Wrong password."
    except UserError as error:
        state[ERROR] = str(error)
    state["admin.password"] = ""


if not state.get("admin"):
    with st.form("admin.login"):
        st.text_input("Password", type="password", key="admin.password")
        st.form_submit_button("Log in", on_click=_login)
    show_error(ERROR)
    st.stop()


def _logout() -> None:
    for key in ("admin", EXPORT):
        state.pop(key, None)


def _save(name: str) -> None:
    try:
        svc.update_model(
            name,
            weight=state[f"admin.weight.{name}"],
            active=state[f"admin.active.{name}"],
            codename=state[f"admin.codename.{name}"].strip() or None,
        )
        state[NOTICE] = f"Saved {name}."
    except UserError as error:
        state[ERROR] = str(error)


def _reveal(name: str) -> None:
    try:
        svc.reveal(name)
        state[NOTICE] = f"Revealed {name}: its name now replaces its codename."
    except UserError as error:
        state[ERROR] = str(error)


def _export(fmt: str) -> None:
    try:
        state[EXPORT] = (fmt, svc.export_votes(fmt))
    except UserError as error:
        state[ERROR] = str(error)


st.button("Log out", key="admin.logout", on_click=_logout)
show_error(ERROR)
notice = state.pop(NOTICE, None)
if notice:
    st.success(notice)

try:  # a broken store (deleted, read-only, busy) is one message, not a traceback
    models = svc.admin_models()
    stats = svc.vote_stats()
except UserError as error:
    st.error(f"The vote database cannot be read: {error}")
    st.stop()

models_tab, votes_tab, exports_tab = st.tabs(["Models", "Votes", "Exports"])

with models_tab:
    st.dataframe(
        pd.DataFrame(
            {
                "Model": [m.name for m in models],
                "Display name": [m.display_name for m in models],
                "Organization": [m.organization or "" for m in models],
                "Codename": [m.codename or "" for m in models],
                "Active": [m.active for m in models],
                "Weight": [m.weight for m in models],
                "State": [m.state for m in models],
                "Problem": [m.error or "" for m in models],
            }
        ),
        hide_index=True,
    )
    st.caption(
        "Changes are saved in the database and apply at once. The models file is applied "
        "again when the server restarts: copy lasting changes into it."
    )
    by_name = {m.name: m for m in models}
    name = st.selectbox("Model to change", list(by_name), key="admin.model")
    chosen = by_name[name]
    with st.form(f"admin.edit.{name}"):
        st.number_input(
            "Sampling weight",
            min_value=0.0,
            value=float(chosen.weight),
            step=0.5,
            key=f"admin.weight.{name}",
        )
        st.checkbox("Active (drawn for battles)", value=chosen.active, key=f"admin.active.{name}")
        st.text_input(
            "Codename (preview models; empty for none)",
            value=chosen.codename or "",
            key=f"admin.codename.{name}",
        )
        st.form_submit_button("Save", on_click=_save, args=(name,))
    if chosen.codename:
        st.button(
            f"Reveal {name} (replace the codename {chosen.codename!r} by its name)",
            key="admin.reveal",
            on_click=_reveal,
            args=(name,),
        )
    with st.expander("Identity-leak words"):
        st.write(", ".join(svc.leak_detector.terms))

with votes_tab:
    a, b, c = st.columns(3)
    a.metric("Votes", f"{stats.n_votes:,}")
    b.metric("Voters", f"{stats.n_voters:,}")
    c.metric("Identity leaks", f"{stats.identity_leaks:,}")
    left, right = st.columns(2)
    left.dataframe(
        pd.DataFrame({"Outcome": list(stats.outcomes), "Votes": list(stats.outcomes.values())}),
        hide_index=True,
    )
    right.dataframe(
        pd.DataFrame(
            {
                "Battle status": list(stats.battles_by_status),
                "Battles": list(stats.battles_by_status.values()),
            }
        ),
        hide_index=True,
    )
    if stats.per_model:
        st.dataframe(
            pd.DataFrame(
                {
                    "Model": [t.model for t in stats.per_model],
                    "Votes": [t.votes for t in stats.per_model],
                    "Wins": [t.wins for t in stats.per_model],
                    "Losses": [t.losses for t in stats.per_model],
                    "Ties": [t.ties for t in stats.per_model],
                    "Both bad": [t.both_bad for t in stats.per_model],
                }
            ),
            hide_index=True,
        )
    if stats.first_vote is not None and stats.last_vote is not None:
        st.caption(
            f"First vote {stats.first_vote:%Y-%m-%d %H:%M} UTC, "
            f"last {stats.last_vote:%Y-%m-%d %H:%M} UTC."
        )

with exports_tab:
    st.write("Every vote, in the FastChat battle layout (real model names, conversations).")
    fmt = st.radio("Format", ["csv", "jsonl"], horizontal=True, key="admin.format")
    st.button("Prepare the export", key="admin.export", on_click=_export, args=(fmt,))
    prepared = state.get(EXPORT)
    if prepared is not None:
        kind, data = prepared
        st.download_button(
            f"Download votes.{kind} ({len(data):,} bytes)",
            data,
            file_name=f"votes.{kind}",
            mime="text/csv" if kind == "csv" else "application/jsonl",
            on_click="ignore",
        )


# -- a model's standing (arena standing MODEL, on the stored votes, real names) ------------
STANDING = "admin.standing.result"


def _standing(name: str) -> None:
    try:
        state[STANDING] = (name, svc.model_standing(name))
    except UserError as error:
        state[STANDING] = (name, str(error))


st.divider()
st.subheader("Standing of a model", anchor=False)
st.caption(
    "Rating, interval and Rank (UB) as on the leaderboard, the models it is statistically "
    "tied with, the probability of each rank (bootstrap), and how many more battles, "
    "against which opponents, would separate it from each tied model. Real names: the "
    "admin only. Takes a few seconds."
)
standing_names = [m.name for m in svc.admin_models()]
if standing_names:
    picked = st.selectbox("Model", standing_names, key="admin.standing.model")
    st.button("Compute its standing", key="admin.standing.go", on_click=_standing, args=(picked,))
    result = state.get(STANDING)
    if result is not None:
        from arena.campaign.standing import standing_markdown

        shown_name, value = result
        if isinstance(value, str):
            st.info(value)
        else:
            st.markdown(standing_markdown(value, source="the votes database"))


# -- leaderboard history (arena history lists the snapshots) -------------------------------
SNAPSHOT = "admin.snapshot.notice"


def _snapshot() -> None:
    try:
        snapshot_id = svc.store_snapshot(label="admin")
        state[SNAPSHOT] = f"Stored the leaderboard as snapshot {snapshot_id} (see `arena history`)."
    except UserError as error:
        state[SNAPSHOT] = str(error)


st.divider()
st.subheader("Leaderboard history", anchor=False)
st.caption(
    "Store the public leaderboard as it is now, with its provenance (data hash, method, "
    "parameters), in the database; `arena history MODEL` shows a model over the snapshots."
)
st.button("Store a snapshot now", key="admin.snapshot", on_click=_snapshot)
if state.get(SNAPSHOT):
    st.info(state.pop(SNAPSHOT))
