"""Harness test fixtures: offline settings, fake models, a tiny random transformers model."""

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


@pytest.fixture(scope="session")
def tiny_model_config(tmp_path_factory: pytest.TempPathFactory) -> ModelConfig:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.backends.tiny_models import build_tiny_model

    root = tmp_path_factory.mktemp("tiny")
    directory = build_tiny_model(root / "base", chat=False, seed=3)
    path = root / "models.toml"
    path.write_text(
        f'[[models]]\nname = "tiny"\nbackend = "transformers"\npath = "{directory}"\n'
        'device = "cpu"\ndtype = "float32"\n'
    )
    return load_models(path)[0]


@pytest.fixture
def suite_dir(tmp_path: Path) -> Path:
    return tmp_path
