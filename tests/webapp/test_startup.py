"""Start-up of the web app: the first page answers while the models are still being made.

Issue 10: the first page of ``arena serve`` took about 14 s because the model pool
created every backend inside that page's script run, and creating a local model's backend
imports torch and transformers. Now each backend is created in its model's loading
thread (``arena.service.pool.DeferredBackend``).

* Headless (AppTest, in this process): a backend whose *creation* is held back by a gate
  (as an import of torch would hold it). The page must render its prompt box and the
  loading notice while the gate is closed (before the fix, the run waited for the gate
  and timed out), and the first battle sent while the models are still being made must
  be answered once they are. A backend that cannot be created (a missing package) must
  give the page's "battles cannot start" warning and its reason on the admin page.
* In Chromium, against a real ``arena serve``: a model that takes seconds to load; the
  page shows the prompt box and the notice at once, a prompt sent meanwhile is answered
  when the model is ready, and the vote is stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from arena.backends import Backend, ModelConfig
from arena.backends.options import FakeOptions
from arena.backends.registry import _REGISTRY, register_backend
from arena.store import Vote, make_engine, make_sessionmaker

from .conftest import APP, PASSWORD
from .test_pages import VOTE_LABELS, db, no_exceptions, texts, vote_buttons

GATED = """
[[models]]
name = "gated-one"
backend = "gated-test"
seed = 1

[[models]]
name = "gated-two"
backend = "gated-test"
seed = 2
"""

BROKEN = """
[[models]]
name = "fake-fine"
backend = "fake"

[[models]]
name = "needs-missing-package"
backend = "missing-package-test"
"""

LOADING_NOTICE = (
    "2 of 2 models are still loading; a battle with a loading model starts answering "
    "once it is ready."
)


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """A ``gated-test`` backend (the fake one) whose creation waits for the event."""
    opened = threading.Event()
    made: list[str] = []

    @register_backend("gated-test", options=FakeOptions)
    def gated() -> Callable[[ModelConfig], Backend]:
        opened.wait(timeout=120)  # a test that fails never leaves a thread behind forever
        from arena.backends.fake import FakeBackend

        made.append(threading.current_thread().name)
        return FakeBackend

    @register_backend("missing-package-test", options=FakeOptions)
    def missing() -> Callable[[ModelConfig], Backend]:
        raise ImportError("No module named 'not_installed_here'", name="not_installed_here")

    yield opened
    opened.set()
    _REGISTRY.pop("gated-test", None)
    _REGISTRY.pop("missing-package-test", None)
    # Made in the pool's thread (or a battle's worker that needed it first), never in the
    # page's script thread.
    assert not any(name.startswith("ScriptRunner") for name in made), made


def test_the_page_renders_while_backends_are_made_and_the_first_battle_waits_for_them(
    app_env: Callable[..., None], gate: threading.Event, db_path: Path
) -> None:
    import streamlit as st

    app_env(models=GATED)
    try:
        # Short timeout: before the fix this run waited for the gate, i.e. for ever.
        at = AppTest.from_file(str(APP), default_timeout=20).run()
        no_exceptions(at)
        assert [i.value for i in at.info] == [LOADING_NOTICE]
        assert at.chat_input(key="arena.prompt").proto.disabled is False
        assert vote_buttons(at) == [(label, True) for label in VOTE_LABELS]
        # The visitor does not wait for the models to send a prompt: the battle starts,
        # and its answers come once both models are made and loaded.
        threading.Timer(1.0, gate.set).start()
        at.chat_input(key="arena.prompt").set_value("Name three rivers").run(timeout=60)
        no_exceptions(at)
        assert vote_buttons(at) == [(label, False) for label in VOTE_LABELS]
        shown = texts(at)
        assert not any("loading" in t for t in shown), shown
        answered = at.session_state["arena.round"]
        assert answered.status == "ready" and answered.answers_a[0] and answered.answers_b[0]
        at.button(key="arena-vote-A").click().run()
        no_exceptions(at)
        assert any("Thanks for voting" in s.value for s in at.success)
        assert db(db_path) == [("model_a", True)]
    finally:
        gate.set()
        st.cache_resource.clear()


def test_a_backend_that_cannot_be_made_is_shown_as_failed(
    app_env: Callable[..., None], gate: threading.Event
) -> None:
    import streamlit as st

    app_env(models=BROKEN, ARENA_ADMIN_PASSWORD=PASSWORD)
    try:
        at = AppTest.from_file(str(APP), default_timeout=20).run()
        no_exceptions(at)
        # The creation fails in the loading thread, a moment after the first page.
        for _ in range(100):
            if any("cannot start" in w.value for w in at.warning):
                break
            time.sleep(0.1)
            at.run()
        assert [w.value for w in at.warning] == [
            "Fewer than two models are available right now (1 failed to load; the admin page "
            "says why): battles cannot start. Try later."
        ]
        assert "needs-missing-package" not in "\n".join(texts(at))  # never a name here
        from webapp.common import service

        states = {s.name: s for s in service().model_states()}
        assert states["needs-missing-package"].state == "failed"
        assert "not_installed_here" in (states["needs-missing-package"].error or "")
        assert states["fake-fine"].state == "ready"
    finally:
        st.cache_resource.clear()


# -- in a real browser -------------------------------------------------------------------

SLOW = """
[[models]]
name = "fake-slow-start"
backend = "fake"
load_time = 12

[[models]]
name = "fake-ready"
backend = "fake"
"""


def test_in_a_browser_the_page_answers_before_the_models_and_the_battle_after(
    tmp_path: Path, webapp_template: Path
) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
    )
    from ._serve import serve
    from .test_browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.is_file():  # pragma: no cover - CI installs it
        pytest.skip("Debian's Chromium is not installed (apt-get install chromium)")
    with serve(tmp_path, webapp_template, SLOW) as server, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page()
            page.goto(server.base + "/")
            box = page.get_by_test_id("stChatInputTextArea")
            box.wait_for(timeout=60_000)
            # The page is up while a model is still loading, and says so.
            sync_api.expect(page.get_by_text("1 of 2 models are still loading")).to_be_visible()
            box.fill("Which river is longest?")
            box.press("Enter")
            sync_api.expect(
                page.get_by_text("A model is still loading; its answer starts once it is ready")
            ).to_be_visible(timeout=30_000)
            vote_a = page.get_by_role("button", name="A is better", exact=True)
            sync_api.expect(vote_a).to_be_enabled(timeout=120_000)
            sync_api.expect(page.get_by_text("still loading")).to_have_count(0)
            vote_a.click()
            sync_api.expect(page.get_by_text("Thanks for voting")).to_be_visible(
                timeout=30_000
            )
        finally:
            browser.close()
    engine = make_engine(f"sqlite:///{server.db}")
    with make_sessionmaker(engine)() as session:
        votes = session.execute(select(Vote.outcome, Vote.anonymous)).all()
    engine.dispose()
    assert [(o, bool(a)) for o, a in votes] == [("model_a", True)]
