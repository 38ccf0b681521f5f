"""Batched greedy decoding (the BatchGeneration capability) equals the backend's own answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.backends import (
    Backend,
    BatchGeneration,
    Message,
    ModelConfig,
    SamplingParams,
    create_backend,
)

PROMPTS = [
    "Question: what is two plus two?\nAnswer:",
    "Once upon a time",
    "x",
    "The list of prime numbers starts with 2, 3, 5, 7, 11, 13 and then",
    "Q: Name a colour.\nA:",
    "In 1492",
]


def batcher(backend: Backend) -> BatchGeneration:
    """The backend as its batched-generation capability (a transformers backend has it)."""
    assert isinstance(backend, BatchGeneration)
    return backend


@pytest.mark.parametrize(
    "stop",
    [(), ("\n",), (" the", "e")],
    ids=["no-stop", "newline", "frequent-stops"],
)
def test_batched_rows_equal_single_answers(
    tiny_model_config: ModelConfig, stop: tuple[str, ...]
) -> None:
    backend = create_backend(tiny_model_config)
    backend.load()
    params = SamplingParams(max_new_tokens=24, stop=stop)
    try:
        batched = batcher(backend).generate_batch(PROMPTS, [params] * len(PROMPTS))
        single = ["".join(backend.complete(p, params)) for p in PROMPTS]
    finally:
        backend.close()
    assert batched == single
    if stop == (" the", "e"):
        # rows finish at different steps, so rows really leave the batch early
        assert len({len(a) for a in batched}) > 1


@pytest.mark.parametrize("guard", ["repetition_penalty = 1.8", "no_repeat_ngram_size = 2"])
def test_a_repetition_guard_is_honoured_in_batches(
    tiny_model_config: ModelConfig, tmp_path: Path, guard: str
) -> None:
    """A model with a repetition guard answers the same batched as streamed, guard applied."""
    from arena.backends import load_models

    directory = tiny_model_config.options.path
    path = tmp_path / "models.toml"
    path.write_text(
        f'[[models]]\nname = "tiny-guarded"\nbackend = "transformers"\npath = "{directory}"\n'
        f'device = "cpu"\ndtype = "float32"\n{guard}\n'
    )
    guarded = create_backend(load_models(path)[0])
    plain = create_backend(tiny_model_config)
    params = SamplingParams(max_new_tokens=24)
    try:
        batched = batcher(guarded).generate_batch(PROMPTS, [params] * len(PROMPTS))
        single = ["".join(guarded.complete(p, params)) for p in PROMPTS]
        unguarded = ["".join(plain.complete(p, params)) for p in PROMPTS]
    finally:
        guarded.close()
        plain.close()
    assert batched == single
    assert batched != unguarded  # the guard changes answers, so the equality above means it


def test_conversations_in_a_batch_equal_streamed_chat_answers(
    tiny_model_config: ModelConfig,
) -> None:
    backend = create_backend(tiny_model_config)
    chats = [
        [Message("user", "Name a colour.")],
        [Message("system", "Be brief."), Message("user", "Count to three.")],
        [Message("user", "Hi"), Message("assistant", "Hello!"), Message("user", "And now?")],
    ]
    params = SamplingParams(max_new_tokens=16)
    try:
        batched = batcher(backend).generate_batch([*chats, "Once upon a time"], [params] * 4)
        single = ["".join(backend.generate(c, params)) for c in chats]
        single.append("".join(backend.complete("Once upon a time", params)))
    finally:
        backend.close()
    assert batched == single
