"""Log-likelihoods with shared tokens computed once, for the ``transformers`` backend.

Benchmark prompts repeat themselves: every MMLU question of a subject starts with the same
description, TruthfulQA's six fixed examples open every prompt, and the choices of one
question share the whole context. The backend computes each distinct input once; this
module goes further:

1. pairs are tokenized exactly as the backend does (:meth:`encode_pair`, lm-eval's split),
   and requests with identical model inputs share one row;
2. the rows of one context (a question's choices) are *packed* into one sequence: the
   shared context once, then each choice's tokens, with an attention mask under which a
   choice sees the context and itself but no other choice, and position ids that restart
   after the context for every choice (a tree of continuations, as in speculative
   decoding's tree attention). HellaSwag's four endings, each as long as half the
   context, cost one context plus four endings instead of four contexts plus four endings,
   and no padding between endings of different lengths;
3. packed sequences are batched by length under a token budget, cut where padding would
   exceed a fifth of a batch; where many contexts share a long beginning (few-shot
   examples, a subject's description), the beginning common to a batch runs once (a
   batch of one), its key/value cache is repeated for the batch, and only the packed
   rest runs batched;
4. the vocabulary projection is applied only to the hidden states that predict
   continuation tokens (not to every position of the batch).

The result equals the backend's ``loglikelihood`` up to float rounding (about 1e-6 in
float32; tests/backends/test_transformers_prefix.py). Models whose logits are not
``lm_head(hidden)`` (final logit soft-capping, logit scaling) are left to the backend; a
model with a sliding attention window gets packed batches only while every row fits in
the window (the custom mask replaces the model's own), else the unpacked per-row layout.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from arena.backends.base import LogLikelihood

__all__ = ["prefix_loglikelihood", "supports_prefix"]

#: Contexts are clustered by this many leading tokens (a cluster may share a prefix).
_CLUSTER_TOKENS = 8
#: Shared prefixes shorter than this are not worth a separate pass.
_MIN_PREFIX = 8
#: A cluster's common prefix is computed once per batch when it saves at least this share
#: of the cluster's tokens; otherwise its contexts are batched with the others by length.
_MIN_PREFIX_SAVING = 0.25
#: Tokens per forward pass (batch rows x packed length), at most.
_BATCH_TOKENS = 4096
#: A batch's real tokens are at least this share of its padded ones (lengths vary widely,
#: MMLU's questions from 20 to 600 tokens: a long one would make every short one pay).
_MIN_FILL = 0.8
#: Attention scores per forward pass (rows x heads x queries x keys), at most.
_BATCH_SCORES = 1 << 25
#: Continuation positions projected onto the vocabulary at once.
_HEAD_CHUNK = 1024
#: Config fields that change logits after ``lm_head`` (then the backend scores).
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling")


def supports_prefix(backend: Any) -> bool:
    """Whether ``backend`` is a loaded-able transformers backend this module can drive."""
    if not all(
        hasattr(backend, a) for a in ("encode_pair", "model", "tokenizer", "loglikelihood_tokens")
    ):
        return False
    config = getattr(backend.model, "config", None)
    if any(getattr(config, name, None) not in (None, 1, 1.0) for name in _LOGIT_TRANSFORMS):
        return False
    if not hasattr(backend.model, "get_decoder") or backend.model.get_output_embeddings() is None:
        return False
    params = inspect.signature(backend.model.get_decoder().forward).parameters
    return "position_ids" in params and "attention_mask" in params


def _shared(rows: Sequence[Sequence[int]], limit: int) -> int:
    """Length of the prefix common to ``rows``, at most ``limit``."""
    first = rows[0]
    n = min(limit, *(len(r) for r in rows))
    for r in rows[1:]:
        k = 0
        while k < n and r[k] == first[k]:
            k += 1
        n = k
    return n


@dataclass(frozen=True)
class _Group:
    """The rows of one context, packed: the shared tokens once, then each row's rest.

    Attributes
    ----------
    rows:
        Model inputs (token ids) of the group, each a distinct row.
    shared:
        Tokens common to every row (the context, as far as the rows agree).
    first_needed:
        The smallest position whose output predicts a continuation token: a prefix run
        apart (whose outputs are not projected) must end before it.
    """

    rows: tuple[tuple[int, ...], ...]
    shared: int
    first_needed: int

    def packed_length(self, prefix: int) -> int:
        """Tokens of the packed sequence after a ``prefix`` run apart."""
        return self.shared - prefix + sum(len(r) - self.shared for r in self.rows)


def _groups(
    pairs: Sequence[tuple[list[int], list[int]]], rows: dict[tuple[int, ...], list[int]]
) -> list[_Group]:
    by_context: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    first_needed: dict[tuple[int, ...], int] = {}
    for row, js in rows.items():
        # the row's context part ends at the first position that predicts a continuation
        # token; rows of one question's choices have the same one
        start = len(row) - max(len(pairs[j][1]) for j in js)
        key = row[: start + 1]
        by_context.setdefault(key, []).append(row)
        first_needed[key] = min(first_needed.get(key, start), start)
    out = []
    for key, members in by_context.items():
        members.sort(key=lambda r: (-len(r), r))
        out.append(_Group(tuple(members), _shared(members, len(members[0])), first_needed[key]))
    return out


def _batches(groups: list[_Group], max_rows: int, heads: int) -> list[tuple[list[_Group], int]]:
    """Groups cut into forward passes, each with the length of its prefix run apart."""

    def prefix_of(batch: list[_Group]) -> int:
        if len(batch) < 2:  # one sequence: a separate prefix pass would save nothing
            return 0
        p = _shared([g.rows[0] for g in batch], min(g.first_needed for g in batch))
        return p if p >= _MIN_PREFIX else 0

    clusters: dict[tuple[int, ...], list[_Group]] = {}
    for g in groups:
        clusters.setdefault(g.rows[0][:_CLUSTER_TOKENS], []).append(g)
    pools: list[list[_Group]] = []
    loose: list[_Group] = []
    for members in clusters.values():
        p = prefix_of(members) if len(members) > 1 else 0
        total = sum(g.packed_length(0) for g in members)
        if p and (len(members) - 1) * p >= _MIN_PREFIX_SAVING * total:
            pools.append(members)
        else:
            loose += members
    pools.append(loose)

    out: list[tuple[list[_Group], int]] = []
    for pool in pools:
        pool.sort(key=lambda g: (-g.packed_length(0), g.rows[0]))
        batch: list[_Group] = []
        for g in pool:
            if batch:
                grown = [*batch, g]
                p = prefix_of(grown)
                width = max(x.packed_length(p) for x in grown)
                n_rows = sum(len(x.rows) for x in grown)
                real = sum(x.packed_length(p) for x in grown)
                if (
                    len(grown) * width > _BATCH_TOKENS
                    or real < _MIN_FILL * len(grown) * width
                    or len(grown) * heads * width * (p + width) > _BATCH_SCORES
                    or n_rows > max_rows
                ):
                    out.append((batch, prefix_of(batch)))
                    batch = []
            batch.append(g)
        if batch:
            out.append((batch, prefix_of(batch)))
    return out


@dataclass
class _Layout:
    """One forward pass's inputs, and where each continuation token's prediction lies."""

    ids: Any
    positions: Any
    #: Segment of each packed token: 0 shared, k > 0 the k-th row's own, -1 padding.
    segment: Any
    at_row: list[int]
    at_index: list[int]
    targets: list[int]
    owner: list[int]


def _layout(
    batch: list[_Group],
    p: int,
    rows: dict[tuple[int, ...], list[int]],
    pairs: Sequence[tuple[list[int], list[int]]],
    pad: int,
) -> _Layout:
    import torch

    width = max(g.packed_length(p) for g in batch)
    out = _Layout(
        ids=torch.full((len(batch), width), pad, dtype=torch.long),
        positions=torch.zeros((len(batch), width), dtype=torch.long),
        segment=torch.full((len(batch), width), -1, dtype=torch.long),
        at_row=[],
        at_index=[],
        targets=[],
        owner=[],
    )
    for b, g in enumerate(batch):
        s = g.shared
        tokens = list(g.rows[0][p:s])
        pos = list(range(p, s))
        seg = [0] * (s - p)
        for k, r in enumerate(g.rows):
            start = len(tokens)
            tokens += r[s:]
            pos += range(s, len(r))
            seg += [k + 1] * (len(r) - s)
            for j in rows[r]:
                cont = pairs[j][1]
                # position t of the row predicts its token t + 1
                for t in range(len(r) - len(cont), len(r)):
                    out.at_row.append(b)
                    out.at_index.append(t - p if t < s else start + t - s)
                out.targets += cont
                out.owner += [j] * len(cont)
        n = len(tokens)
        out.ids[b, :n] = torch.tensor(tokens)
        out.positions[b, :n] = torch.tensor(pos)
        out.segment[b, :n] = torch.tensor(seg)
    return out


def _mask(segment: Any, p: int, dtype: Any) -> Any:
    """Additive attention mask ``(batch, 1, width, p + width)`` of the packed layout.

    A token sees the prefix, the shared tokens before it and its own row's tokens before
    it; padding sees only padding (a query that sees nothing would give NaN).
    """
    import torch

    n, width = segment.shape
    causal = torch.ones((width, width), dtype=torch.bool).tril()
    query, key = segment[:, :, None], segment[:, None, :]
    sees = causal & ((query == key) | ((key == 0) & (query >= 0)))
    allowed = torch.cat([torch.ones((n, width, p), dtype=torch.bool), sees], dim=2)
    mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    return mask[:, None]


def _window(config: Any) -> int | None:
    """The model's sliding attention window, when any of its layers has one."""
    window = getattr(config, "sliding_window", None)
    types = getattr(config, "layer_types", None)
    if not window or (types is not None and "sliding_attention" not in types):
        return None
    return int(window)


def prefix_loglikelihood(
    backend: Any, requests: Sequence[tuple[str, str]], batch_size: int
) -> list[LogLikelihood]:
    """Score ``(context, continuation)`` pairs; see the module docstring.

    ``batch_size`` bounds the rows (distinct model inputs) of one forward pass.
    """
    import torch

    pairs = backend.encode_requests(requests)
    max_length = int(backend.info.context_length or 2048)
    rows: dict[tuple[int, ...], list[int]] = {}
    for i, (ctx, cont) in enumerate(pairs):
        full = (ctx + cont)[-(max_length + 1) :]
        rows.setdefault(tuple(full[:-1]), []).append(i)
    model = backend.model
    decoder = model.get_decoder()
    head = model.get_output_embeddings()
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    pad = backend.tokenizer.pad_token_id or 0
    window = _window(model.config)
    heads = int(getattr(model.config, "num_attention_heads", 16))
    # transformers 5 renamed past_key_values to cache
    cache_kw = (
        "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
    )
    totals = [0.0] * len(pairs)
    greedy = [True] * len(pairs)

    with torch.inference_mode():
        for batch, p in _batches(_groups(pairs, rows), max(1, batch_size), heads):
            unpacked = window is not None and max(len(r) for g in batch for r in g.rows) > window
            if unpacked:
                # a custom mask would override the window: one sequence per row, the model's
                # own mask
                batch = [_Group((r,), len(r), g.first_needed) for g in batch for r in g.rows]
            past = None
            if p:
                prefix = torch.tensor([batch[0].rows[0][:p]], device=device)
                past = getattr(decoder(input_ids=prefix, use_cache=True), cache_kw)
                past.batch_repeat_interleave(len(batch))
            lay = _layout(batch, p, rows, pairs, pad)
            if unpacked:
                real = (lay.segment >= 0).long()
                mask = torch.cat([torch.ones((len(batch), p), dtype=torch.long), real], dim=1)
            else:
                mask = _mask(lay.segment, p, dtype)
            hidden = decoder(
                input_ids=lay.ids.to(device),
                attention_mask=mask.to(device),
                position_ids=lay.positions.to(device),
                use_cache=past is not None,
                **{cache_kw: past},
            ).last_hidden_state
            picked = hidden[
                torch.tensor(lay.at_row, device=device), torch.tensor(lay.at_index, device=device)
            ]
            target = torch.tensor(lay.targets, device=device)
            for c in range(0, len(lay.targets), _HEAD_CHUNK):
                logprobs = torch.log_softmax(head(picked[c : c + _HEAD_CHUNK]).float(), dim=-1)
                want = target[c : c + _HEAD_CHUNK]
                token_lp = logprobs.gather(1, want[:, None])[:, 0].tolist()
                hit = (logprobs.argmax(dim=-1) == want).tolist()
                for j, lp, h in zip(lay.owner[c : c + _HEAD_CHUNK], token_lp, hit, strict=True):
                    totals[j] += lp
                    greedy[j] = greedy[j] and h
    return [LogLikelihood(t, g) for t, g in zip(totals, greedy, strict=True)]
