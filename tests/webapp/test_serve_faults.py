"""A real ``arena serve`` whose database turns read-only mid-battle keeps serving.

The database, ``-wal`` and ``-shm`` files are made immutable (``chattr +i``: read-only
for root too) between the answers and the vote. Before, the next transaction killed the
server with SIGBUS. Now the page says what failed, "Thanks for voting" never appears,
the server answers its health check, and once the files are writable again the vote is
taken. Driven in Debian's Chromium (skipped, with the reason, only when Playwright or
/usr/bin/chromium is missing).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from ._serve import serve
from .test_browser import CHROMIUM, CHROMIUM_ARGS, MODELS

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
)


def _chattr(flag: str, db: Path) -> None:
    for file in sorted(db.parent.glob(db.name + "*")):
        if not file.name.endswith(".lock"):
            subprocess.run(["chattr", flag, str(file)], check=flag == "+i", capture_output=True)


def test_read_only_database_under_a_running_server(
    tmp_path: Path, webapp_template: Path
) -> None:
    with serve(tmp_path, webapp_template, MODELS) as server:
        try:
            with sync_api.sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
                )
                try:
                    page = browser.new_page()
                    page.goto(server.base + "/")
                    vote_a = page.get_by_role("button", name="A is better", exact=True)
                    vote_a.wait_for(timeout=60_000)
                    box = page.get_by_test_id("stChatInputTextArea")
                    box.fill("Which river is longest?")
                    box.press("Enter")
                    sync_api.expect(vote_a).to_be_enabled(timeout=60_000)

                    _chattr("+i", server.db)
                    vote_a.click()
                    sync_api.expect(page.get_by_text("has become read-only").first).to_be_visible(
                        timeout=30_000
                    )
                    time.sleep(1.0)
                    assert "Thanks for voting" not in page.inner_text("body")
                    assert server.healthy(), "the server died:\n" + server.log.read_text()[-3000:]

                    _chattr("-i", server.db)
                    vote_a.click()
                    sync_api.expect(page.get_by_text("Thanks for voting")).to_be_visible(
                        timeout=30_000
                    )
                finally:
                    browser.close()
        finally:
            _chattr("-i", server.db)
        assert server.healthy()
        log = server.log.read_text()
        assert "has become read-only" in log and "nothing was written" in log  # logged
