"""Conversations are :class:`~arena.backends.Message` s in the harness; their cache keys are pinned.

A resumed run, or a second run sharing a cache, finds an answer only when the request's key
is the same as when it was stored. The keys below were computed by the harness before chat
prompts became ``Message`` s (when they were ``(role, text)`` tuples); a change in how a
conversation is hashed would make every stored answer of a chat run miss.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.backends import InvalidParams, Message, SamplingParams, model_config
from arena.harness import ModelRunner, RequestCache, messages_from_json, messages_json, prompt_json

CHAT = (Message("system", "You are terse."), Message("user", "Name a river.\n\nA:"))
PLAIN = "Q: 2+2?\nA:"
#: Keys of CHAT and PLAIN to the fake model "pinned", greedy, 8 new tokens (before the change).
CHAT_KEY = "169e8aa579d63a0d87395c5554664417d1c07f603c2af01b3531d5145abef11b"
PLAIN_KEY = "11053351788522747664a8c363612c0b7438a38d5050df2e4814404081601434"


def test_chat_and_plain_prompts_are_stored_under_the_keys_of_earlier_runs(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    runner = ModelRunner(model_config("pinned", "fake"), RequestCache(path))
    params = [SamplingParams(max_new_tokens=8, temperature=0.0)] * 2
    try:
        answers = runner.generate([CHAT, PLAIN], params)
    finally:
        runner.close()
    reopened = RequestCache(path)
    try:
        stored = reopened.get_many([CHAT_KEY, PLAIN_KEY])
    finally:
        reopened.close()
    assert stored == {CHAT_KEY: answers[0], PLAIN_KEY: answers[1]}
    assert all(a["text"] for a in answers)


def test_a_run_on_a_cache_of_earlier_runs_asks_nothing(tmp_path: Path) -> None:
    # the answers stored under the pinned keys are what a later run gets, without asking
    path = tmp_path / "cache.sqlite"
    earlier = RequestCache(path)
    earlier.put_many({CHAT_KEY: {"text": "the Nile"}, PLAIN_KEY: {"text": "4"}})
    earlier.close()

    def no_backend(config: object) -> object:
        raise AssertionError("a cached request reached the backend")

    config = model_config("pinned", "fake")
    runner = ModelRunner(config, RequestCache(path), factory=no_backend)  # type: ignore[arg-type]
    params = [SamplingParams(max_new_tokens=8, temperature=0.0)] * 2
    try:
        got = runner.generate([CHAT, PLAIN], params)
    finally:
        runner.close()
    assert got == [{"text": "the Nile"}, {"text": "4"}]


def test_messages_are_written_as_role_text_pairs_and_read_back() -> None:
    data = messages_json(CHAT)
    assert data == [["system", "You are terse."], ["user", "Name a river.\n\nA:"]]
    assert messages_from_json(data) == CHAT
    assert prompt_json(CHAT) == data and prompt_json(PLAIN) == PLAIN
    with pytest.raises(InvalidParams, match="role must be one of"):
        messages_from_json([["tool", "rm -rf /"]])
