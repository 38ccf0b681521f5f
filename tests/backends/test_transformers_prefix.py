"""Packed shared-context scoring gives the backend's own log-likelihoods, with less work.

:func:`arena.backends.transformers.prefix.prefix_loglikelihood` packs a question's choices into one
sequence (the context once, then each choice, under a tree attention mask) and runs a
prefix common to many questions once per batch. Its answers must be the ones the backend
gives one request at a time (the un-optimised path) for every shape a suite or a hostile
dataset can produce: choices of unequal length, duplicates, one choice extending another,
contexts ending in spaces, an empty context, rows longer than the model's context.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arena.backends import BackendError, ModelConfig, create_backend, model_config
from arena.backends.transformers.prefix import prefix_loglikelihood, supports_prefix

#: Shared few-shot examples (TruthfulQA-like): far longer than the prefix threshold.
SHOTS = "".join(f"Question: Which colour is the sky? Answer: blue {k}.\n\n" for k in range(4))


def hellaswag_like() -> list[tuple[str, str]]:
    """Contexts with four endings each, endings of very different lengths."""
    out = []
    for k, ctx in enumerate(
        [
            "A quick brown fox jumps over the lazy dog, again and",
            "The capital of France is Paris. The capital of Italy",
            "User: What is two plus two?\nAssistant:",
        ]
    ):
        endings = [
            " again.",
            " is Rome, and the capital of France is Paris" + "." * k,
            " two plus two is four, the sky is blue, the fox is quick and brown",
            " a",
        ]
        out += [(ctx, e) for e in endings]
    return out


def fewshot_like() -> list[tuple[str, str]]:
    """One long prefix shared by every question, short choices (also single tokens)."""
    out = []
    for q in ("Which colour is the sky?", "What is two plus two?", "Which is the capital?"):
        ctx = f"{SHOTS}Question: {q} Answer:"
        out += [(ctx, c) for c in (" blue", " four", " Paris", " A", " B")]
    return out


def odd_shapes() -> list[tuple[str, str]]:
    """What hostile or unusual rows give: duplicates, extensions, spaces, empty, too long."""
    long_ctx = "The capital of France is Paris. " * 40  # beyond the 256-token context
    return [
        ("Question: Which colour is the sky? Answer:", " blue"),
        ("Question: Which colour is the sky? Answer:", " blue"),  # a duplicate
        ("Question: Which colour is the sky? Answer:", " blue sky"),  # extends the first
        ("Question: Which colour is the sky? Answer: ", "blue"),  # trailing space moves
        ("", "The capital of France is Paris."),  # empty context: scored after BOS
        (long_ctx, " The capital of Italy is Rome."),  # truncated on the left
        (long_ctx, " Paris"),
        (long_ctx[:-1], "  x"),
    ]


@pytest.fixture(scope="module")
def backend(tiny_model_config: ModelConfig) -> Iterator[Any]:
    b = create_backend(tiny_model_config)
    b.load()
    assert supports_prefix(b)
    yield b
    b.close()


def assert_like_backend(b: Any, requests: list[tuple[str, str]], batch_size: int) -> None:
    fast = prefix_loglikelihood(b, requests, batch_size=batch_size)
    assert len(fast) == len(requests)
    for req, got in zip(requests, fast, strict=True):
        (want,) = b.loglikelihood([req])  # the backend, one request at a time
        assert got.logprob == pytest.approx(want.logprob, abs=1e-4, rel=1e-6), req
        assert got.is_greedy == want.is_greedy, req


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_packed_scores_equal_the_backends_one_by_one(backend: Any, batch_size: int) -> None:
    requests = hellaswag_like() + fewshot_like() + odd_shapes()
    assert_like_backend(backend, requests, batch_size)
    # and in another order (batches and clusters then form differently)
    assert_like_backend(backend, requests[::-1], batch_size)


def test_greedy_flag_is_true_for_the_models_own_continuation(backend: Any) -> None:
    # the continuation the model itself picks, token by token, is greedy; a changed one not
    ids = backend.encode("The capital of France is")
    model = backend.model
    import torch

    with torch.inference_mode():
        for _ in range(4):
            logits = model(input_ids=torch.tensor([ids])).logits
            ids.append(int(logits[0, -1].argmax()))
    context = backend.tokenizer.decode(ids[:-4], skip_special_tokens=True)
    own = backend.tokenizer.decode(ids[-4:], skip_special_tokens=True)
    (r,) = prefix_loglikelihood(backend, [(context, own)], batch_size=8)
    (ref,) = backend.loglikelihood([(context, own)])
    assert r.is_greedy == ref.is_greedy
    assert_like_backend(backend, [(context, own), (context, own + " Rome")], 8)


def count_tokens(b: Any) -> list[int]:
    """Tokens of every decoder forward pass, recorded from now on."""
    decoder = b.model.get_decoder()
    seen: list[int] = []
    plain = decoder.forward

    @functools.wraps(plain)
    def forward(*args: Any, **kwargs: Any) -> Any:
        seen.append(int(kwargs["input_ids"].numel()))
        return plain(*args, **kwargs)

    decoder.forward = forward
    return seen


def test_a_context_runs_once_for_all_its_choices(tiny_model_config: ModelConfig) -> None:
    b: Any = create_backend(tiny_model_config)
    b.load()
    try:
        requests = hellaswag_like()
        rows = [
            len(ctx) + len(cont) - 1 for ctx, cont in (b.encode_pair(c, x) for c, x in requests)
        ]
        contexts = {c: len(b.encode_pair(c, x)[0]) for c, x in requests}
        seen = count_tokens(b)
        prefix_loglikelihood(b, requests, batch_size=64)
        # one pass, a row per question: its context once, then each ending's own tokens
        packed = [
            n_ctx + sum(r - n_ctx for r, (c, _) in zip(rows, requests, strict=True) if c == ctx)
            for ctx, n_ctx in contexts.items()
        ]
        assert seen == [len(contexts) * max(packed)]
        assert seen[0] < sum(rows) * 0.6  # the four rows of each, unpadded, cost more

        # a prefix shared by all questions (the few-shot examples) runs once per batch
        requests = fewshot_like()
        seen.clear()
        prefix_loglikelihood(b, requests, batch_size=64)
        shots = len(b.encode(SHOTS))
        assert len(seen) == 2 and seen[0] >= shots - 2  # the prefix, then the rest
        whole = sum(len(b.encode(c)) for c in dict.fromkeys(c for c, _ in requests))
        assert sum(seen) < whole  # less than the distinct contexts alone

        # one long question does not make the short ones pay its length in padding
        requests = [(f"Q: {'why ' * 60}?", " A")] + [
            (f"Q: is {k} two?", x) for k in range(6) for x in (" yes", " no")
        ]
        real = sum({c: len(b.encode_pair(c, x)[0]) for c, x in requests}.values())
        seen.clear()
        prefix_loglikelihood(b, requests, batch_size=64)
        assert sum(seen) <= 1.3 * real  # the short ones padded only among themselves
        assert_like_backend(b, requests, 64)
    finally:
        b.close()


def test_a_sliding_window_model_is_scored_exactly(tmp_path: Path) -> None:
    """Packing replaces the model's mask: rows beyond a sliding window are not packed."""
    import torch
    from transformers import AutoTokenizer, MistralConfig, MistralForCausalLM

    from tests.backends.tiny_models import build_tiny_model

    base = build_tiny_model(tmp_path / "base", chat=False, seed=5)
    tok = AutoTokenizer.from_pretrained(base)
    config = MistralConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        sliding_window=12,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(5)
    model = MistralForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.mul_(40.0)
    model.save_pretrained(tmp_path / "mistral")
    tok.save_pretrained(tmp_path / "mistral")
    b: Any = create_backend(
        model_config("sw", "transformers", path=str(tmp_path / "mistral"), device="cpu")
    )
    b.load()
    try:
        assert supports_prefix(b)
        assert_like_backend(b, hellaswag_like(), 64)  # rows beyond the window
        short = [("Question: Which", " colour"), ("Question: Which", " is")]
        assert max(len(b.encode(c + x)) for c, x in short) <= 12  # packed
        assert_like_backend(b, short, 64)
    finally:
        b.close()


def test_bad_requests_are_refused_with_the_request_named(backend: Any) -> None:
    with pytest.raises(BackendError, match="request 1: the continuation is empty"):
        prefix_loglikelihood(backend, [("a", " b"), ("a", "")], batch_size=8)
    assert prefix_loglikelihood(backend, [], batch_size=8) == []
