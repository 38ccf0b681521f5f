"""Print the Hugging Face folder of a ``transformers`` model, converting its GGUF if needed.

``python -m arena.backends.convert NAME [--models FILE]`` loads the model of the models
file (the default one without ``--models``) once, so that GGUF weights are de-quantized
into the model cache (:mod:`arena.backends.transformers.weights`), and prints the folder that holds
``config.json``, the safetensors and the tokenizer. Another engine serves that folder:
``make serve-vllm`` starts vLLM on it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from arena.backends import create_backend, load_models, resolve_source
from arena.errors import UserError

__all__ = ["main", "model_folder"]


def model_folder(name: str, models: str | None = None) -> Path:
    """The folder of model ``name``'s weights as a Hugging Face model (converted if GGUF)."""
    configs = {c.name: c for c in load_models(models)}
    if name not in configs:
        raise UserError(f"model '{name}' is not in the models file; it has: {', '.join(configs)}")
    config = configs[name]
    if config.backend != "transformers":
        raise UserError(f"model '{name}' has backend '{config.backend}': no local weights")
    source = resolve_source(config)
    if not source.is_gguf and source.directory is not None:
        return source.directory.resolve()  # a Hugging Face folder already
    backend = create_backend(config)
    try:
        backend.load()
        folder = getattr(backend, "cache_path", None)
    finally:
        backend.close()
    if folder is None:
        raise UserError(
            f"model '{name}': its GGUF was converted without the model cache (cache = false), "
            "so no folder holds the result; enable the cache"
        )
    return Path(folder).resolve()


def main(argv: list[str] | None = None) -> int:
    """Command line: print the folder, or one error line and exit 2."""
    parser = argparse.ArgumentParser(prog="python -m arena.backends.convert", description=__doc__)
    parser.add_argument("name", help="the model's name in the models file")
    parser.add_argument("--models", help="the models file (default: the built-in one)")
    args = parser.parse_args(argv)
    try:
        print(model_folder(args.name, args.models))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
