"""GPU check of the harness: tokens/s of ours vs a plain transformers loop, same model.

The model is built on the machine from a config with random weights (a realistic size,
default ~1.2 B parameters, Llama-3.2-1B-like shapes; nothing is downloaded), with a
word-level tokenizer of exactly ``vocab_size`` tokens ``w0 .. wN`` so every id the random
model emits decodes and re-encodes to itself. Two jobs, one after the other, same prompts:

* **generation**: greedy, ``--max-new`` tokens, ``--n`` prompts of varied length.
  Ours: ``generate_batch`` (the batched-generation capability) of the ``transformers``
  backend (rows leave the batch when done). Plain: ``model.generate`` on batches of
  ``--batch`` left-padded prompts, as a hand-written evaluation loop would.
* **scoring**: log-likelihoods of 4 continuations per context (multiple choice).
  Ours: the backend's ``loglikelihood`` (shared context, only continuation positions
  projected to the vocabulary, length-sorted batches). Plain: one forward pass per
  (context + continuation) with full logits, as lm-eval's reference loop does.

Generated tokens/s count the tokens actually produced (re-tokenised answers); scored
tokens/s count context + continuation tokens. Run on a GPU machine from the project root::

    python perf/gpu_harness.py                   # cuda, bfloat16, ~1.2 B parameters
    python perf/gpu_harness.py --tiny --device cpu --dtype float32   # a smoke run anywhere
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build(directory: Path, tiny: bool) -> None:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab_size = 512 if tiny else 32_000
    vocab = {"<pad>": 0, "<bos>": 1, "<eos>": 2}
    vocab.update({f"w{i}": i for i in range(3, vocab_size)})
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]  # untyped in transformers
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>"
    )
    shape: dict[str, Any] = (
        {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2}
        if tiny
        else {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16}
    )
    config = LlamaConfig(
        vocab_size=vocab_size,
        num_attention_heads=32 if not tiny else 4,
        num_key_value_heads=8 if not tiny else 2,
        max_position_embeddings=4096,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        tie_word_embeddings=True,
        **shape,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight[2].fill_(-1.0)  # keep <eos> unlikely: answers run to --max-new
    model.save_pretrained(directory)
    fast.save_pretrained(directory)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e9:.2f} B parameters, vocab {vocab_size}", flush=True)


def prompts(n: int, seed: int, vocab: int) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(f"w{rng.randrange(3, vocab)}" for _ in range(rng.randint(16, 256)))
        for _ in range(n)
    ]


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float16", "float32"))
    ap.add_argument("--n", type=int, default=64, help="prompts (generation) / contexts")
    ap.add_argument("--max-new", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16, help="batch of the plain loop")
    ap.add_argument("--tiny", action="store_true", help="a tiny model (smoke run)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from arena.backends import BatchGeneration, SamplingParams, create_backend, load_models

    figures: dict[str, Any] = {"device": args.device, "dtype": args.dtype}
    if args.device.startswith("cuda"):
        figures["gpu"] = torch.cuda.get_device_name(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root / "model", args.tiny)
        (root / "models.toml").write_text(
            f'[[models]]\nname = "random"\nbackend = "transformers"\npath = "{root / "model"}"\n'
            f'device = "{args.device}"\ndtype = "{args.dtype}"\nchat_template = false\n'
        )
        vocab = 512 if args.tiny else 32_000
        texts = prompts(args.n, 1, vocab)
        tok = AutoTokenizer.from_pretrained(root / "model")

        # ---- ours
        backend = create_backend(load_models(root / "models.toml")[0])
        backend.load()
        assert isinstance(backend, BatchGeneration)
        params = SamplingParams(max_new_tokens=args.max_new)
        backend.generate_batch(texts[:2], [params] * 2)  # warm-up
        sync(args.device)
        t = time.perf_counter()
        answers = backend.generate_batch(texts, [params] * len(texts))
        sync(args.device)
        ours_gen_s = time.perf_counter() - t
        ours_tokens = sum(len(tok(a, add_special_tokens=False)["input_ids"]) for a in answers)
        rng = random.Random(2)
        pairs = [
            (ctx, " " + " ".join(f"w{rng.randrange(3, vocab)}" for _ in range(rng.randint(1, 8))))
            for ctx in texts
            for _ in range(4)
        ]
        scored = sum(len(tok(c + x, add_special_tokens=False)["input_ids"]) for c, x in pairs)
        backend.loglikelihood(pairs[:4])
        sync(args.device)
        t = time.perf_counter()
        ours_ll = backend.loglikelihood(pairs)
        sync(args.device)
        ours_score_s = time.perf_counter() - t
        backend.close()
        del backend
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()

        # ---- plain transformers loop
        dtype = getattr(torch, args.dtype)
        model = AutoModelForCausalLM.from_pretrained(root / "model", dtype=dtype).to(args.device)
        model.eval()
        tok.padding_side = "left"
        plain_tokens = 0
        sync(args.device)
        t = time.perf_counter()
        with torch.inference_mode():
            for i in range(0, len(texts), args.batch):
                enc = tok(texts[i : i + args.batch], return_tensors="pt", padding=True).to(
                    args.device
                )
                out = model.generate(
                    **enc, max_new_tokens=args.max_new, do_sample=False, pad_token_id=0
                )
                new = out[:, enc["input_ids"].shape[1] :]
                plain_tokens += int((new != 0).sum())
        sync(args.device)
        plain_gen_s = time.perf_counter() - t
        t = time.perf_counter()
        plain_ll = []
        with torch.inference_mode():
            for ctx, cont in pairs:
                c_ids = tok(ctx, add_special_tokens=False)["input_ids"]
                x_ids = tok(cont, add_special_tokens=False)["input_ids"]
                ids = torch.tensor([c_ids + x_ids], device=args.device)
                logp = torch.log_softmax(model(ids).logits.float(), dim=-1)[0]
                pos = torch.arange(len(c_ids) - 1, len(c_ids) + len(x_ids) - 1, device=args.device)
                plain_ll.append(float(logp[pos, torch.tensor(x_ids, device=args.device)].sum()))
        sync(args.device)
        plain_score_s = time.perf_counter() - t

    diff = max(abs(a.logprob - b) for a, b in zip(ours_ll, plain_ll, strict=True))
    figures.update(
        {
            "generation": {
                "ours_tokens_per_s": ours_tokens / ours_gen_s,
                "plain_tokens_per_s": plain_tokens / plain_gen_s,
                "ours_s": ours_gen_s,
                "plain_s": plain_gen_s,
                "speedup": (ours_tokens / ours_gen_s) / (plain_tokens / plain_gen_s),
            },
            "scoring": {
                "ours_tokens_per_s": scored / ours_score_s,
                "plain_tokens_per_s": scored / plain_score_s,
                "speedup": plain_score_s / ours_score_s,
                "max_loglik_diff": diff,
            },
        }
    )
    g, s = figures["generation"], figures["scoring"]
    print(
        f"generation: ours {g['ours_tokens_per_s']:.0f} tok/s, plain loop "
        f"{g['plain_tokens_per_s']:.0f} tok/s ({g['speedup']:.2f}x)"
    )
    print(
        f"scoring:    ours {s['ours_tokens_per_s']:.0f} tok/s, plain loop "
        f"{s['plain_tokens_per_s']:.0f} tok/s ({s['speedup']:.2f}x); "
        f"max log-likelihood difference {diff:.2e}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
