r"""The ``transformers`` backend: local weights run in-process with PyTorch, on CPU or GPU.

Loading
    From a local Hugging Face directory, a GGUF file in a directory, or an installed model
    package (see :mod:`.weights`). Nothing is fetched from a hub (``local_files_only``).
    GGUF weights are de-quantized once and cached as safetensors. Loading happens on first
    use, or in the background with :meth:`load_async` (the web app shows the page at once).

Generation
    The ``repetition_penalty`` and ``no_repeat_ngram_size`` options (the repetition guard of
    small models) go into the generation config. ``model.generate`` runs in a worker thread
    and feeds a ``TextIteratorStreamer``; chunks pass through a
    :class:`~arena.backends.base.StopFilter`, and generation is cancelled when a stop
    sequence appears or the consumer stops reading. The answer is an :class:`AnswerStream`,
    which counts the generated tokens and says how the answer ended (stop, eos, length).
    Greedy at temperature 0; otherwise sampled by a logits processor with its own seeded
    ``torch.Generator``, so a seed gives the same answer whatever other threads do with
    torch's global random state.

Prompts
    With a chat template (``chat_template``), the tokenizer's template renders the
    conversation. Without one (base models), ``prompt_format`` writes it: ``user_assistant``
    gives the ``preamble`` (an instruction and example exchanges), then ``User: ...`` /
    ``Assistant: ...`` lines ending in ``Assistant:``, and adds the stop sequences
    :data:`ROLE_MARKERS` (``User:``, ``Assistant:``), so the answer ends wherever the model
    starts another turn; ``plain`` sends the last user turn alone. Plain prompts
    (:meth:`complete`) and the user_assistant/plain formats get the tokenizer's BOS token
    when its default encoding adds one (Gemma does, SmolLM2 does not).

Log-likelihood
    As lm-evaluation-harness does (``HFLM._encode_pair``): trailing spaces of the context move
    to the start of the continuation; ``context + continuation`` is encoded whole and split at
    the length of the context's own encoding, so the continuation's tokens are those the model
    sees in the joined text; an empty context becomes the BOS (or EOS) token. The model input
    is ``(context + continuation)[:-1]``, truncated on the left to the context length. Inputs
    are sorted longest first and batched by a token budget, right-padded; requests whose inputs
    are identical (the same context with one-token continuations, as in multiple choice with
    letter answers) share one row, so that context is computed once. Only the continuation
    positions are projected to the vocabulary (``logits_to_keep``). The score is the sum of the
    log-softmax of the continuation tokens, and greedy means each is the argmax.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import inspect
import json
import os
import shutil
import tempfile
import threading
import uuid
import warnings
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

from arena.backends.base import (
    BaseBackend,
    LogLikelihood,
    Message,
    ModelInfo,
    SamplingParams,
    StopFilter,
    filter_stream,
)
from arena.backends.config import ModelConfig
from arena.backends.errors import BackendError, MissingDependency
from arena.backends.options import TransformersOptions
from arena.backends.transformers.weights import (
    CACHE_FORMAT,
    CACHE_META,
    WeightsSource,
    cache_entry,
    read_cache_meta,
    resolve_source,
)

__all__ = ["ROLE_MARKERS", "AnswerStream", "TransformersBackend", "resolve_device", "resolve_dtype"]

#: End-of-turn tokens of common chat templates, and their start-of-turn tokens (a model that
#: opens a new turn has finished its own); generation also stops on them in chat mode.
_END_OF_TURN = (
    "<|im_end|>",
    "<end_of_turn>",
    "<|eot_id|>",
    "<|end|>",
    "<|endoftext|>",
    "<|im_start|>",
    "<start_of_turn>",
    "<|start_header_id|>",
)
#: Turn labels of the ``user_assistant`` format. An answer ends where the model writes one,
#: wherever in its text: a base model that goes on with the transcript (a new "User:" turn,
#: or the question again followed by "Assistant:") has finished its own answer by then.
ROLE_MARKERS = ("User:", "Assistant:")
#: Most logits (batch x kept positions x vocabulary) one scoring forward pass may produce.
_MAX_LOGITS = 1 << 27


_CONVERT_LOCK = threading.Lock()
#: Held around every ``from_pretrained`` of a model. transformers builds a model inside
#: context managers that patch process-wide state for the duration of the call (5.x:
#: ``PreTrainedModel.tie_weights`` replaced by a no-op, torch's default dtype, the
#: ``torch.nn.init`` functions, registered class patches). Two overlapping calls restore
#: that state in the wrong order: the later one puts back the no-op it saw, so from then on
#: no model of the process ties its output embeddings, and a tied ``lm_head`` stays on the
#: meta device ("lm_head.weight | MISSING", then "Cannot copy out of meta tensor"). The web
#: app loads its models in parallel threads, so every model load takes this lock.
_FROM_PRETRAINED_LOCK = threading.RLock()


class _IncompleteModel(RuntimeError):
    """A loaded model has weights that were never filled in (left on the meta device)."""


def _check_complete(model: Any, where: str) -> None:
    """Raise :class:`_IncompleteModel` unless every parameter and buffer of ``model`` has data.

    ``from_pretrained`` only warns when checkpoint keys are missing (and leaves those weights
    on the meta device or randomly initialised); a model that is served or cached must be whole.
    """
    missing = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        shown = ", ".join(missing[:5]) + more
        raise _IncompleteModel(f"{where}: weights without data after loading: {shown}")


@contextlib.contextmanager
def _memoised_gguf_parsing() -> Iterator[None]:
    """Parse a GGUF file once per conversion instead of three times.

    transformers builds a ``gguf.GGUFReader`` for the config, another for the tokenizer and a
    third for the weights, and parsing the vocabulary arrays is slow Python (about 12 s a time
    for SmolLM2's 49k tokens, more for Gemma's 262k); it also rebuilds gguf's tensor-name map
    for every module. Both are pure functions of their arguments, so they are memoised while a
    conversion runs (conversions are serialised by a lock), and restored afterwards.
    """
    import functools

    import gguf

    readers: dict[tuple[str, str], Any] = {}
    original_reader = gguf.GGUFReader
    original_map = gguf.get_tensor_name_map

    def reader(path: Any, mode: str = "r") -> Any:
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = original_reader(path, mode)  # type: ignore[arg-type]
        return readers[key]

    with _CONVERT_LOCK:
        gguf.GGUFReader = reader  # type: ignore[assignment,misc]
        gguf.get_tensor_name_map = functools.cache(original_map)
        try:
            yield
        finally:
            gguf.GGUFReader = original_reader  # type: ignore[misc]
            gguf.get_tensor_name_map = original_map
            readers.clear()


def _dequantize_kwargs() -> dict[str, Any]:
    """Ask for a plain float32 model, one that can be saved and run on any device.

    Recent transformers may keep GGUF weights packed (when the ``kernels`` package is
    installed), which cannot be saved; ``GgufConfig(dequantize=True)`` unpacks them. Older
    versions have no ``GgufConfig`` and always unpack.
    """
    try:
        from transformers.utils.quantization_config import GgufConfig
    except ImportError:
        return {}
    return {"quantization_config": GgufConfig(dequantize=True)}


def resolve_device(option: str) -> torch.device:
    """The torch device of the ``device`` option (``auto``: CUDA, then MPS, then CPU)."""
    if option == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(option)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device '{option}' was asked for, but CUDA is not available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device '{option}' was asked for, but MPS is not available")
    return device


def resolve_dtype(option: str, device: torch.device) -> torch.dtype:
    """The torch dtype of the ``dtype`` option (``auto``: float32 on CPU, bf16/fp16 on a GPU)."""
    if option != "auto":
        dtype: torch.dtype = getattr(torch, option)
        return dtype
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


class _Cancelled(StoppingCriteria):
    """Stops generation once ``event`` is set (stop sequence seen, or the reader went away)."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        done = torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool)
        return done.to(input_ids.device)  # type: ignore[return-value]


class _CountingStreamer(TextIteratorStreamer):
    """A text streamer that also counts the generated tokens and remembers the last one."""

    def __init__(self, tokenizer: Any):
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.new_tokens = 0
        self.last_token: int | None = None

    def put(self, value: torch.Tensor) -> None:
        if not self.next_tokens_are_prompt:
            flat = value.reshape(-1)
            self.new_tokens += int(flat.numel())
            if flat.numel():
                self.last_token = int(flat[-1].item())
        super().put(value)  # type: ignore[no-untyped-call]


class AnswerStream(Iterator[str]):
    """The text chunks of one answer, and once it is read, how it ended and its length.

    Attributes
    ----------
    new_tokens:
        Tokens the model generated so far (at most the request's ``max_new_tokens``; a stop
        sequence can end the answer a token or two before generation notices).
    finish_reason:
        None while the answer is being read; then ``"stop"`` (a stop sequence or role
        marker ended it), ``"eos"`` (the model's end-of-sequence or end-of-turn token),
        ``"length"`` (the ``max_new_tokens`` cap) or ``"closed"`` (the reader stopped early).
    """

    def __init__(
        self,
        chunks: Iterator[str],
        streamer: _CountingStreamer,
        stops: StopFilter,
        max_new_tokens: int,
        eos_ids: Sequence[int],
    ):
        self._chunks = chunks
        self._streamer = streamer
        self._stops = stops
        self._max_new_tokens = max_new_tokens
        self._eos_ids = frozenset(eos_ids)
        self.finish_reason: str | None = None

    @property
    def new_tokens(self) -> int:
        """Tokens generated so far."""
        return self._streamer.new_tokens

    def __iter__(self) -> AnswerStream:
        return self

    def __next__(self) -> str:
        try:
            return next(self._chunks)
        except StopIteration:
            if self.finish_reason is None:
                self.finish_reason = self._reason()
            raise

    def _reason(self) -> str:
        if self._stops.stopped:
            return "stop"
        if self._streamer.last_token in self._eos_ids:
            return "eos"
        return "length" if self.new_tokens >= self._max_new_tokens else "eos"

    def close(self) -> None:
        """Stop generating (the reader went away); what was read stays valid."""
        if self.finish_reason is None:
            self.finish_reason = "closed"
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class _SeededSampler(LogitsProcessor):
    """Draws the next token (temperature, top-p) with a private generator; greedy then picks it.

    Sampling inside a logits processor keeps the random state per request: torch's global
    generator, which ``do_sample=True`` uses, is shared by every thread.
    """

    def __init__(self, temperature: float, top_p: float, seed: int | None, device: torch.device):
        self.temperature = temperature
        self.top_p = top_p
        self.generator = torch.Generator(device=device)
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(seed)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            before = sorted_probs.cumsum(dim=-1) - sorted_probs
            sorted_probs[before >= self.top_p] = 0.0  # keeps at least the most likely token
            probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
        token = torch.multinomial(probs, 1, generator=self.generator)
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(-1, token, 0.0)
        return out  # type: ignore[return-value]


class TransformersBackend(BaseBackend):
    """A causal language model run with transformers; see the module docstring."""

    def __init__(self, config: ModelConfig):
        opts: TransformersOptions = config.options
        super().__init__(config.info(source=opts.package or opts.path))
        self._config = config
        self._opts = opts
        self._model: Any = None
        self._tokenizer: Any = None
        self._device = torch.device("cpu")
        self._max_length = 0
        self._use_chat_template = False
        self._add_bos = False
        self._eos_ids: list[int] = []
        self._pad_id = 0
        self._keeps_logits = False
        self.cache_path: Path | None = None
        self.load_seconds: float | None = None
        self.loaded_from_cache: bool | None = None

    # -- loading ----------------------------------------------------------------------------

    def _load(self) -> ModelInfo:
        import time

        start = time.perf_counter()
        name = self._info.name
        try:
            self._device = resolve_device(self._opts.device)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(name, "load", f"bad 'device' option: {exc}") from None
        dtype = resolve_dtype(self._opts.dtype, self._device)
        source = resolve_source(self._config)
        if source.is_gguf and self._opts.cache:
            model, tokenizer = self._load_cached(source, dtype)
        elif source.is_gguf:
            model, tokenizer = self._convert_uncached(source)
            self.loaded_from_cache = False
        else:
            assert source.directory is not None
            model, tokenizer = self._load_directory(source.directory, dtype)
        model = model.to(device=self._device, dtype=dtype).eval()
        self._model, self._tokenizer = model, tokenizer
        self._setup_tokens(tokenizer, model)
        self.load_seconds = time.perf_counter() - start
        return self._config.info(
            context_length=self._max_length,
            source=source.label,
            weights_sha256=source.sha256,
        )

    def _load_directory(self, directory: Path, dtype: torch.dtype) -> tuple[Any, Any]:
        tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        with _FROM_PRETRAINED_LOCK:
            model = AutoModelForCausalLM.from_pretrained(
                str(directory), dtype=dtype, local_files_only=True
            )
        _check_complete(model, str(directory))
        return model, tokenizer

    def _convert_gguf(self, source: WeightsSource, source_dir: Path | None) -> tuple[Any, Any]:
        """Load (de-quantize) a GGUF file; ``source_dir`` holds it when it had to be assembled."""
        if importlib.util.find_spec("gguf") is None:
            raise MissingDependency("transformers", "gguf", "hf")
        directory = source_dir if source_dir is not None else source.directory
        assert directory is not None and source.gguf_file is not None
        with _memoised_gguf_parsing():
            tokenizer = AutoTokenizer.from_pretrained(
                str(directory), gguf_file=source.gguf_file, local_files_only=True
            )
            with _FROM_PRETRAINED_LOCK:
                model = AutoModelForCausalLM.from_pretrained(
                    str(directory),
                    gguf_file=source.gguf_file,
                    dtype=torch.float32,
                    local_files_only=True,
                    **_dequantize_kwargs(),
                )
        _check_complete(model, source.label)
        if getattr(model, "hf_quantizer", None) is not None:
            setattr(model, "hf_quantizer", None)  # noqa: B010 (typed as a module attribute)
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        return model, tokenizer

    def _convert_uncached(self, source: WeightsSource) -> tuple[Any, Any]:
        with tempfile.TemporaryDirectory(prefix="arena-gguf-") as tmp:
            gguf_dir = source.assemble(Path(tmp)).parent if source.assemble else None
            return self._convert_gguf(source, gguf_dir)

    def _load_cached(self, source: WeightsSource, dtype: torch.dtype) -> tuple[Any, Any]:
        entry = cache_entry(self._config, source, transformers.__version__)
        self.cache_path = entry
        meta = read_cache_meta(entry)
        if meta is not None and meta.get("weights_sha256") == source.sha256:
            try:
                # float32 as saved (the dtype is applied after): loading at another dtype
                # would change torch's process-wide default dtype while other threads run.
                loaded = self._load_directory(entry, torch.float32)
            except Exception as exc:  # a damaged entry (truncated, edited, half-deleted)
                # Kept until a good conversion replaces it (see _save_entry): if the fault
                # is not in the entry, nothing that worked before is lost.
                warnings.warn(
                    f"model '{self._info.name}': the cached model {entry} does not load "
                    f"({type(exc).__name__}: {exc}); converting the GGUF again",
                    RuntimeWarning,
                    stacklevel=3,
                )
            else:
                self.loaded_from_cache = True
                return loaded
        self.loaded_from_cache = False
        work = entry.parent / f".{entry.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            work.mkdir(parents=True)
        except OSError as exc:
            self._cache_warning(entry, exc)
            return self._convert_uncached(source)
        try:
            gguf_dir = None
            if source.assemble is not None:
                (work / "gguf").mkdir()
                gguf_dir = source.assemble(work / "gguf").parent
            model, tokenizer = self._convert_gguf(source, gguf_dir)
            try:
                self._save_entry(model, tokenizer, source, work / "model", entry)
            except OSError as exc:  # disk full, read-only cache: the model is loaded anyway
                self._cache_warning(entry, exc)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return model, tokenizer

    def _save_entry(
        self, model: Any, tokenizer: Any, source: WeightsSource, saved: Path, entry: Path
    ) -> None:
        model.save_pretrained(str(saved))
        tokenizer.save_pretrained(str(saved))
        meta = {
            "format": CACHE_FORMAT,
            "model": self._info.name,
            "source": source.label,
            "gguf_file": source.gguf_file,
            "weights_sha256": source.sha256,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "dtype": "float32",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        # Written last: its presence marks a complete entry.
        (saved / CACHE_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if entry.exists():  # a broken or stale entry (a complete one was read above)
            self._discard_entry(entry)
        # OSError here: another process finished first; its entry is as good as ours.
        with contextlib.suppress(OSError):
            os.rename(saved, entry)

    @staticmethod
    def _discard_entry(entry: Path) -> None:
        """Remove a cache entry: renamed away first, so no other process reads half of it."""
        trash = entry.parent / f".{entry.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(entry, trash)
        except OSError:
            return  # gone already (another process replaced it)
        shutil.rmtree(trash, ignore_errors=True)

    def _cache_warning(self, entry: Path, exc: OSError) -> None:
        warnings.warn(
            f"model '{self._info.name}': cannot write the model cache {entry} ({exc}); "
            "the next load will convert the GGUF again (set cache_dir or $ARENA_MODEL_CACHE)",
            RuntimeWarning,
            stacklevel=4,
        )

    def _setup_tokens(self, tokenizer: Any, model: Any) -> None:
        name = self._info.name
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if self._opts.chat_template and not has_template:
            raise BackendError(
                name,
                "load",
                "chat_template = true, but the tokenizer has no chat template; "
                "set chat_template = false and pick a prompt_format",
            )
        self._use_chat_template = (
            has_template if self._opts.chat_template is None else self._opts.chat_template
        )
        bos = tokenizer.bos_token_id
        probe = tokenizer("a")["input_ids"]
        self._add_bos = bos is not None and len(probe) > 0 and probe[0] == bos
        eos: list[int] = []
        for ids in (model.generation_config.eos_token_id, tokenizer.eos_token_id):
            if ids is not None:
                eos.extend(ids if isinstance(ids, list) else [ids])
        if self._use_chat_template:
            vocab = tokenizer.get_vocab()
            eos.extend(vocab[t] for t in _END_OF_TURN if t in vocab)
        self._eos_ids = list(dict.fromkeys(eos))
        pad = tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else (self._eos_ids[0] if self._eos_ids else 0)
        own = getattr(model.config, "max_position_embeddings", None) or 2048
        self._max_length = self._opts.max_length or int(own)
        self._keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters

    @property
    def tokenizer(self) -> Any:
        """The loaded tokenizer (loads the model first)."""
        self.load()
        return self._tokenizer

    @property
    def model(self) -> Any:
        """The loaded ``PreTrainedModel`` (loads it first)."""
        self.load()
        return self._model

    @property
    def uses_chat_template(self) -> bool:
        """Whether conversations are rendered with the tokenizer's chat template."""
        self.load()
        return self._use_chat_template

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        """Token ids that end generation (the model's EOS, plus end-of-turn tokens in chat mode)."""
        self.load()
        return tuple(self._eos_ids)

    @property
    def stop(self) -> tuple[str, ...]:
        """The model's own stop sequences (the ``stop`` option), applied to every answer."""
        return self._opts.stop

    # -- prompts ----------------------------------------------------------------------------

    def prompt_ids(self, prompt: str | Sequence[Message]) -> tuple[list[int], tuple[str, ...]]:
        r"""Token ids fed to the model for a plain prompt or a conversation.

        Returns the ids and the stop sequences the prompt format implies
        (:data:`ROLE_MARKERS` for ``user_assistant``); what :meth:`complete` and
        :meth:`generate` use, exposed for callers that batch generation themselves.
        """
        self.load()
        if isinstance(prompt, str):
            return self.encode(prompt), ()
        text, implied = self.render(prompt)
        if self._use_chat_template:  # the template writes the special tokens itself
            ids: list[int] = self._tokenizer(text, add_special_tokens=False)["input_ids"]
            return ids, implied
        return self.encode(text), implied

    def encode(self, text: str) -> list[int]:
        """Token ids of a plain text, with BOS when the tokenizer adds one by default."""
        ids: list[int] = self._tokenizer(text, add_special_tokens=False)["input_ids"]
        return [self._tokenizer.bos_token_id, *ids] if self._add_bos else ids

    def render(self, messages: Sequence[Message]) -> tuple[str, tuple[str, ...]]:
        """The prompt text of a conversation, and the stop sequences its format implies."""
        if not messages:
            raise BackendError(self._info.name, "generate", "no messages to answer")
        if self._use_chat_template:
            text: str = self._tokenizer.apply_chat_template(
                [m.to_dict() for m in messages],
                add_generation_prompt=True,
                tokenize=False,
            )
            return text, ()
        if self._opts.prompt_format == "plain":
            user = [m.content for m in messages if m.role == "user"]
            return (user[-1] if user else ""), ()
        parts: list[str] = []
        if self._opts.preamble.strip():
            parts.append(f"{self._opts.preamble.strip()}\n\n")
        for m in messages:
            if m.role == "system":
                parts.append(f"{m.content.strip()}\n\n")
            elif m.role == "user":
                parts.append(f"User: {m.content.strip()}\n")
            else:
                parts.append(f"Assistant: {m.content.strip()}\n\n")
        return "".join(parts) + "Assistant:", ROLE_MARKERS

    # -- generation -------------------------------------------------------------------------

    def generate(self, messages: Sequence[Message], params: SamplingParams) -> Iterator[str]:
        """Stream the answer to a conversation (see the module docstring for prompt formats)."""
        ids, implied = self.prompt_ids(messages)
        return self._stream("generate", ids, params, implied)

    def complete(self, prompt: str, params: SamplingParams) -> Iterator[str]:
        """Stream the continuation of a plain prompt."""
        ids, implied = self.prompt_ids(prompt)
        return self._stream("complete", ids, params, implied)

    def _stream(
        self, operation: str, ids: list[int], params: SamplingParams, implied: tuple[str, ...]
    ) -> Iterator[str]:
        name = self._info.name
        if not ids:
            raise BackendError(name, operation, "the prompt is empty")
        room = self._max_length - len(ids)
        if room < 1:
            raise BackendError(
                name,
                operation,
                f"the prompt has {len(ids)} tokens, the model's context only {self._max_length}",
            )
        streamer = _CountingStreamer(self._tokenizer)
        cancel = threading.Event()
        max_new_tokens = min(params.max_new_tokens, room)
        config = GenerationConfig(  # type: ignore[no-untyped-call]
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=self._eos_ids or None,
            pad_token_id=self._pad_id,
            # The repetition guard runs before the sampler (transformers applies the
            # generation config's processors first, then the custom ones).
            repetition_penalty=self._opts.repetition_penalty,
            no_repeat_ngram_size=self._opts.no_repeat_ngram_size,
        )
        processors = LogitsProcessorList()
        if not params.greedy:
            processors.append(
                _SeededSampler(params.temperature, params.top_p, params.seed, self._device)
            )
        input_ids = torch.tensor([ids], device=self._device)
        errors: list[BaseException] = []
        model = self._model

        def work() -> None:
            try:
                with torch.inference_mode():
                    model.generate(
                        input_ids=input_ids,
                        attention_mask=torch.ones_like(input_ids),
                        generation_config=config,
                        logits_processor=processors,
                        stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]),
                        streamer=streamer,
                    )
            except BaseException as exc:
                errors.append(exc)
                streamer.end()  # type: ignore[no-untyped-call]

        def chunks() -> Iterator[str]:
            thread = threading.Thread(target=work, name=f"generate-{name}", daemon=True)
            thread.start()
            try:
                yield from streamer
                thread.join()
                if errors:
                    exc = errors[0]
                    raise BackendError(
                        name, operation, f"generation failed: {type(exc).__name__}: {exc}"
                    ) from exc
            finally:
                cancel.set()
                thread.join()

        # A transcript format's answer is what stands between "Assistant:" and the next role
        # marker, without the blank lines around it.
        stops = StopFilter((*params.stop, *self._opts.stop, *implied))
        text = filter_stream(chunks(), stops, strip=bool(implied))
        return AnswerStream(text, streamer, stops, max_new_tokens, self._eos_ids)

    # -- log-likelihood -----------------------------------------------------------------------

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """Context and continuation tokens, split the way lm-evaluation-harness splits them."""
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            continuation = context[-n_spaces:] + continuation
            context = context[:-n_spaces]
        if not context:
            prefix = self._tokenizer.bos_token_id
            if prefix is None:
                prefix = self._eos_ids[0] if self._eos_ids else self._pad_id
            cont: list[int] = self._tokenizer(continuation, add_special_tokens=False)["input_ids"]
            return [prefix], cont
        whole = self.encode(context + continuation)
        ctx = self.encode(context)
        return ctx, whole[len(ctx) :]

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[LogLikelihood]:
        """Score ``(context, continuation)`` pairs; see the module docstring for the method."""
        return self.loglikelihood_tokens(self.encode_requests(requests))

    def encode_requests(
        self, requests: Sequence[tuple[str, str]]
    ) -> list[tuple[list[int], list[int]]]:
        """The token ids of scoring requests (:meth:`encode_pair`), each one checked.

        Raises
        ------
        BackendError
            A continuation that is empty, encodes to no tokens, or is longer than the
            model's context; the message names the request.
        """
        self.load()
        name = self._info.name
        pairs: list[tuple[list[int], list[int]]] = []
        for i, (context, continuation) in enumerate(requests):
            if not continuation:
                raise BackendError(name, "loglikelihood", f"request {i}: the continuation is empty")
            ctx, cont = self.encode_pair(context, continuation)
            if not cont:
                raise BackendError(
                    name, "loglikelihood", f"request {i}: the continuation encodes to no tokens"
                )
            if len(cont) > self._max_length:
                raise BackendError(
                    name,
                    "loglikelihood",
                    f"request {i}: the continuation has {len(cont)} tokens, more than the "
                    f"model's context ({self._max_length})",
                )
            pairs.append((list(ctx), list(cont)))
        return pairs

    def loglikelihood_tokens(
        self, pairs: Sequence[tuple[list[int], list[int]]]
    ) -> list[LogLikelihood]:
        """Score already-tokenized ``(context, continuation)`` pairs."""
        self.load()
        rows: dict[tuple[int, ...], list[int]] = {}
        for i, (ctx, cont) in enumerate(pairs):
            full = (ctx + cont)[-(self._max_length + 1) :]
            rows.setdefault(tuple(full[:-1]), []).append(i)
        order = sorted(rows, key=lambda r: (-len(r), r))
        vocab = int(self._model.get_output_embeddings().weight.shape[0])
        results: list[LogLikelihood | None] = [None] * len(pairs)
        batch: list[tuple[int, ...]] = []
        positions: set[int] = set()
        for row in order:
            needed = {
                len(row) - len(pairs[j][1]) + t for j in rows[row] for t in range(len(pairs[j][1]))
            }
            width = len(batch[0]) if batch else len(row)
            grown = positions | needed
            if batch and (
                (len(batch) + 1) * width > self._opts.batch_tokens
                or (len(batch) + 1) * len(grown) * vocab > _MAX_LOGITS
            ):
                self._score_batch(batch, sorted(positions), rows, pairs, results)
                batch, grown = [], needed
            batch.append(row)
            positions = grown
        if batch:
            self._score_batch(batch, sorted(positions), rows, pairs, results)
        return [r for r in results if r is not None]

    def _score_batch(
        self,
        batch: list[tuple[int, ...]],
        positions: list[int],
        rows: dict[tuple[int, ...], list[int]],
        pairs: Sequence[tuple[list[int], list[int]]],
        results: list[LogLikelihood | None],
    ) -> None:
        width = len(batch[0])
        ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, row in enumerate(batch):
            ids[r, : len(row)] = torch.tensor(row)
            mask[r, : len(row)] = 1
        kwargs: dict[str, Any] = {"use_cache": False}
        if self._keeps_logits:
            kwargs["logits_to_keep"] = torch.tensor(positions, device=self._device)
            column = {p: k for k, p in enumerate(positions)}
        else:
            column = {p: p for p in positions}
        with torch.inference_mode():
            out = self._model(
                input_ids=ids.to(self._device), attention_mask=mask.to(self._device), **kwargs
            )
            logprobs = torch.log_softmax(out.logits.float(), dim=-1)
            for r, row in enumerate(batch):
                for j in rows[row]:
                    cont = pairs[j][1]
                    cols = [column[len(row) - len(cont) + t] for t in range(len(cont))]
                    lp = logprobs[r, cols, :]
                    target = torch.tensor(cont, device=lp.device)
                    total = float(lp.gather(1, target[:, None]).sum().item())
                    greedy = bool((lp.argmax(dim=-1) == target).all().item())
                    results[j] = LogLikelihood(total, greedy)

    # -- capabilities (arena.backends.base) ------------------------------------------------

    def repetition_guarded(self) -> bool:
        """Whether a repetition guard is set (``repetition_penalty``/``no_repeat_ngram_size``).

        Batched greedy decoding does not apply one, so such a model answers one by one.
        """
        return self._opts.repetition_penalty != 1.0 or self._opts.no_repeat_ngram_size > 0

    def generate_batch(
        self, prompts: Sequence[str | Sequence[Message]], params: Sequence[SamplingParams]
    ) -> list[str]:
        """Answers to many prompts, greedy ones in one batch (:mod:`.batching`)."""
        from arena.backends.transformers.batching import batched_generate

        return batched_generate(self, prompts, params)

    def prefix_scoring_supported(self) -> bool:
        """Whether this model's architecture can be scored with a shared prefix (:mod:`.prefix`)."""
        from arena.backends.transformers.prefix import supports_prefix

        return supports_prefix(self)

    def loglikelihood_shared_prefix(
        self, requests: Sequence[tuple[str, str]], batch_size: int
    ) -> list[LogLikelihood]:
        """Score pairs with each shared context computed once (:mod:`.prefix`)."""
        from arena.backends.transformers.prefix import prefix_loglikelihood

        return prefix_loglikelihood(self, requests, batch_size=batch_size)

    def text_token_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens (rolling log-likelihood windows)."""
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def window_start_token(self) -> int:
        """The token before the first rolling window: BOS, else EOS."""
        tok = self.tokenizer
        return int(tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id)

    def chat_template(self) -> str | None:
        """The tokenizer's chat template (None: it has none)."""
        template = getattr(self.tokenizer, "chat_template", None)
        return template if isinstance(template, str) else None

    def document_bytes(self, width_chars: int, n_cont_tokens: int) -> int:
        """Memory one scored document takes in a forward pass, from the model's shape.

        Activations at float32 for a document of at most one token per two characters,
        plus the logits of its continuation tokens: a generous estimate, so that a batch
        of documents fits in a quarter of the free memory.
        """
        cfg = self.model.config
        hidden = int(getattr(cfg, "hidden_size", 1024))
        inter = int(getattr(cfg, "intermediate_size", 4 * hidden))
        heads = int(getattr(cfg, "num_attention_heads", 16))
        vocab = int(getattr(cfg, "vocab_size", 50_000))
        width = max(16, width_chars // 2)
        per_token = 4 * (8 * hidden + 3 * inter + 2 * heads * width)
        return width * per_token + 8 * n_cont_tokens * vocab

    # -- cleanup ------------------------------------------------------------------------------

    def close(self) -> None:
        """Drop the model and tokenizer and free their memory."""
        super().close()
        self._model = None
        self._tokenizer = None
        gc.collect()
        if self._device.type == "cuda":
            torch.cuda.empty_cache()
