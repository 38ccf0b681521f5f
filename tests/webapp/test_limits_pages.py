"""Limits on the pages: a new tab does not reset the message limit; wrong admin passwords
are slowed for every session of the client; Side-by-side never offers a preview.

Each ``AppTest`` is a separate session (a new tab); all come from this machine, so they
share one client address, as tabs of one visitor do.
"""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from .conftest import PASSWORD


def _send(at: AppTest, text: str) -> None:
    at.chat_input(key="arena.prompt").set_value(text).run()


def _errors(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.error]


def test_new_tabs_share_the_address_limit(
    app: Callable[[], AppTest], app_env: Callable[..., None]
) -> None:
    app_env(ARENA_RATE_LIMIT="5", ARENA_CLIENT_RATE_LIMIT="2", ARENA_RATE_WINDOW_S="600")
    first = app().run()
    _send(first, "hello")
    assert _errors(first) == []
    tab = app().run()  # a new tab: a new session and voter token, the same address
    _send(tab, "hello again")
    assert _errors(tab) == []
    third = app().run()
    _send(third, "and again")
    assert any("too many messages from your address" in e for e in _errors(third))
    assert [e.value for e in third.exception] == []


def test_wrong_admin_passwords_are_slowed_across_sessions(
    app: Callable[[], AppTest], app_env: Callable[..., None]
) -> None:
    app_env(ARENA_ADMIN_PASSWORD=PASSWORD)
    at = app().run()
    at.switch_page("views/admin.py").run()
    for _ in range(5):  # the free tries
        at.text_input(key="admin.password").input("guess")
        at.button[0].click().run()
        assert _errors(at) == ["Wrong password."]
    at.text_input(key="admin.password").input(PASSWORD)
    at.button[0].click().run()  # now every try waits, even the right one
    assert any("too many wrong passwords from your address" in e for e in _errors(at))
    other = app().run()  # a new session from the same address buys no guesses
    other.switch_page("views/admin.py").run()
    other.text_input(key="admin.password").input(PASSWORD)
    other.button[0].click().run()
    assert any("too many wrong passwords from your address" in e for e in _errors(other))
    assert not other.tabs and [e.value for e in other.exception] == []


def test_side_by_side_never_offers_an_unrevealed_preview(
    app: Callable[[], AppTest], app_env: Callable[..., None]
) -> None:
    app_env(ARENA_ADMIN_PASSWORD=PASSWORD)
    at = app().run()
    at.switch_page("views/side_by_side.py").run()
    offered = set(at.selectbox(key="sbs.a").options) | set(at.selectbox(key="sbs.b").options)
    assert offered == {"Alpha Chat", "Beta Chat"}  # not kestrel (fake-gamma, a preview)
    admin = app().run()
    admin.switch_page("views/admin.py").run()
    admin.text_input(key="admin.password").input(PASSWORD)
    admin.button[0].click().run()
    admin.selectbox(key="admin.model").select("fake-gamma").run()
    admin.button(key="admin.reveal").click().run()
    after = app().run()
    after.switch_page("views/side_by_side.py").run()
    assert "Gamma Chat" in after.selectbox(key="sbs.a").options  # revealed: offered by name
