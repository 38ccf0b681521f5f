"""Leaderboard: Bradley–Terry ratings of the anonymous votes, by category, with style control.

When public battles were imported (``arena db import``), a source switch rates the live
votes, the imported battles, or both together (the live models on the public scale).
"""

from __future__ import annotations

import time

import streamlit as st

from webapp.common import service

#: Seconds a page view waits for the very first computation before saying it is running.
FIRST_WAIT_S = 15.0
#: The source switch: its labels and the service's source names.
SOURCES = {"Live votes": "live", "Imported": "imported", "All": "all"}

svc = service()
st.title("Leaderboard", anchor=False)

board = svc.leaderboard
# The overall board first: it waits for the first computation (and for the refresh after
# the first votes), so the categories and the source switch below are up to date.
svc.board(wait=FIRST_WAIT_S)
categories = ["All", *board.categories()]
judges = svc.judges()
if judges:
    left, right, judge_side = st.columns([3, 2, 2], vertical_alignment="bottom")
    show_judge = judge_side.toggle(
        "Judge leaderboard",
        key="lb.judge_on",
        help="Show beside it the ratings of LLM-judge battles (arena eval judge).",
    )
else:
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    show_judge = False
source = "live"
if board.has_imported():
    picked = st.segmented_control(
        "Battles",
        list(SOURCES),
        default="Live votes",
        key="lb.source",
        help="Live votes of this arena, the imported public battles (arena db import), "
        "or both rated together, which puts the live models on the public scale when a "
        "model links them.",
    )
    source = SOURCES.get(picked or "Live votes", "live")
category = left.selectbox("Category", categories, key="lb.category")
style = right.toggle(
    "Style control",
    key="lb.style",
    help="Rate models as if every answer had the same length and markdown "
    "(headers, lists, bold): LMArena's style control. Needs 10 votes per fitted "
    "parameter (model ratings and 4 style coefficients), and live votes only.",
)
if style and source != "live":
    st.caption("Style control rates the live votes only: imported battles carry no answers.")
view = svc.board(
    None if category == "All" else category,
    style_control=style,
    wait=FIRST_WAIT_S,
    source=source,
)
if view is None:
    st.info("The leaderboard is being computed from the votes; reload the page in a moment.")
    st.stop()
if view.message:
    st.info(view.message)
    st.stop()

human_side = st.container()
if show_judge:
    human_side, judge_column = st.columns(2)
    human_side.subheader("Human votes", anchor=False)
# "new" / moved markers against the previous snapshot (the overall live board only)
moves = svc.board_moves(view)
human_side.dataframe(
    view.table if moves is None else moves.annotate(view.table),
    hide_index=True,
    column_config={
        "Rank (UB)": st.column_config.NumberColumn(
            help="1 + the number of models statistically better than this one"
        ),
        "Moved": st.column_config.TextColumn(
            help="Places gained (↑) or lost (↓) since the previous snapshot; new: not in it"
        ),
        "Score": st.column_config.NumberColumn(help="Bradley–Terry rating (arena scale)"),
        "95% CI": st.column_config.TextColumn(help="95% confidence interval of the score"),
        "Votes": st.column_config.NumberColumn(help="Anonymous votes with this model"),
    },
)
age = max(0, round(time.time() - view.computed_at))
counted = (
    f"{view.n_votes - view.n_imported:,} anonymous live votes and {view.n_imported:,} "
    "imported battles"
    if view.source == "all"
    else f"{view.n_votes:,} imported battles"
    if view.source == "imported"
    else f"{view.n_votes:,} anonymous votes"
)
st.caption(
    f"{counted}{'' if category == 'All' else f' in {category}'}, "
    f"updated {age} s ago. Bradley–Terry with robust (sandwich) 95% intervals; "
    "votes where an answer revealed its model are left out."
    + (" Style-controlled." if style else "")
)
if moves is not None:
    st.caption(
        f"Moved: places since snapshot {moves.snapshot} of "
        f"{moves.stored:%Y-%m-%d %H:%M} UTC (↑ up, ↓ down, = same place, new: not in it)."
    )
for note in view.notes:
    if note.startswith("No bridging model"):
        st.warning(note)
    else:
        st.caption(note)
assert view.leaderboard is not None
for warning in view.leaderboard.warnings:
    st.caption(f"⚠️ {warning}")

if show_judge:
    judge = (
        judge_column.selectbox("Judge", judges, key="lb.judge") if len(judges) > 1 else judges[0]
    )
    judge_view = svc.judge_board(judge)
    if len(judges) == 1:
        judge_column.subheader(f"Judge: {judge}", anchor=False)
    if judge_view.message:
        judge_column.info(judge_view.message)
    else:
        judge_column.dataframe(
            judge_view.table,
            hide_index=True,
            column_config={
                "Rank (UB)": st.column_config.NumberColumn(
                    help="1 + the number of models statistically better than this one"
                ),
                "Score": st.column_config.NumberColumn(help="Bradley–Terry rating of the judge"),
                "95% CI": st.column_config.TextColumn(help="95% confidence interval"),
                "Battles": st.column_config.NumberColumn(help="Judge battles with this model"),
            },
        )
        agreement = svc.judge_agreement(view, judge_view)
        rho = (
            f"Spearman rank correlation with the human leaderboard: {agreement.spearman:.2f} "
            if agreement.spearman is not None
            else "Too few models in common for a rank correlation "
        )
        judge_column.caption(
            f"{judge_view.n_battles:,} judge battles, all prompts (category and style "
            f"control apply to the human table only). {rho}"
            f"({len(agreement.models)} models in common)."
        )

suffix = f"{view.source}-{category.lower()}{'-style' if style else ''}"
csv_col, json_col, _ = st.columns([1, 1, 4])
csv_col.download_button(
    "Download CSV",
    view.download("csv"),
    file_name=f"leaderboard-{suffix}.csv",
    mime="text/csv",
    on_click="ignore",
    width="stretch",
)
json_col.download_button(
    "Download JSON",
    view.download("json"),
    file_name=f"leaderboard-{suffix}.json",
    mime="application/json",
    on_click="ignore",
    width="stretch",
)

ratings_tab, heatmap_tab = st.tabs(["Confidence intervals", "Win rates"])
with ratings_tab:
    ratings = view.ratings()
    order = list(ratings["model"])
    y = {"field": "model", "type": "nominal", "sort": order, "title": None}
    st.vega_lite_chart(
        ratings,
        {
            "height": {"step": 22},
            "layer": [
                {
                    "mark": {"type": "rule", "strokeWidth": 2},
                    "encoding": {
                        "y": y,
                        "x": {
                            "field": "ci_lower",
                            "type": "quantitative",
                            "scale": {"zero": False},
                            "title": "Score (95% confidence interval)",
                        },
                        "x2": {"field": "ci_upper"},
                    },
                },
                {
                    "mark": {"type": "point", "filled": True, "size": 60},
                    "encoding": {
                        "y": y,
                        "x": {"field": "rating", "type": "quantitative"},
                        "tooltip": [
                            {"field": "model", "title": "Model"},
                            {"field": "rating", "format": ".0f", "title": "Score"},
                            {"field": "ci_lower", "format": ".0f", "title": "Lower"},
                            {"field": "ci_upper", "format": ".0f", "title": "Upper"},
                        ],
                    },
                },
            ],
        },
        width="stretch",
    )
with heatmap_tab:
    pairs = view.winrate_pairs()
    if pairs.empty:
        st.caption("Not enough models for a heatmap yet.")
    else:
        models = list(pairs["model"].drop_duplicates())  # best rated first
        axis = {"sort": models, "type": "nominal"}
        st.vega_lite_chart(
            pairs,
            {
                "height": {"step": 30},
                "width": {"step": 30},
                "encoding": {
                    "y": {"field": "model", **axis, "title": "Model"},
                    "x": {"field": "opponent", **axis, "title": "Opponent"},
                },
                "layer": [
                    {
                        "mark": "rect",
                        "encoding": {
                            "color": {
                                "field": "win_rate",
                                "type": "quantitative",
                                "scale": {"scheme": "redblue", "domain": [0, 1]},
                                "title": "Win rate",
                            },
                            "tooltip": [
                                {"field": "model", "title": "Model"},
                                {"field": "opponent", "title": "Opponent"},
                                {"field": "win_rate", "format": ".0%", "title": "Win rate"},
                            ],
                        },
                    },
                    {
                        "mark": {"type": "text", "fontSize": 10},
                        "encoding": {"text": {"field": "win_rate", "format": ".2f"}},
                    },
                ],
            },
        )
        st.caption("Observed win rate of the row model against the column model (ties: half).")

# -- rating over time (the stored snapshots; arena history lists them) -----------------
history_models = svc.history_models()
if history_models:
    st.subheader("Rating over time", anchor=False)
    picked_model = st.selectbox(
        "Model",
        history_models,
        key="lb.history_model",
        help="The models of the newest leaderboard snapshot, best first.",
    )
    points = svc.model_history(picked_model) if picked_model else None
    if points is None or points.empty:
        st.caption(f"No snapshot rates {picked_model}.")
    else:
        x = {"field": "stored", "type": "temporal", "title": "Snapshot stored (UTC)"}
        st.vega_lite_chart(
            points,
            {
                "height": 260,
                "layer": [
                    {
                        "mark": {"type": "area", "opacity": 0.25},
                        "encoding": {
                            "x": x,
                            "y": {
                                "field": "ci_lower",
                                "type": "quantitative",
                                "scale": {"zero": False},
                                "title": "Score (95% confidence interval)",
                            },
                            "y2": {"field": "ci_upper"},
                        },
                    },
                    {
                        "mark": {"type": "line", "point": True},
                        "encoding": {
                            "x": x,
                            "y": {"field": "rating", "type": "quantitative"},
                            "tooltip": [
                                {"field": "snapshot", "title": "Snapshot"},
                                {"field": "stored", "type": "temporal", "format": "%Y-%m-%d %H:%M",
                                 "title": "Stored"},
                                {"field": "rating", "format": ".0f", "title": "Score"},
                                {"field": "ci_lower", "format": ".0f", "title": "Lower"},
                                {"field": "ci_upper", "format": ".0f", "title": "Upper"},
                                {"field": "place", "title": "Place"},
                            ],
                        },
                    },
                ],
            },
            width="stretch",
        )
        st.caption(
            f"{picked_model} over {len(points)} snapshot(s) of the live board (an admin "
            "click or ARENA_SNAPSHOT_EVERY_S stores them; `arena history` lists them)."
        )
