"""Log-likelihoods with shared prefixes computed once, for the ``transformers`` backend.

Benchmark prompts repeat themselves: every MMLU question of a subject starts with the same
description, many with the same question stem, and the choices of one question share the
whole context. The backend computes each distinct input once; this module goes further:

1. pairs are tokenized exactly as the backend does (:meth:`encode_pair`, lm-eval's split),
   and requests with identical model inputs share one row;
2. rows are clustered by their first tokens and sorted longest first within a cluster, then
   cut into batches; the longest prefix common to a batch runs once (batch of one), its
   key/value cache is repeated for the batch, and only the suffixes run batched;
3. the vocabulary projection is applied only to the hidden states of continuation tokens,
   row by row (not to the union of positions of the batch).

The result equals the backend's ``loglikelihood`` up to float rounding (about 1e-6 in
float32). Models whose logits are not ``lm_head(hidden)`` (final logit soft-capping) are left
to the backend.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from arena.backends import BackendError, LogLikelihood

__all__ = ["prefix_loglikelihood", "supports_prefix"]

#: Rows are clustered by this many leading tokens before batching.
_CLUSTER_TOKENS = 8
#: Shared prefixes shorter than this are not worth a separate pass.
_MIN_PREFIX = 8


def supports_prefix(backend: Any) -> bool:
    """Whether ``backend`` is a loaded-able transformers backend this module can drive."""
    if not all(
        hasattr(backend, a) for a in ("encode_pair", "model", "tokenizer", "loglikelihood_tokens")
    ):
        return False
    config = getattr(backend.model, "config", None)
    if getattr(config, "final_logit_softcapping", None):
        return False
    return backend.model.get_output_embeddings() is not None and hasattr(
        backend.model, "get_decoder"
    )


def _encode(backend: Any, requests: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    name = backend.info.name
    max_length = int(backend.info.context_length or 2048)
    pairs = []
    for i, (context, continuation) in enumerate(requests):
        if not continuation:
            raise BackendError(name, "loglikelihood", f"request {i}: the continuation is empty")
        ctx, cont = backend.encode_pair(context, continuation)
        if not cont:
            raise BackendError(
                name, "loglikelihood", f"request {i}: the continuation encodes to no tokens"
            )
        if len(cont) > max_length:
            raise BackendError(
                name,
                "loglikelihood",
                f"request {i}: the continuation has {len(cont)} tokens, "
                f"more than the model's context ({max_length})",
            )
        pairs.append((list(ctx), list(cont)))
    return pairs


def _common_prefix(rows: list[tuple[int, ...]]) -> int:
    first = rows[0]
    n = min(len(r) for r in rows) - 1  # every row keeps at least one token to run
    for r in rows[1:]:
        k = 0
        while k < n and r[k] == first[k]:
            k += 1
        n = k
    return max(n, 0)


def prefix_loglikelihood(
    backend: Any, requests: Sequence[tuple[str, str]], batch_size: int
) -> list[LogLikelihood]:
    """Score ``(context, continuation)`` pairs; see the module docstring."""
    import torch

    pairs = _encode(backend, requests)
    max_length = int(backend.info.context_length or 2048)
    rows: dict[tuple[int, ...], list[int]] = {}
    for i, (ctx, cont) in enumerate(pairs):
        full = (ctx + cont)[-(max_length + 1) :]
        rows.setdefault(tuple(full[:-1]), []).append(i)
    order = sorted(rows, key=lambda r: (r[:_CLUSTER_TOKENS], -len(r), r))
    model = backend.model
    decoder = model.get_decoder()
    head = model.get_output_embeddings()
    device = next(model.parameters()).device
    pad = backend.tokenizer.pad_token_id or 0
    results: list[LogLikelihood | None] = [None] * len(pairs)
    # transformers 5 renamed past_key_values to cache
    cache_kw = (
        "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
    )

    batches: list[list[tuple[int, ...]]] = []
    current: list[tuple[int, ...]] = []
    for row in order:
        if current and (
            len(current) >= batch_size or row[:_CLUSTER_TOKENS] != current[0][:_CLUSTER_TOKENS]
        ):
            batches.append(current)
            current = []
        current.append(row)
    if current:
        batches.append(current)

    with torch.inference_mode():
        for batch in batches:
            p = _common_prefix(batch)
            # the prefix must stop before the first position that predicts a continuation
            p = min([p] + [len(r) - len(pairs[j][1]) for r in batch for j in rows[r]])
            if p < _MIN_PREFIX:
                p = 0
            past = None
            if p:
                prefix = torch.tensor([batch[0][:p]], device=device)
                out = decoder(input_ids=prefix, use_cache=True)
                past = getattr(out, cache_kw)
                past.batch_repeat_interleave(len(batch))
            width = max(len(r) for r in batch) - p
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), p + width), dtype=torch.long)
            mask[:, :p] = 1
            for k, r in enumerate(batch):
                ids[k, : len(r) - p] = torch.tensor(r[p:])
                mask[k, p : len(r)] = 1
            positions = (
                torch.arange(p, p + width, device=device).unsqueeze(0).expand(len(batch), -1)
            )
            hidden = decoder(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                position_ids=positions,
                use_cache=past is not None,
                **{cache_kw: past},
            ).last_hidden_state
            for k, r in enumerate(batch):
                for j in rows[r]:
                    cont = pairs[j][1]
                    n = len(cont)
                    # the row's input is r; its last n positions predict the continuation
                    start = len(r) - n - p
                    h = hidden[k, start : start + n]
                    logprobs = torch.log_softmax(head(h).float(), dim=-1)
                    target = torch.tensor(cont, device=logprobs.device)
                    total = float(logprobs.gather(1, target[:, None]).sum().item())
                    greedy = bool((logprobs.argmax(dim=-1) == target).all().item())
                    results[j] = LogLikelihood(total, greedy)
    return [r for r in results if r is not None]
