"""A battle in a real browser between two models served by vLLM, the answers streaming.

``arena serve`` runs with a models file whose two models are the session's vLLM server
(tests/conftest.py ``vllm_server``, SmolLM2-135M-Instruct) under two display names.
Debian's Chromium (driven by Playwright) sends a prompt and samples both answer boxes
while they are written: each answer must grow over several samples before it is
complete (it streams, it is not shown at once), no model name may reach the page or its
websocket before the vote, and after the vote both names are revealed and the vote is in
the database.

Skipped, with the reason, only when Playwright or /usr/bin/chromium is not installed (CI
installs both); vLLM is installed by ``make vllm`` (``make test`` runs it).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from arena.store import Battle, Vote, make_engine, make_sessionmaker
from tests.conftest import VLLM_MODEL

from ._serve import serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
NAMES = ("vllm-left", "Lighthouse Chat", "Harbour Labs", "vllm-right", "Beacon Chat", "Quay Works")
PROMPT = "Write a short story of about 150 words about a lighthouse keeper and a storm."
#: The script that reads both answer boxes: the assistant messages, side A then side B.
ANSWERS_JS = """() => Array.from(document.querySelectorAll('[data-testid="stChatMessage"]'))
  .filter(m => m.querySelector('[data-testid="stChatMessageAvatarAssistant"]'))
  .map(m => m.innerText)"""

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
)
if not CHROMIUM.is_file():  # pragma: no cover - CI installs it
    pytest.skip(
        "Debian's Chromium is not installed (apt-get install chromium)", allow_module_level=True
    )


def models_file(url: str) -> str:
    """Two models on the one server: same weights, two names (the arena cannot tell)."""
    entries = []
    for name, display, org in (NAMES[:3], NAMES[3:]):
        entries.append(
            f'[[models]]\nname = "{name}"\nbackend = "openai"\nbase_url = "{url}"\n'
            f'model = "{VLLM_MODEL}"\ndisplay_name = "{display}"\norganization = "{org}"\n'
            "timeout = 300\n"
        )
    return "\n".join(entries)


def test_a_battle_streams_from_vllm_and_is_voted(
    vllm_server: Any, tmp_path: Path, webapp_template: Path
) -> None:
    frames: list[bytes] = []

    def on_socket(ws: Any) -> None:
        ws.on("framereceived", lambda p: frames.append(p.encode() if isinstance(p, str) else p))

    # answers of at most 128 tokens: long enough to be seen growing, short enough for a
    # loaded 2-core machine
    models = models_file(vllm_server.url)
    with serve(tmp_path, webapp_template, models, ARENA_MAX_NEW_TOKENS="128") as server:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            try:
                page = browser.new_page()
                page.on("websocket", on_socket)
                page.goto(server.base + "/")
                vote_b = page.get_by_role("button", name="B is better", exact=True)
                vote_b.wait_for(timeout=60_000)
                sync_api.expect(vote_b).to_be_disabled()
                box = page.get_by_test_id("stChatInputTextArea")
                box.fill(PROMPT)
                box.press("Enter")

                # sample both boxes until the round is complete (vote buttons on)
                samples: list[list[str]] = []
                deadline = time.monotonic() + 600
                while not vote_b.is_enabled():
                    assert time.monotonic() < deadline, f"no complete round; {samples[-3:]}"
                    samples.append(page.evaluate(ANSWERS_JS))
                    time.sleep(0.15)
                final = page.evaluate(ANSWERS_JS)

                # each side grew while it was being written: several partial answers,
                # longer and longer, each the beginning of the next
                for side in (0, 1):
                    partial = [
                        s[side].replace("Writing…", "").strip()
                        for s in samples
                        if len(s) == 2 and "Writing…" in s[side]
                    ]
                    partial = [t for t in partial if t]
                    distinct = list(dict.fromkeys(partial))
                    assert len(distinct) >= 3, (side, distinct)
                    lengths = [len(t) for t in distinct]
                    assert lengths == sorted(lengths), (side, lengths)
                    assert distinct[-1] != distinct[0]
                    assert len(final[side].strip()) >= len(distinct[0]), (side, final)
                assert len(final) == 2 and all(len(t.split()) >= 10 for t in final), final

                # no model name on the page or the wire before the vote
                html = page.content()
                before = b"".join(frames)
                assert before, "no websocket frames captured"
                for name in NAMES:
                    assert name not in html, name
                    assert name.encode() not in before, name

                vote_b.click()
                sync_api.expect(page.get_by_text("Thanks for voting")).to_be_visible(
                    timeout=60_000
                )
                revealed = page.inner_text("body")
                assert "Lighthouse Chat" in revealed and "Beacon Chat" in revealed
            finally:
                browser.close()

        engine = make_engine(f"sqlite:///{server.db}")
        with make_sessionmaker(engine)() as session:
            votes = session.execute(select(Vote.outcome)).scalars().all()
            battles = session.execute(select(Battle.status)).scalars().all()
        engine.dispose()
    assert votes == ["model_b"]
    assert battles == ["voted"]
