"""Batched greedy generation for the ``transformers`` backend.

The backend streams one answer at a time (what a chat page needs); an evaluation wants many
answers at once. This module generates a whole batch in one ``model.generate`` call: prompts
encoded exactly as the backend encodes them, left-padded, greedy, each row finished on its
own at an end-of-sequence token or a stop sequence (a per-row stopping criterion), then
decoded and cut at the first stop sequence as the backend does. Sampled requests (temperature
above 0) keep the backend's own per-request seeded sampler, one at a time, so that a seed
gives the same answer whichever way it was asked.

It uses the backend's public ``model``, ``tokenizer``, ``encode`` and ``render``; the
end-of-sequence ids and the chat-template switch are read from the backend when it has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arena.backends import BackendError, Message, SamplingParams, apply_stop

__all__ = ["batched_generate"]


def _messages(turns: Sequence[tuple[str, str]]) -> list[Message]:
    return [Message(r, t) for r, t in turns]  # type: ignore[arg-type]


def _encode(
    backend: Any, prompt: str | Sequence[tuple[str, str]]
) -> tuple[list[int], tuple[str, ...]]:
    if isinstance(prompt, str):
        return list(backend.encode(prompt)), ()
    text, implied = backend.render(_messages(prompt))
    if getattr(backend, "_use_chat_template", False):
        return list(backend.tokenizer(text, add_special_tokens=False)["input_ids"]), tuple(implied)
    return list(backend.encode(text)), tuple(implied)


def batched_generate(
    backend: Any,
    prompts: Sequence[str | Sequence[tuple[str, str]]],
    params: Sequence[SamplingParams],
) -> list[str]:
    """Answers to ``prompts`` (plain strings or chat turns), greedy ones in one batch."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    out: list[str | None] = [None] * len(prompts)
    greedy = [i for i, p in enumerate(params) if p.greedy]
    for i, p in enumerate(params):
        if not p.greedy:
            prompt = prompts[i]
            if isinstance(prompt, str):
                out[i] = "".join(backend.complete(prompt, p))
            else:
                out[i] = "".join(backend.generate(_messages(prompt), p))
    # rows sharing max_new_tokens and stops go together
    groups: dict[tuple[int, tuple[str, ...]], list[int]] = {}
    encoded = {i: _encode(backend, prompts[i]) for i in greedy}
    own = tuple(getattr(getattr(backend, "_opts", None), "stop", ()))  # the model's own stops
    for i in greedy:
        stops = tuple(dict.fromkeys((*params[i].stop, *own, *encoded[i][1])))
        groups.setdefault((params[i].max_new_tokens, stops), []).append(i)

    model = backend.model
    tok = backend.tokenizer
    eos: list[int] = list(getattr(backend, "_eos_ids", None) or [tok.eos_token_id])
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

        class _Stops(StoppingCriteria):
            def __init__(self, stops: tuple[str, ...], width: int):
                self.stops, self.width = stops, width

            def __call__(self, seqs: Any, scores: Any, **kwargs: Any) -> Any:
                stops, width = self.stops, self.width
                done = torch.zeros(seqs.shape[0], dtype=torch.bool)
                if stops:
                    tail = min(seqs.shape[1] - width, max(map(len, stops)) + 8)
                    texts = tok.batch_decode(
                        seqs[:, seqs.shape[1] - tail :], skip_special_tokens=True
                    )
                    for r, text in enumerate(texts):
                        done[r] = any(s in text for s in stops)
                return done.to(seqs.device)

        with torch.inference_mode():
            gen = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=min(max_new, room),
                do_sample=False,
                eos_token_id=eos,
                pad_token_id=pad,
                stopping_criteria=StoppingCriteriaList([_Stops(stops, width)]),
            )
        texts = tok.batch_decode(gen[:, width:], skip_special_tokens=True)
        for i, text in zip(rows, texts, strict=True):
            out[i] = apply_stop(text, stops)
    return [o if o is not None else "" for o in out]
