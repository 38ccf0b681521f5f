"""Fixtures of the backend tests: offline settings, a scripted HTTP server."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator

import pytest

from tests.backends.http_server import ScriptedServer

# ``model_cache`` and ``vllm_server`` (session fixtures the web-app tests use too) are in
# tests/conftest.py.


@pytest.fixture(scope="module")
def http_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def server(http_server: ScriptedServer) -> ScriptedServer:
    http_server.reset()
    return http_server
