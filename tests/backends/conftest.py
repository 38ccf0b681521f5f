"""Fixtures of the backend tests: offline settings, a model cache, a scripted HTTP server."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.http_server import ScriptedServer


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where converted GGUF models are cached during the tests.

    A fresh directory by default, so the conversion path is tested; set
    ARENA_TEST_MODEL_CACHE to a directory to reuse conversions between runs.
    """
    env = os.environ.get("ARENA_TEST_MODEL_CACHE")
    if env:
        Path(env).mkdir(parents=True, exist_ok=True)
        return Path(env)
    return tmp_path_factory.mktemp("model-cache")


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
