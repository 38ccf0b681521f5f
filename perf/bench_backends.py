"""Load time, time to first token and decode speed of the two offline models on this machine.

For each model of the default models file (SmolLM2-135M-Instruct and Gemma 3 270M, both
GGUF, run by the ``transformers`` backend) two fresh Python processes are timed:

* **cold**: an empty model cache, so the GGUF is de-quantized (Gemma's is assembled from
  its chunk packages first) and the converted model is saved to the cache;
* **cached**: the same cache, now filled, so the load reads safetensors.

In each process: ``import`` of the backend (torch + transformers), ``load()``, then the
first answer (its time to first token includes any one-off warm-up), then ``--repeats``
answers of up to ``--max-new-tokens`` tokens (median time to first token, decode tokens/s
from the first to the last chunk), then one ``loglikelihood`` call on 40 multiple-choice
pairs (10 questions x 4 options). Answers are greedy; the prompt asks for a story so the
model keeps talking. Tokens are counted by re-tokenizing the answer.

Run from the project root::

    .venv/bin/python perf/bench_backends.py                  # both models, about 3 minutes
    .venv/bin/python perf/bench_backends.py --models smollm2-135m-instruct --repeats 5

Figures depend on how busy the machine is: other processes on the 2 cores slow every wall
time (the load average is printed first); the CPU-time columns (``(cpu)`` of the load,
``cpu ms/tok`` of the answers, both process CPU time over all threads) are less affected.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STORY = "Write a long story about a dragon who learns to cook."
MC_QUESTIONS = [
    ("What is the capital of France?", ["Paris", "London", "Rome", "Berlin"]),
    ("How many legs does a spider have?", ["eight", "six", "four", "ten"]),
    ("Which planet is known as the red planet?", ["Mars", "Venus", "Jupiter", "Saturn"]),
    ("What is 7 times 8?", ["56", "54", "64", "48"]),
    ("Which gas do plants absorb?", ["carbon dioxide", "oxygen", "nitrogen", "helium"]),
    ("What is the largest ocean?", ["Pacific", "Atlantic", "Indian", "Arctic"]),
    ("Who wrote Hamlet?", ["Shakespeare", "Dickens", "Tolstoy", "Homer"]),
    ("What is frozen water called?", ["ice", "steam", "fog", "dew"]),
    ("How many days are in a week?", ["seven", "five", "six", "eight"]),
    ("Which animal barks?", ["dog", "cat", "cow", "bird"]),
]


def child(
    model: str, cache: str, repeats: int, max_new_tokens: int, threads: int | None
) -> dict[str, Any]:
    """Measure one fresh process; returns the figures as a dict."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    import arena.backends.transformers.backend  # noqa: F401  (torch + transformers)

    if threads:
        import torch

        torch.set_num_threads(threads)
    from arena.backends import Message, SamplingParams, create_backend, load_models

    t_import = time.perf_counter() - start
    (config,) = [c for c in load_models() if c.name == model]
    config = dataclasses.replace(
        config, options=dataclasses.replace(config.options, cache_dir=cache)
    )
    backend: Any = create_backend(config)
    start, cpu = time.perf_counter(), time.process_time()
    backend.load()
    t_load, cpu_load = time.perf_counter() - start, time.process_time() - cpu

    messages = [Message("user", STORY)]
    params = SamplingParams(max_new_tokens=max_new_tokens)

    def answer() -> tuple[float, float, int, float]:
        start, cpu = time.perf_counter(), time.process_time()
        first = last = start
        chunks: list[str] = []
        for chunk in backend.generate(messages, params):
            last = time.perf_counter()
            if not chunks:
                first = last
            chunks.append(chunk)
        cpu = time.process_time() - cpu
        text = "".join(chunks)
        tokens = len(backend.tokenizer(text, add_special_tokens=False)["input_ids"])
        return first - start, last - first, tokens, cpu

    first_ttft = answer()[0]
    runs = [answer() for _ in range(repeats)]
    pairs = [(f"Question: {q}\nAnswer:", f" {o}") for q, options in MC_QUESTIONS for o in options]
    start = time.perf_counter()
    backend.loglikelihood(pairs)
    t_ll = time.perf_counter() - start
    return {
        "model": model,
        "from_cache": backend.loaded_from_cache,
        "import_s": t_import,
        "load_s": t_load,
        "load_cpu_s": cpu_load,
        "first_ttft_s": first_ttft,
        "ttft_s": statistics.median(r[0] for r in runs),
        "tokens": statistics.median(r[2] for r in runs),
        "decode_tok_s": statistics.median((r[2] - 1) / r[1] for r in runs if r[1] > 0),
        "cpu_ms_per_token": statistics.median(1000 * r[3] / r[2] for r in runs),
        "loglikelihood_pairs": len(pairs),
        "loglikelihood_s": t_ll,
    }


def run_child(
    model: str, cache: Path, repeats: int, max_new_tokens: int, threads: int | None
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        model,
        "--cache-dir",
        str(cache),
        "--repeats",
        str(repeats),
        "--max-new-tokens",
        str(max_new_tokens),
        *(["--threads", str(threads)] if threads else []),
    ]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{model}: the measuring process failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=["smollm2-135m-instruct", "gemma-3-270m"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--cache-dir", help="model cache (default: a new temporary directory)")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads (default: torch's choice); 1 makes the CPU-time columns a fair "
        "estimate of single-core speed on a busy machine (no spinning worker threads)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        figures = child(args.child, args.cache_dir, args.repeats, args.max_new_tokens, args.threads)
        print(json.dumps(figures))
        return

    import torch

    threads = args.threads or torch.get_num_threads()
    print(
        f"torch {torch.__version__}, {threads} torch threads, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    header = (
        f"{'model':<22} {'phase':<6} {'import':>6} {'load':>6} {'(cpu)':>6} {'1st TTFT':>8} "
        f"{'TTFT':>5} {'tok/s':>5} {'cpu ms/tok':>10} {'tokens':>6} {'LL 40 pairs':>11}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="arena-bench-cache-") as tmp:
        cache = Path(args.cache_dir) if args.cache_dir else Path(tmp)
        for model in args.models:
            for phase in ("cold", "cached"):
                r = run_child(model, cache, args.repeats, args.max_new_tokens, args.threads)
                label = phase if r["from_cache"] == (phase == "cached") else f"{phase}?"
                print(
                    f"{model:<22} {label:<6} {r['import_s']:>5.1f}s {r['load_s']:>5.1f}s "
                    f"{r['load_cpu_s']:>5.1f}s {r['first_ttft_s']:>7.2f}s {r['ttft_s']:>4.2f}s "
                    f"{r['decode_tok_s']:>5.1f} {r['cpu_ms_per_token']:>10.0f} "
                    f"{r['tokens']:>6.0f} {r['loglikelihood_s']:>10.2f}s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
