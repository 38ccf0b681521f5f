"""Batched greedy generation for the ``transformers`` backend (its ``generate_batch``).

The backend streams one answer at a time (what a chat page needs); an evaluation wants many
answers at once. This module decodes a whole batch greedily with one key-value cache:
prompts encoded exactly as the backend encodes them, left-padded, each row finished on its
own at an end-of-sequence token or a stop sequence, then decoded and cut at the first stop
sequence as the backend does. Unlike ``model.generate``, a finished row leaves the batch
(its cache rows are dropped), so a few long answers do not make every short one pay for
their length: on GSM8K most answers stop after a dozen tokens and a few run to the limit.
Sampled requests (temperature above 0) keep the backend's own per-request seeded sampler,
one at a time, so that a seed gives the same answer whichever way it was asked. So do all
requests of a model with a repetition guard (``repetition_penalty`` or
``no_repeat_ngram_size``), which this greedy loop does not apply: the streamed path is the
one that honours the model's generation settings, and an answer must not depend on the path.

It uses the backend's public surface only: ``prompt_ids`` (the ids and implied stops the
streamed path feeds the model), ``stop``, ``eos_token_ids``, ``repetition_guarded``,
``model`` and ``tokenizer``. :meth:`TransformersBackend.generate_batch` calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from arena.backends.base import Message, SamplingParams, apply_stop
from arena.backends.errors import BackendError

if TYPE_CHECKING:
    from arena.backends.transformers.backend import TransformersBackend

__all__ = ["batched_generate"]


def batched_generate(
    backend: TransformersBackend,
    prompts: Sequence[str | Sequence[Message]],
    params: Sequence[SamplingParams],
) -> list[str]:
    """Answers to ``prompts`` (plain strings or conversations), greedy ones in one batch."""
    import torch

    out: list[str | None] = [None] * len(prompts)
    guarded = backend.repetition_guarded()
    greedy = [] if guarded else [i for i, p in enumerate(params) if p.greedy]
    for i, p in enumerate(params):
        if guarded or not p.greedy:
            prompt = prompts[i]
            if isinstance(prompt, str):
                out[i] = "".join(backend.complete(prompt, p))
            else:
                out[i] = "".join(backend.generate(prompt, p))
    # rows sharing max_new_tokens and stops go together
    groups: dict[tuple[int, tuple[str, ...]], list[int]] = {}
    encoded = {i: backend.prompt_ids(prompts[i]) for i in greedy}
    own = backend.stop  # the model's own stop sequences
    for i in greedy:
        stops = tuple(dict.fromkeys((*params[i].stop, *own, *encoded[i][1])))
        groups.setdefault((params[i].max_new_tokens, stops), []).append(i)

    model = backend.model
    tok = backend.tokenizer
    eos: list[int] = list(backend.eos_token_ids or [tok.eos_token_id])
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos[0]
    max_length = int(backend.info.context_length or 2048)
    device = next(model.parameters()).device

    for (max_new, stops), rows in groups.items():
        ids = [encoded[i][0] for i in rows]
        width = max(len(x) for x in ids)
        if min(len(x) for x in ids) == 0:
            raise BackendError(backend.info.name, "complete", "the prompt is empty")
        room = max_length - width
        if room < 1:
            raise BackendError(
                backend.info.name,
                "complete",
                f"the prompt has {width} tokens, the model's context only {max_length}",
            )
        input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for r, x in enumerate(ids):
            input_ids[r, width - len(x) :] = torch.tensor(x)
            mask[r, width - len(x) :] = 1

        gen = _greedy_decode(
            model,
            input_ids.to(device),
            mask.to(device),
            max_new=min(max_new, room),
            eos=set(eos),
            stop_hit=_stop_checker(tok, stops),
        )
        texts = tok.batch_decode(gen, skip_special_tokens=True)
        for i, text in zip(rows, texts, strict=True):
            out[i] = apply_stop(text, stops)
    return [o if o is not None else "" for o in out]


def _stop_checker(tok: Any, stops: tuple[str, ...]) -> Any:
    """A test of whether a row's generated tokens already contain a stop sequence.

    Only the tail is decoded (the longest stop plus a margin, in tokens), as a stop that
    was not there one step earlier must end in the newest tokens.
    """
    if not stops:
        return lambda tokens: False
    tail = max(map(len, stops)) + 8

    def hit(tokens: list[int]) -> bool:
        text = tok.decode(tokens[-tail:], skip_special_tokens=True)
        return any(s in text for s in stops)

    return hit


def _greedy_decode(
    model: Any, input_ids: Any, mask: Any, *, max_new: int, eos: set[int], stop_hit: Any
) -> list[list[int]]:
    """Greedy continuations of left-padded rows; each row's tokens without the end token.

    Positions follow the attention mask as in ``model.generate`` (left padding does not
    shift them). A row leaves the batch at its end-of-sequence token, at a stop sequence or
    at ``max_new`` tokens.
    """
    import inspect

    import torch
    from transformers import DynamicCache

    n = input_ids.shape[0]
    generated: list[list[int]] = [[] for _ in range(n)]
    active = list(range(n))
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    try:
        cache = DynamicCache(config=model.config)
    except TypeError:  # older transformers
        cache = DynamicCache()
    accepted = inspect.signature(model.forward).parameters
    extra: dict[str, Any] = {"use_cache": True}
    # transformers >= 5.2x names the cache argument `cache`; earlier ones `past_key_values`
    extra["cache" if "cache" in accepted else "past_key_values"] = cache
    if "logits_to_keep" in accepted:
        extra["logits_to_keep"] = 1
    with torch.inference_mode():
        out = model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            **extra,
        )
        step_pos = positions[:, -1:]
        for step in range(max_new):
            chosen = out.logits[:, -1, :].argmax(dim=-1)
            keep: list[int] = []
            for r, token in enumerate(chosen.tolist()):
                row = active[r]
                if token in eos:
                    continue
                generated[row].append(token)
                if not stop_hit(generated[row]):
                    keep.append(r)
            if not keep or step == max_new - 1:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep, device=input_ids.device)
                cache.batch_select_indices(index)
                mask, chosen, step_pos = mask[index], chosen[index], step_pos[index]
                active = [active[r] for r in keep]
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
            step_pos = step_pos + 1
            out = model(
                input_ids=chosen[:, None],
                attention_mask=mask,
                position_ids=step_pos,
                **extra,
            )
    return generated
