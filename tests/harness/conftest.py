"""Harness test fixtures: offline settings, fake models (the tiny transformers model is in
tests/conftest.py: the backend tests use it too)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest

from arena.backends import ModelConfig, load_models

FAKE_MODELS = """
[[models]]
name = "fake-a"
backend = "fake"
seed = 1

[[models]]
name = "fake-b"
backend = "fake"
seed = 2
answers = ["    return a + b\\n", "5", "    return n % 2 == 0\\n"]
"""


@pytest.fixture(scope="session")
def fake_models(tmp_path_factory: pytest.TempPathFactory) -> list[ModelConfig]:
    path = tmp_path_factory.mktemp("models") / "models.toml"
    path.write_text(FAKE_MODELS)
    return list(load_models(path))


@pytest.fixture
def suite_dir(tmp_path: Path) -> Path:
    return tmp_path
