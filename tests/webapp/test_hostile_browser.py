"""Hostile answers in a real Chromium: the page makes no request outside the app's origin.

Both fake models answer with the whole corpus of tests/service/_hostile.py (images in
every Markdown form, raw HTML that loads resources, script links, LaTeX, Streamlit
directives). Every request the page makes, during the stream, after it and after the
vote, is recorded with ``page.on("request")``; any request that is not to the app's
own address (the attacker's host, or anything else) fails the test. The answers must
still be visible, as text.

Skipped, with the reason, only when Playwright or /usr/bin/chromium is not installed (CI
installs both; the browser is never downloaded).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service._hostile import HOST, HOSTILE

from ._serve import serve
from .test_browser import CHROMIUM, CHROMIUM_ARGS

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
)

CORPUS = "\n\n".join(f"Attack {i}: {what}.\n\n{answer}" for i, (what, answer) in enumerate(HOSTILE))
END = "End of the hostile corpus."
MODELS = f"""
[[models]]
name = "fake-alpha"
backend = "fake"
display_name = "Alpha Chat"
chunk_words = 7
answers = [{json.dumps(CORPUS + chr(10) + chr(10) + END)}]

[[models]]
name = "fake-beta"
backend = "fake"
display_name = "Beta Chat"
chunk_words = 7
answers = [{json.dumps(CORPUS + chr(10) + chr(10) + END)}]
"""


@pytest.fixture
def hostile_server(tmp_path: Path, webapp_template: Path) -> Iterator[str]:
    """``arena serve`` with the two hostile models; yields the page URL."""
    with serve(tmp_path, webapp_template, MODELS) as server:
        yield server.base


def test_hostile_answers_make_no_outside_request(hostile_server: str) -> None:
    base = hostile_server
    own = (base + "/", base.replace("http://", "ws://") + "/")
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(base + "/")
            vote_a = page.get_by_role("button", name="A is better", exact=True)
            vote_a.wait_for(timeout=60_000)
            box = page.get_by_test_id("stChatInputTextArea")
            box.fill("Show me everything.")
            box.press("Enter")
            sync_api.expect(vote_a).to_be_enabled(timeout=90_000)
            sync_api.expect(page.get_by_text(END).first).to_be_visible(timeout=30_000)
            time.sleep(1.0)  # let late loads (lazy images, fonts) start
            assert requests, "no request recorded: the recorder did not work"
            assert [url for url in requests if not url.startswith(own)] == []

            body = page.inner_text("body")
            for shown in ("image: pixel", "image: ref pixel", "<iframe src=", "[click](javascript"):
                assert shown in body, shown
            assert page.locator("main img").count() == 0
            assert page.locator("main iframe, main svg image, main object, main embed").count() == 0

            vote_a.click()
            sync_api.expect(page.get_by_text("Thanks for voting")).to_be_visible(timeout=30_000)
            time.sleep(1.0)
        finally:
            browser.close()
    outside = [url for url in requests if not url.startswith(own)]
    assert outside == [], outside
    assert not any(HOST in url for url in requests)
