"""Judge test fixtures: the fake models and the prompt set of :mod:`tests.judge._data`."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.backends import ModelConfig, load_models
from arena.judge import JudgePrompt, read_prompt_file

from ._data import MODELS, write_prompts


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelConfig]:
    path = tmp_path_factory.mktemp("judge") / "models.toml"
    path.write_text(MODELS)
    return {m.name: m for m in load_models(path)}


@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_prompts(tmp_path_factory.mktemp("prompts") / "prompts.jsonl")


@pytest.fixture(scope="module")
def prompts(prompts_file: Path) -> list[JudgePrompt]:
    return read_prompt_file(prompts_file)
