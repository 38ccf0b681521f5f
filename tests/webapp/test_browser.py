"""A real browser (Debian's Chromium, driven by Playwright) against a real ``arena serve``.

One full battle: the prompt carries an HTML/script payload and one model answers with
another; both must stay text (no dialog, no element made from them), no model name may
reach the page or its websocket before the vote, and the vote must be in the database.

Skipped, with the reason, only when Playwright or /usr/bin/chromium is not installed (CI
installs both; the browser is never downloaded).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from arena.store import Vote, make_engine, make_sessionmaker

from .conftest import write_models

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
PROMPT_PAYLOAD = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2</script>'
ANSWER_PAYLOAD = '<img src=x onerror="window.__xss=3;alert(3)"> <script>alert(4)</script> Done.'
MODELS = f"""
[[models]]
name = "fake-alpha"
backend = "fake"
display_name = "Alpha Chat"
organization = "Alpha Labs"
answers = ['{ANSWER_PAYLOAD}']

[[models]]
name = "fake-beta"
backend = "fake"
display_name = "Beta Chat"
organization = "Beta Works"
"""
NAMES = ("fake-alpha", "Alpha Chat", "Alpha Labs", "fake-beta", "Beta Chat", "Beta Works")

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
)
if not CHROMIUM.is_file():  # pragma: no cover - CI installs it
    pytest.skip(
        "Debian's Chromium is not installed (apt-get install chromium)", allow_module_level=True
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, webapp_template: Path) -> Iterator[tuple[str, str]]:
    """``arena serve`` on a free port; yields (page URL, database URL)."""
    db = tmp_path / "arena.db"
    shutil.copy(webapp_template, db)
    url = f"sqlite:///{db}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_RATE_LIMIT="0", PYTHONPATH=str(ROOT))
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "arena.cli.serve",
            "--port",
            str(port),
            "--database",
            url,
            "--models",
            str(write_models(tmp_path, MODELS)),
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("arena serve did not start:\n" + (tmp_path / "serve.log").read_text())
        time.sleep(0.2)
    try:
        yield base, url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_battle_in_a_real_browser(server: tuple[str, str]) -> None:
    base, url = server
    frames: list[bytes] = []
    dialogs: list[str] = []

    def on_socket(ws: object) -> None:
        def keep(payload: str | bytes) -> None:
            frames.append(payload.encode() if isinstance(payload, str) else payload)

        ws.on("framereceived", keep)  # type: ignore[attr-defined]

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page()
            page.on("websocket", on_socket)

            def on_dialog(dialog: object) -> None:
                dialogs.append(dialog.message)  # type: ignore[attr-defined]
                dialog.dismiss()  # type: ignore[attr-defined]

            page.on("dialog", on_dialog)
            page.goto(base + "/")
            vote_a = page.get_by_role("button", name="A is better", exact=True)
            vote_a.wait_for(timeout=60_000)
            sync_api.expect(vote_a).to_be_disabled()

            box = page.get_by_test_id("stChatInputTextArea")
            box.fill(PROMPT_PAYLOAD + " Which river is longest?")
            box.press("Enter")
            sync_api.expect(vote_a).to_be_enabled(timeout=60_000)
            page.get_by_text("Done.").first.wait_for(timeout=30_000)
            time.sleep(0.5)  # let the last deltas arrive

            # Both payloads are shown as text and did nothing.
            sync_api.expect(page.get_by_text("Which river is longest?").first).to_be_visible()
            body = page.inner_text("body")
            assert '<img src=x onerror="window.__xss=3' in body
            assert page.locator("img[src='x']").count() == 0
            assert page.locator("main script").count() == 0
            assert page.evaluate("window.__xss") is None
            assert dialogs == []

            # No model name in the page or on the wire before the vote.
            html = page.content()
            before = b"".join(frames)
            assert before, "no websocket frames captured"
            for name in NAMES:
                assert name not in html, name
                assert name.encode() not in before, name

            vote_a.click()
            sync_api.expect(page.get_by_text("Thanks for voting")).to_be_visible(timeout=30_000)
            sync_api.expect(vote_a).to_be_disabled()
            revealed = page.inner_text("body")
            assert "Alpha Chat" in revealed and "Beta Chat" in revealed
            assert b"Alpha Chat" in b"".join(frames)  # the capture would have seen a leak
            assert dialogs == [] and page.evaluate("window.__xss") is None
        finally:
            browser.close()

    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        votes = session.execute(select(Vote.outcome, Vote.anonymous)).all()
    engine.dispose()
    assert [(o, bool(a)) for o, a in votes] == [("model_a", True)]
