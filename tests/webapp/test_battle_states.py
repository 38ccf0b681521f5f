"""The battle page's states, headless (AppTest): one clear failure, the way on, honest notices.

Each test is one defect a newcomer met (issue 13): the failure message shown twice, an
unclear way on after a failure, the chat box still saying "start a round" after the
first answers, "models are still loading" staying after loading ended, loading and
failure messages naming the side of a slow or failing model, stale buttons of a
replaced round acting on the new one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from arena.service import Choice
from arena.store import Battle

from .test_pages import VOTE_LABELS, count, db, no_exceptions, texts, vote_buttons

FAILING = """
[[models]]
name = "fake-down"
backend = "fake"
fail_rate = 1.0
fail_after = 1

[[models]]
name = "fake-up"
backend = "fake"
"""

LOADING = """
[[models]]
name = "fake-slow-start"
backend = "fake"
load_time = 1.5

[[models]]
name = "fake-ready"
backend = "fake"
"""


def chat_box(at: AppTest, key: str = "arena.prompt") -> tuple[str, bool]:
    box = at.chat_input(key=key)
    return box.placeholder, box.proto.disabled


def test_after_the_first_answers_the_chat_box_sends_a_follow_up(
    app: Callable[[], AppTest],
) -> None:
    at = app().run()
    assert chat_box(at) == ("Ask anything to start a round", False)
    at.chat_input(key="arena.prompt").set_value("first question").run()
    no_exceptions(at)
    assert chat_box(at) == ("Ask a follow-up (both models see it)", False)
    assert vote_buttons(at) == [(label, False) for label in VOTE_LABELS]
    assert at.button(key="arena.stop").disabled  # nothing to stop once both are complete
    at.button(key="arena-vote-A").click().run()
    assert chat_box(at) == ("Ask anything to start a new round", False)
    assert at.button(key="arena.new").proto.type == "primary"


def test_a_failed_round_says_so_once_and_new_round_is_the_way_on(
    app: Callable[[], AppTest], app_env: Callable[..., None], db_path: Path
) -> None:
    app_env(models=FAILING)
    at = app().run()
    assert at.button(key="arena.new").proto.type == "secondary"
    at.chat_input(key="arena.prompt").set_value("hello").run()
    no_exceptions(at)
    shown = texts(at)
    message = (
        "One of the models is temporarily unavailable. This round is not counted: "
        "start a new round."
    )
    assert [e.value for e in at.error] == [message]
    assert shown.count(message) == 1  # not again as a caption
    assert [c.value for c in at.caption].count("No answer: this round failed.") == 2
    assert not any("Model A " in t or "Model B " in t for t in shown)  # never which side
    assert vote_buttons(at) == [(label, True) for label in VOTE_LABELS]
    assert at.button(key="arena.new").proto.type == "primary"
    assert not at.button(key="arena.new").disabled
    assert chat_box(at) == ("Ask anything to start a new round", False)
    at.button(key="arena.new").click().run()
    assert not at.error and count(db_path, Battle) == 1


def test_the_loading_notice_goes_once_loading_ends_and_never_names_a_side(
    app: Callable[[], AppTest], app_env: Callable[..., None]
) -> None:
    app_env(models=LOADING)
    at = app().run()
    no_exceptions(at)
    assert [i.value for i in at.info] == [
        "1 of 2 models are still loading; a battle with a loading model starts answering "
        "once it is ready."
    ]
    at.chat_input(key="arena.prompt").set_value("hello").run()  # answers after loading
    no_exceptions(at)
    assert vote_buttons(at) == [(label, False) for label in VOTE_LABELS]
    shown = texts(at)
    assert not any("loading" in t for t in shown), shown
    assert not any("Model A is" in t or "Model B is" in t for t in shown)


def test_the_idle_page_notices_when_loading_ends(
    app: Callable[[], AppTest], app_env: Callable[..., None]
) -> None:
    app_env(models=LOADING)
    at = app().run()
    assert any("still loading" in i.value for i in at.info)
    time.sleep(2.0)  # the model loads meanwhile; the notice's fragment checks again
    at.run()
    assert not any("still loading" in i.value for i in at.info)


def test_stale_buttons_of_a_replaced_round_do_nothing(
    app: Callable[[], AppTest], db_path: Path
) -> None:
    at = app().run()
    at.chat_input(key="arena.prompt").set_value("first question").run()
    old = at.session_state["arena.round"]
    at.button(key="arena.regenerate").click().run()
    no_exceptions(at)
    new = at.session_state["arena.round"]
    assert new.ticket != old.ticket and new.status == "ready"
    # A click that still carries the replaced round's ticket (a button drawn before the
    # Regenerate took effect) reaches the callback: it must touch neither round.
    script = (
        "import streamlit as st\n"
        "from webapp.common import RoundActions\n"
        "from arena.service import Choice\n"
        f"RoundActions('arena.round', 'arena.error').vote({old.ticket!r}, Choice.A)\n"
        "st.write(st.session_state.get('arena.error'))\n"
        "st.write(st.session_state['arena.round'].status)\n"
    )
    stale = AppTest.from_string(script, default_timeout=30)
    stale.session_state["arena.round"] = new
    stale.run()
    no_exceptions(stale)
    assert [m.value for m in stale.markdown] == [
        "That button belonged to an earlier round, so nothing was done.",
        "ready",
    ]
    assert db(db_path) == []
    at.button(key=f"arena-vote-{Choice.B.name}").click().run()  # the new round's own button
    assert db(db_path) == [("model_b", True)]


def test_a_stopped_round_shows_what_came_once_and_takes_no_vote(
    app: Callable[[], AppTest],
) -> None:
    from arena.service.service import STOPPED_MESSAGE

    at = app().run()
    at.chat_input(key="arena.prompt").set_value("tell me a story").run()
    ready = at.session_state["arena.round"]
    at.session_state["arena.round"] = dataclasses.replace(
        ready,
        answers_a=(),
        answers_b=(),
        status="stopped",
        message=STOPPED_MESSAGE,
        partial=("Once upon a", ""),
    )
    at.run()
    no_exceptions(at)
    assert [w.value for w in at.warning] == [STOPPED_MESSAGE]
    assert not at.error
    assert "Once upon a" in [m.value for m in at.markdown]
    captions = [c.value for c in at.caption]
    assert "(Stopped.)" in captions and "(Stopped before the first words.)" in captions
    assert vote_buttons(at) == [(label, True) for label in VOTE_LABELS]
    assert at.button(key="arena.new").proto.type == "primary"
    assert not at.button(key="arena.regenerate").disabled
    assert chat_box(at) == ("Ask anything to start a new round", False)
    at.button(key="arena.regenerate").click().run()  # the way on: answered afresh
    no_exceptions(at)
    assert at.session_state["arena.round"].status == "ready"
    assert vote_buttons(at) == [(label, False) for label in VOTE_LABELS]
