"""The battle page's states in a real browser (Debian's Chromium via Playwright), as screenshots.

One ``arena serve`` with two slow fake models (one slow to start, one failing on some
prompts) goes through every state a visitor meets: empty, streaming, complete, stopped,
failed and voted. Each is checked (buttons, the one message) and saved as a PNG under
``test-output/screenshots/`` (ignored by git; the path is printed) for a reviewer to look
at. Along the way: a click on a stale vote button right after Regenerate must not touch
the new round, and the page must make no request to any other host (the page icon
included).

Skipped, with the reason, only when Playwright or /usr/bin/chromium is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from arena.backends import Message, SamplingParams, create_backend, model_config
from arena.backends.fake import FakeBackend
from arena.store import Battle, Vote, make_engine, make_sessionmaker

from .conftest import write_models
from .test_browser import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, sync_api

SCREENSHOTS = ROOT / "test-output" / "screenshots"
ANSWERS = {
    "left": (
        "The Nile is usually named the longest river, at about 6,650 km. It flows north "
        "through eleven countries, from the lakes of East Africa to the Mediterranean. "
        "Some measurements of the Amazon start from a more distant source in the Andes and "
        "make it slightly longer, so the answer depends on where you measure from."
    ),
    "right": (
        "The **Amazon** and the **Nile** are both close to 6,500 km long.\n\n"
        "- The Nile is the traditional answer.\n"
        "- The Amazon carries by far the most water: about a fifth of all the river water "
        "that reaches the oceans.\n\n"
        "Which of the two is longer is still debated by geographers."
    ),
}
LATENCY = 0.08  # seconds per word: about 4 s per answer


def models() -> str:
    return f"""
[[models]]
name = "fake-left"
backend = "fake"
display_name = "Left Chat"
answers = ['''{ANSWERS["left"]}''']
latency = {LATENCY}
first_delay = 1.5

[[models]]
name = "fake-right"
backend = "fake"
display_name = "Right Chat"
answers = ['''{ANSWERS["right"]}''']
latency = {LATENCY}
fail_rate = 0.5
fail_after = 8
"""


def prompts() -> tuple[list[str], str]:
    """Prompts on which fake-right answers, and one on which it fails (by its hash)."""
    config = model_config(
        "fake-right", "fake", answers=[ANSWERS["right"]], fail_rate=0.5, fail_after=8
    )
    backend = create_backend(config)
    assert isinstance(backend, FakeBackend)
    good: list[str] = []
    bad: str | None = None
    natural = [
        "Which river is the longest?",
        "Which river is the longest in the world?",
        "What is the longest river on Earth?",
        "Is the Nile longer than the Amazon?",
        "Name the longest river.",
        "Which is longer, the Nile or the Amazon?",
        "Tell me about the world's longest river.",
        "How long is the longest river?",
    ]
    for i in range(200):
        prompt = natural[i] if i < len(natural) else f"Which river is the longest? (try {i})"
        key = "\n".join(f"{m.role}: {m.content}" for m in [Message("user", prompt)])
        fails = backend._failure("generate", key) is not None
        if fails and bad is None:
            bad = prompt
        elif not fails:
            good.append(prompt)
        if bad is not None and len(good) >= 4:
            break
    assert bad is not None and len(good) >= 4
    assert list(backend.generate([Message("user", good[0])], SamplingParams()))
    return good, bad


@pytest.fixture
def server(tmp_path: Path, webapp_template: Path) -> Iterator[tuple[str, str]]:
    """``arena serve`` on a free port with the slow models; yields (page URL, database URL)."""
    db = tmp_path / "arena.db"
    shutil.copy(webapp_template, db)
    url = f"sqlite:///{db}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_RATE_LIMIT="0", PYTHONPATH=str(ROOT))
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    command = [sys.executable, "-m", "arena.cli.serve", "--port", str(port), "--database", url]
    command += ["--models", str(write_models(tmp_path, models()))]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
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
            pytest.fail("arena serve did not start:\n" + log_path.read_text())
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


def stored(url: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    """Every battle's (status, error) in order, and every vote's outcome."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        battles = [(s, e) for s, e in session.execute(select(Battle.status, Battle.error))]
        votes = list(session.scalars(select(Vote.outcome)))
    engine.dispose()
    return sorted(battles, key=lambda b: b[0]), votes


def test_every_state_of_the_battle_page(server: tuple[str, str]) -> None:
    base, url = server
    good, bad = prompts()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    saved: list[Path] = []
    expect = sync_api.expect

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("request", lambda request: requests.append(request.url))

            def shot(name: str) -> None:
                time.sleep(0.3)  # let the last deltas paint
                path = SCREENSHOTS / f"battle-{name}.png"
                page.screenshot(path=str(path), full_page=True)
                saved.append(path)

            vote_a = page.get_by_role("button", name="A is better", exact=True)
            stop = page.get_by_role("button", name="Stop", exact=True)
            new_round = page.get_by_role("button", name="New round", exact=True)
            regenerate = page.get_by_role("button", name="Regenerate", exact=True)
            box = page.get_by_test_id("stChatInputTextArea")

            def ask(prompt: str) -> None:
                expect(box).to_be_enabled(timeout=30_000)
                box.fill(prompt)
                box.press("Enter")

            def fresh() -> None:
                new_round.click()
                page.get_by_text("The answer will appear here.").first.wait_for(timeout=30_000)

            def complete() -> None:
                expect(vote_a).to_be_enabled(timeout=60_000)

            # Empty.
            page.goto(base + "/")
            vote_a.wait_for(timeout=60_000)
            expect(vote_a).to_be_disabled()
            expect(box).to_have_attribute("placeholder", "Ask anything to start a round")
            shot("empty")

            # Streaming: answers coming, vote buttons off, Stop on, the chat box waits.
            ask(good[0])
            page.get_by_text("Writing…").first.wait_for(timeout=30_000)
            expect(page.get_by_text("The answers are coming")).to_be_visible(timeout=10_000)
            expect(vote_a).to_be_disabled()
            expect(stop).to_be_enabled()
            shot("streaming")

            # Complete: votes on, the chat box sends a follow-up.
            complete()
            expect(page.get_by_text("where you measure from.").first).to_be_visible()
            expect(box).to_have_attribute("placeholder", "Ask a follow-up (both models see it)")
            expect(stop).to_be_disabled()
            shot("complete")

            # A click on the old round's vote button right after Regenerate: nothing
            # happens to either round, and the new one completes.
            regenerate.click()
            vote_a.click(timeout=2_000, force=True, no_wait_after=True)
            page.get_by_text("Writing…").first.wait_for(timeout=30_000)
            expect(vote_a).to_be_disabled(timeout=10_000)
            complete()
            time.sleep(0.5)
            battles, votes = stored(url)
            assert votes == []
            assert battles == [("failed", "replaced by a regenerated round"), ("ready", None)]

            # Stopped (before one side's first token): what came is shown, no vote, the
            # way on is clear.
            fresh()
            ask(good[1])
            page.get_by_text("Writing…").first.wait_for(timeout=30_000)
            expect(page.get_by_text("Waiting for the answer…")).to_be_visible()
            stop.click()
            stopped = page.get_by_text("You stopped the answers before both were complete")
            expect(stopped).to_be_visible(timeout=30_000)
            expect(vote_a).to_be_disabled()
            expect(page.get_by_text("(Stopped.)").first).to_be_visible()
            shot("stopped")

            # Failed: one message, no side named, New round is the primary button.
            fresh()
            ask(bad)
            alert = page.get_by_test_id("stAlertContentError")
            expect(alert).to_have_count(1, timeout=60_000)
            text = alert.inner_text()
            assert "This round is not counted" in text
            assert "Model A" not in text and "Model B" not in text
            assert page.inner_text("body").count("This round is not counted") == 1
            expect(vote_a).to_be_disabled()
            expect(new_round).to_have_attribute("data-testid", "stBaseButton-primary")
            shot("failed")

            # Voted: the reveal.
            fresh()
            ask(good[2])
            complete()
            vote_a.click()
            expect(page.get_by_text("Thanks for voting")).to_be_visible(timeout=30_000)
            body = page.inner_text("body")
            assert "Left Chat" in body and "Right Chat" in body
            shot("voted")
        finally:
            browser.close()

    print("\nbattle page screenshots:\n" + "\n".join(f"  {p}" for p in saved))
    assert all(p.stat().st_size > 10_000 for p in saved)
    others = {
        urllib.parse.urlsplit(u).netloc
        for u in requests
        if not u.startswith(("data:", "blob:")) and urllib.parse.urlsplit(u).netloc
    }
    assert others == {base.removeprefix("http://")}, others  # no third-party request
    battles, votes = stored(url)
    assert votes == ["model_a"]
