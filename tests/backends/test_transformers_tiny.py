"""The transformers backend on tiny random models: generation, streaming, stops, log-likelihoods.

They run on the CPU in float32. ARENA_TEST_DEVICE (e.g. ``cuda``) and ARENA_TEST_DTYPE
(e.g. ``bfloat16``) run them elsewhere; in a half-precision dtype, scores are compared with a
looser tolerance and greedy flags are not compared (batched and unbatched passes round
differently).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from arena.backends import (  # noqa: E402
    BackendError,
    InvalidParams,
    Message,
    SamplingParams,
    create_backend,
    model_config,
)
from arena.backends.transformers.backend import (  # noqa: E402
    ROLE_MARKERS,
    AnswerStream,
    TransformersBackend,
)
from tests.backends.tiny_models import build_tiny_model  # noqa: E402

ASK = [Message("user", "What is the capital of France?")]
DEVICE = os.environ.get("ARENA_TEST_DEVICE", "cpu")
DTYPE = os.environ.get("ARENA_TEST_DTYPE", "float32")
EXACT = DTYPE == "float32"
#: Absolute tolerance 1e-5, relative 1e-6: this random model's log-likelihoods reach -250,
#: where float32 itself resolves only about 1.5e-5.
ABS, REL = (1e-5, 1e-6) if EXACT else (0.1, 1e-2)


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {
        "chat": build_tiny_model(root / "chat", chat=True),
        "base": build_tiny_model(root / "base", chat=False, seed=1),
    }


def make(path: Path, **options: Any) -> TransformersBackend:
    options = {"device": DEVICE, "dtype": DTYPE, **options}
    backend = create_backend(model_config("tiny", "transformers", path=str(path), **options))
    assert isinstance(backend, TransformersBackend)
    return backend


@pytest.fixture(scope="module")
def chat_model(tiny_dirs: dict[str, Path]) -> Iterator[TransformersBackend]:
    with make(tiny_dirs["chat"]) as backend:
        backend.load()
        yield backend


@pytest.fixture(scope="module")
def base_model(tiny_dirs: dict[str, Path]) -> Iterator[TransformersBackend]:
    with make(tiny_dirs["base"], stop=["STOP"]) as backend:
        backend.load()
        yield backend


def direct_greedy(backend: TransformersBackend, ids: list[int], n: int) -> str:
    """What plain ``model.generate`` answers, decoded: the reference for the streamed text."""
    with torch.inference_mode():
        out = backend.model.generate(
            input_ids=torch.tensor([ids], device=backend.model.device),
            attention_mask=torch.ones((1, len(ids)), dtype=torch.long, device=backend.model.device),
            max_new_tokens=n,
            do_sample=False,
            eos_token_id=backend._eos_ids,
            pad_token_id=backend._pad_id,
        )
    text: str = backend.tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)
    return text


def direct_loglikelihood(
    backend: TransformersBackend, ctx: list[int], cont: list[int]
) -> tuple[float, bool]:
    """Sum of log-softmax over the continuation, from one unbatched, unpadded forward pass."""
    ids = torch.tensor([ctx + cont], device=backend.model.device)
    with torch.inference_mode():
        logits = backend.model(ids).logits[0].float()
    logprobs = logits.log_softmax(-1)[len(ctx) - 1 : -1]
    target = torch.tensor(cont, device=logprobs.device)
    total = logprobs.gather(1, target[:, None]).sum().item()
    return float(total), bool((logprobs.argmax(-1) == target).all())


def test_info_after_load(chat_model: TransformersBackend, tiny_dirs: dict[str, Path]) -> None:
    info = chat_model.info
    assert chat_model.ready
    assert info.context_length == 256
    assert chat_model.model.device.type == torch.device(DEVICE).type
    assert chat_model.model.dtype == getattr(torch, DTYPE)
    assert info.source == str(tiny_dirs["chat"])
    assert info.weights_sha256 is not None and len(info.weights_sha256) == 64


def test_chat_template_is_used(chat_model: TransformersBackend) -> None:
    text, stops = chat_model.render([Message("system", "Be brief."), *ASK])
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n"
        "What is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert stops == ()


def test_prompt_formats_without_template(
    base_model: TransformersBackend, tiny_dirs: dict[str, Path]
) -> None:
    turns = [
        Message("system", "Be brief."),
        Message("user", "Hi"),
        Message("assistant", "Hello"),
        *ASK,
    ]
    text, stops = base_model.render(turns)
    assert text == (
        "Be brief.\n\nUser: Hi\nAssistant: Hello\n\nUser: What is the capital of France?\n"
        "Assistant:"
    )
    assert stops == ROLE_MARKERS == ("User:", "Assistant:")
    with make(tiny_dirs["base"], preamble="  Examples:\n\nUser: 1+1?\nAssistant: 2\n\n") as shot:
        shot.load()
        assert shot.render(ASK)[0] == (
            "Examples:\n\nUser: 1+1?\nAssistant: 2\n\n"
            "User: What is the capital of France?\nAssistant:"
        )
    with make(tiny_dirs["base"], prompt_format="plain") as plain:
        plain.load()
        assert plain.render(turns) == ("What is the capital of France?", ())


def test_bos_is_added_where_the_tokenizer_adds_it(
    chat_model: TransformersBackend, base_model: TransformersBackend
) -> None:
    assert base_model.encode("Paris")[0] == base_model.tokenizer.bos_token_id
    assert chat_model.encode("Paris")[0] != chat_model.tokenizer.bos_token_id


@pytest.mark.parametrize("which", ["chat", "base"])
def test_greedy_stream_equals_direct_generation(
    which: str, chat_model: TransformersBackend, base_model: TransformersBackend
) -> None:
    backend = chat_model if which == "chat" else base_model
    text, _ = backend.render(ASK)
    ids = (
        backend._tokenizer(text, add_special_tokens=False)["input_ids"]
        if which == "chat"
        else backend.encode(text)
    )
    chunks = list(backend.generate(ASK, SamplingParams(max_new_tokens=24)))
    assert len(chunks) > 1
    from arena.backends import apply_stop

    direct = direct_greedy(backend, ids, 24)
    # the transcript format: cut at a role marker (or the model's own stop), whitespace stripped
    expected = apply_stop(direct, (*ROLE_MARKERS, "STOP")).strip() if which == "base" else direct
    assert "".join(chunks) == expected


def test_stop_sequence_cuts_the_answer(chat_model: TransformersBackend) -> None:
    full = "".join(chat_model.generate(ASK, SamplingParams(max_new_tokens=24)))
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    assert stop.strip(), full
    cut = "".join(chat_model.generate(ASK, SamplingParams(max_new_tokens=24, stop=(stop,))))
    assert cut == full[: full.find(stop)]


def test_complete_plain_prompt(base_model: TransformersBackend) -> None:
    out = "".join(base_model.complete("The capital of France is", SamplingParams(max_new_tokens=8)))
    ids = base_model.encode("The capital of France is")
    from arena.backends import apply_stop

    assert out == apply_stop(direct_greedy(base_model, ids, 8), ("STOP",))


def test_seeded_sampling_is_reproducible(chat_model: TransformersBackend) -> None:
    def sample(seed: int) -> str:
        params = SamplingParams(max_new_tokens=16, temperature=1.0, top_p=0.95, seed=seed)
        return "".join(chat_model.generate(ASK, params))

    assert sample(1) == sample(1)
    assert sample(1) != sample(2) or sample(3) != sample(4)


def test_concurrent_streams_do_not_mix(chat_model: TransformersBackend) -> None:
    params = SamplingParams(max_new_tokens=12, temperature=1.0, seed=5)
    alone = "".join(chat_model.generate(ASK, params))
    results: list[str] = []

    def run() -> None:
        results.append("".join(chat_model.generate(ASK, params)))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [alone] * 3


def test_closing_a_stream_early_stops_the_worker(chat_model: TransformersBackend) -> None:
    before = {t.name for t in threading.enumerate()}
    stream = chat_model.generate(ASK, SamplingParams(max_new_tokens=200))
    next(stream)
    stream.close()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not {t.name for t in threading.enumerate()} - before:
            break
        time.sleep(0.05)
    assert not {t.name for t in threading.enumerate() if t.name.startswith("generate-")} - before


def test_encode_pair_follows_lm_eval(base_model: TransformersBackend) -> None:
    ctx, cont = base_model.encode_pair("Question: sky colour? Answer: ", "blue")
    assert ctx == base_model.encode("Question: sky colour? Answer:")  # trailing space moved
    assert ctx + cont == base_model.encode("Question: sky colour? Answer: blue")
    empty_ctx, cont2 = base_model.encode_pair("", "blue sky")
    assert empty_ctx == [base_model.tokenizer.bos_token_id]
    assert cont2 == base_model.tokenizer("blue sky", add_special_tokens=False)["input_ids"]


REQUESTS = [
    ("The capital of France is", " Paris"),
    ("The capital of France is", " Rome"),
    ("The capital of France is", " a city of light and food"),
    ("Question: Which colour is the sky? Answer:", " blue"),
    ("Question: Which colour is the sky? Answer: ", "blue"),
    ("", "A quick brown fox"),
    ("User: What is two plus two?\nAssistant:", " four"),
]


@pytest.mark.parametrize("which", ["chat", "base"])
def test_loglikelihood_matches_direct_computation(
    which: str, chat_model: TransformersBackend, base_model: TransformersBackend
) -> None:
    backend = chat_model if which == "chat" else base_model
    got = backend.loglikelihood(REQUESTS)
    for (context, continuation), result in zip(REQUESTS, got, strict=True):
        expected, greedy = direct_loglikelihood(
            backend, *backend.encode_pair(context, continuation)
        )
        assert result.logprob == pytest.approx(expected, abs=ABS, rel=REL)
        assert result.is_greedy == greedy or not EXACT
        assert result.logprob < 0


def test_loglikelihood_does_not_depend_on_batching(
    tiny_dirs: dict[str, Path], chat_model: TransformersBackend
) -> None:
    with make(tiny_dirs["chat"], batch_tokens=8) as small:
        one_by_one = small.loglikelihood(REQUESTS)
    together = chat_model.loglikelihood(REQUESTS)
    for a, b in zip(one_by_one, together, strict=True):
        assert a.logprob == pytest.approx(b.logprob, abs=ABS, rel=REL)
        assert a.is_greedy == b.is_greedy or not EXACT


def test_greedy_continuation_is_flagged_greedy(chat_model: TransformersBackend) -> None:
    context = "The capital of France is"
    ids = chat_model.encode(context)
    with torch.inference_mode():
        out = chat_model.model.generate(
            input_ids=torch.tensor([ids], device=chat_model.model.device),
            max_new_tokens=3,
            do_sample=False,
            min_new_tokens=3,
            pad_token_id=chat_model._pad_id,
        )
    cont_ids = out[0, len(ids) :].tolist()
    (result,) = chat_model.loglikelihood_tokens([(ids, cont_ids)])
    assert result.is_greedy
    other = [(cont_ids[0] + 1) % len(chat_model.tokenizer)]
    (worse,) = chat_model.loglikelihood_tokens([(ids, other)])
    assert not worse.is_greedy


def test_long_inputs_are_truncated_on_the_left(tiny_dirs: dict[str, Path]) -> None:
    with make(tiny_dirs["chat"], max_length=16) as short:
        (result,) = short.loglikelihood([("The capital of France is " * 10, " Paris")])
        assert result.logprob < 0
        with pytest.raises(
            BackendError, match=r"the prompt has \d+ tokens, the model's context only 16"
        ):
            short.complete("The capital of France is " * 10, SamplingParams())


def test_load_in_background(tiny_dirs: dict[str, Path]) -> None:
    backend = make(tiny_dirs["chat"])
    assert not backend.ready
    future = backend.load_async()
    future.result(timeout=60)
    assert backend.ready and backend.load_seconds is not None
    assert "".join(backend.generate(ASK, SamplingParams(max_new_tokens=4)))
    backend.close()
    assert not backend.ready


def test_load_errors_name_the_model(tmp_path: Path, tiny_dirs: dict[str, Path]) -> None:
    with pytest.raises(BackendError, match=r"model 'tiny' \(load\): .*nowhere: not a directory"):
        make(tmp_path / "nowhere").load()
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendError, match=r"no \*\.safetensors or \*\.bin weights"):
        make(tmp_path / "empty").load()
    with pytest.raises(BackendError, match="the tokenizer has no chat template"):
        make(tiny_dirs["base"], chat_template=True).load()
    with pytest.raises(BackendError, match="bad 'device' option"):
        make(
            tiny_dirs["chat"], device="cuda:7" if not torch.cuda.is_available() else "nodevice"
        ).load()


def test_empty_continuation_is_rejected(chat_model: TransformersBackend) -> None:
    with pytest.raises(BackendError, match="request 0: the continuation is empty"):
        chat_model.loglikelihood([("abc", "")])
    with pytest.raises(InvalidParams):
        SamplingParams(max_new_tokens=0)


def test_gguf_conversion_cache(
    tmp_path: Path, tiny_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Miss, save, hit, new key on new weights, no cache, unwritable cache (conversion faked)."""
    from arena.io import file_sha256

    weights = tmp_path / "weights"
    weights.mkdir()
    gguf = weights / "tiny.gguf"
    gguf.write_bytes(b"GGUF pretend weights v1")
    conversions: list[str] = []

    def fake_convert(self: TransformersBackend, source: Any, source_dir: Any) -> tuple[Any, Any]:
        conversions.append(source.sha256)
        return self._load_directory(tiny_dirs["chat"], torch.float32)

    monkeypatch.setattr(TransformersBackend, "_convert_gguf", fake_convert)
    cache = tmp_path / "cache"

    def load(**options: Any) -> TransformersBackend:
        backend = make(weights, gguf_file="tiny.gguf", cache_dir=str(cache), **options)
        backend.load()
        return backend

    first = load()
    assert first.loaded_from_cache is False and conversions == [file_sha256(gguf)]
    assert first.cache_path is not None and first.cache_path.parent == cache
    assert first.cache_path.name.startswith("tiny-")
    meta = (first.cache_path / "arena-cache.json").read_text()
    assert file_sha256(gguf) in meta
    assert [p.name for p in cache.iterdir()] == [first.cache_path.name]  # no temporary left
    second = load()
    assert second.loaded_from_cache is True and len(conversions) == 1
    assert second.info.weights_sha256 == first.info.weights_sha256 == file_sha256(gguf)
    pair = [("The capital of France is", " Paris")]
    assert second.loglikelihood(pair) == first.loglikelihood(pair)

    gguf.write_bytes(b"GGUF pretend weights v2")
    third = load()
    assert third.loaded_from_cache is False and third.cache_path != first.cache_path

    uncached = load(cache=False)
    assert uncached.loaded_from_cache is False and len(conversions) == 3

    cache = tmp_path / "a-file"
    cache.write_text("not a directory")
    with pytest.warns(RuntimeWarning, match="cannot write the model cache"):
        unwritable = load()
    assert unwritable.ready and len(conversions) == 4


def test_public_prompt_helpers(
    chat_model: TransformersBackend, base_model: TransformersBackend
) -> None:
    ids, implied = base_model.prompt_ids(ASK)
    text, _ = base_model.render(ASK)
    assert ids == base_model.encode(text) and implied == ROLE_MARKERS
    assert base_model.prompt_ids("Hello") == (base_model.encode("Hello"), ())
    chat_ids, chat_implied = chat_model.prompt_ids(ASK)
    assert chat_model.tokenizer.decode(chat_ids) == chat_model.render(ASK)[0] and chat_implied == ()
    assert chat_model.uses_chat_template and not base_model.uses_chat_template
    # the end of a turn, or the start of another one
    assert chat_model.eos_token_ids == tuple(
        chat_model.tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|im_start|>"])
    )
    assert base_model.stop == ("STOP",)


def test_answer_stream_counts_tokens_and_says_how_it_ended(
    chat_model: TransformersBackend, base_model: TransformersBackend
) -> None:
    capped = chat_model.generate(ASK, SamplingParams(max_new_tokens=3))
    assert isinstance(capped, AnswerStream) and capped.finish_reason is None
    text = "".join(capped)
    ids, _ = chat_model.prompt_ids(ASK)
    assert text == direct_greedy(chat_model, ids, 3)
    assert capped.new_tokens == 3 and capped.finish_reason == "length"

    full = "".join(chat_model.generate(ASK, SamplingParams(max_new_tokens=12)))
    cut = full[len(full) // 2 :].strip()[:3]
    assert cut
    stopped = chat_model.generate(ASK, SamplingParams(max_new_tokens=12, stop=(cut,)))
    assert "".join(stopped) == full[: full.index(cut)]
    assert stopped.finish_reason == "stop" and stopped.new_tokens <= 12  # type: ignore[attr-defined]

    early = base_model.complete("The capital", SamplingParams(max_new_tokens=40))
    next(early)
    early.close()  # type: ignore[attr-defined]
    assert early.finish_reason == "closed"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "guard", [{"repetition_penalty": 1.5}, {"no_repeat_ngram_size": 2}], ids=["penalty", "ngram"]
)
def test_repetition_guard_reaches_generation(tiny_dirs: dict[str, Path], guard: Any) -> None:
    """The models-file options change the answer exactly as transformers' own flags do."""
    with make(tiny_dirs["chat"], **guard) as guarded:
        guarded.load()
        ids, _ = guarded.prompt_ids(ASK)
        answer = "".join(guarded.generate(ASK, SamplingParams(max_new_tokens=24)))
        with torch.inference_mode():
            out = guarded.model.generate(
                input_ids=torch.tensor([ids], device=guarded.model.device),
                attention_mask=torch.ones((1, len(ids)), dtype=torch.long),
                max_new_tokens=24,
                do_sample=False,
                eos_token_id=list(guarded.eos_token_ids),
                pad_token_id=guarded.tokenizer.pad_token_id,
                **guard,
            )
        new = out[0, len(ids) :].tolist()
        assert answer == guarded.tokenizer.decode(new, skip_special_tokens=True)
        if "no_repeat_ngram_size" in guard:
            grams = list(zip(ids + new, (ids + new)[1:], strict=False))
            assert len(set(grams[len(ids) - 1 :])) == len(grams[len(ids) - 1 :])
            assert not set(grams[len(ids) - 1 :]) & set(grams[: len(ids) - 1])
    with make(tiny_dirs["chat"]) as plain:
        plain.load()
        unguarded = "".join(plain.generate(ASK, SamplingParams(max_new_tokens=24)))
    assert unguarded != answer  # this random model repeats itself without the guard


def test_parallel_loads_keep_tied_weights(tmp_path: Path) -> None:
    """Tied models loaded in parallel threads, as the web app does, all load whole.

    transformers' from_pretrained swaps ``PreTrainedModel.tie_weights`` for a no-op while it
    builds a model; overlapping calls used to leave the no-op in place for the whole process.
    """
    from transformers import PreTrainedModel

    tie_weights = PreTrainedModel.tie_weights
    dirs = [build_tiny_model(tmp_path / f"t{i}", chat=True, seed=i, tied=True) for i in range(4)]
    for _ in range(3):
        backends = [make(d) for d in dirs]
        futures = [b.load_async() for b in backends]
        for backend, future in zip(backends, futures, strict=True):
            future.result(timeout=120)
            model = backend.model
            assert model.lm_head.weight is model.model.embed_tokens.weight
            assert not any(p.is_meta for p in model.parameters())
            backend.close()
        assert PreTrainedModel.tie_weights is tie_weights


def test_a_model_left_incomplete_is_an_error_naming_the_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import PreTrainedModel

    tied = build_tiny_model(tmp_path / "tied", chat=True, tied=True)
    # what a racing from_pretrained in another thread used to do to this one
    monkeypatch.setattr(PreTrainedModel, "tie_weights", lambda self, *a, **k: None)
    with pytest.raises(BackendError, match=r"weights without data after loading: lm_head\.weight"):
        make(tied).load()


def test_a_broken_cache_entry_is_converted_again(
    tmp_path: Path, tiny_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "tiny.gguf").write_bytes(b"GGUF pretend weights")
    conversions: list[str] = []

    def fake_convert(self: TransformersBackend, source: Any, source_dir: Any) -> tuple[Any, Any]:
        conversions.append(source.sha256)
        return self._load_directory(tiny_dirs["chat"], torch.float32)

    monkeypatch.setattr(TransformersBackend, "_convert_gguf", fake_convert)
    cache = tmp_path / "cache"

    def load() -> TransformersBackend:
        backend = make(weights, gguf_file="tiny.gguf", cache_dir=str(cache))
        backend.load()
        return backend

    first = load()
    assert first.cache_path is not None
    pair = [("The capital of France is", " Paris")]
    expected = first.loglikelihood(pair)
    weights_file = first.cache_path / "model.safetensors"
    weights_file.write_bytes(weights_file.read_bytes()[: weights_file.stat().st_size // 2])
    with pytest.warns(RuntimeWarning, match="does not load .*; converting the GGUF again"):
        second = load()
    assert second.loaded_from_cache is False and len(conversions) == 2
    assert second.loglikelihood(pair) == expected
    third = load()
    assert third.loaded_from_cache is True and len(conversions) == 2
    assert [p.name for p in cache.iterdir()] == [first.cache_path.name]  # nothing left over

    # a fault outside the entry (here: conversion fails too) never costs the entry itself
    def failing_convert(self: TransformersBackend, source: Any, source_dir: Any) -> Any:
        raise RuntimeError("conversion broke")

    monkeypatch.setattr(TransformersBackend, "_convert_gguf", failing_convert)
    monkeypatch.setattr(
        TransformersBackend,
        "_load_directory",
        lambda self, d, dtype: (_ for _ in ()).throw(OSError("disk hiccup")),
    )
    with pytest.warns(RuntimeWarning, match="disk hiccup"), pytest.raises(BackendError):
        load()
    assert (first.cache_path / "arena-cache.json").is_file()
