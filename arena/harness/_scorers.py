"""Scorers and row processors, registered by name so that suite files can refer to them.

A scorer compares one model output with its target and returns a number (1.0 / 0.0 for a
match, or any value whose mean is meaningful)::

    from arena.harness import scorer

    @scorer("starts_with")
    def starts_with(output: str, target: str, *, ignore_case: bool = False) -> float:
        if ignore_case:
            output, target = output.lower(), target.lower()
        return float(output.strip().startswith(target.strip()))

A suite names it in ``scorers = ["starts_with"]`` or, with parameters,
``scorers = [{ name = "starts_with", ignore_case = true }]``. A scorer that declares a
``doc`` parameter also receives the data row. Each scorer gives one metric of the same name
(``metric`` in its table renames it), averaged over samples with a 95 % interval.

A processor rewrites a data row before templates see it (lm-eval's ``process_docs``, but
named in the suite instead of executed from it)::

    @processor("hellaswag")
    def hellaswag(doc: dict) -> dict: ...
"""

from __future__ import annotations

import inspect
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ScorerFn",
    "extract_number",
    "processor",
    "processors",
    "run_scorer",
    "scorer",
    "scorers",
]

#: A scorer: ``(output, target, **params) -> float`` (optionally with a ``doc`` keyword).
ScorerFn = Callable[..., float]
#: A processor: a data row in, the rewritten row out.
ProcessorFn = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class _Registered:
    fn: Callable[..., Any]
    params: frozenset[str]
    takes_doc: bool


_SCORERS: dict[str, _Registered] = {}
_PROCESSORS: dict[str, ProcessorFn] = {}


def scorer(name: str) -> Callable[[ScorerFn], ScorerFn]:
    """Register the decorated function as the scorer ``name`` (a later one replaces it)."""

    def decorate(fn: ScorerFn) -> ScorerFn:
        sig = inspect.signature(fn)
        params = frozenset(
            p.name
            for p in list(sig.parameters.values())[2:]
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "doc"
        )
        _SCORERS[name] = _Registered(fn, params, "doc" in sig.parameters)
        return fn

    return decorate


def processor(name: str) -> Callable[[ProcessorFn], ProcessorFn]:
    """Register the decorated function as the row processor ``name``."""

    def decorate(fn: ProcessorFn) -> ProcessorFn:
        _PROCESSORS[name] = fn
        return fn

    return decorate


def scorers() -> dict[str, frozenset[str]]:
    """Registered scorer names with the parameters each accepts."""
    return {name: reg.params for name, reg in sorted(_SCORERS.items())}


def processors() -> tuple[str, ...]:
    """Registered processor names."""
    return tuple(sorted(_PROCESSORS))


def get_processor(name: str) -> ProcessorFn:
    """The processor ``name`` (the suite loader has checked that it exists)."""
    return _PROCESSORS[name]


def run_scorer(
    name: str, output: str, target: str, doc: Mapping[str, Any], params: Mapping[str, Any]
) -> float:
    """Apply the registered scorer ``name`` to one output."""
    reg = _SCORERS[name]
    kwargs = dict(params)
    if reg.takes_doc:
        kwargs["doc"] = doc
    return float(reg.fn(output, target, **kwargs))


# -- built-in scorers --------------------------------------------------------------------------


def _normalise(
    text: str,
    *,
    ignore_case: bool,
    ignore_punctuation: bool,
    regexes_to_ignore: tuple[str, ...] | list[str],
) -> str:
    for pattern in regexes_to_ignore:
        text = re.sub(pattern, "", text)
    if ignore_case:
        text = text.lower()
    if ignore_punctuation:
        text = text.translate(str.maketrans("", "", string.punctuation))
    return text.strip()


@scorer("exact_match")
def exact_match(
    output: str,
    target: str,
    *,
    ignore_case: bool = False,
    ignore_punctuation: bool = False,
    regexes_to_ignore: tuple[str, ...] | list[str] = (),
) -> float:
    """1.0 when output and target are equal after the optional normalisations (lm-eval's)."""

    def norm(text: str) -> str:
        return _normalise(
            text,
            ignore_case=ignore_case,
            ignore_punctuation=ignore_punctuation,
            regexes_to_ignore=regexes_to_ignore,
        )

    return float(norm(output) == norm(target))


@scorer("includes")
def includes(output: str, target: str, *, ignore_case: bool = False) -> float:
    """1.0 when the target appears anywhere in the output."""
    if ignore_case:
        output, target = output.lower(), target.lower()
    return float(target.strip() in output)


_NUMBER = re.compile(r"-?[$0-9.,]{2,}|-?[0-9]+")
_STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")


def extract_number(text: str, *, strict: bool = False) -> str | None:
    """The answer number of a GSM8K-style output, as lm-eval's filters extract it.

    ``strict``: the number after ``#### `` (lm-eval's "strict-match"); otherwise the last
    number-like span of the text ("flexible-extract"). Returns None when there is none.
    """
    if strict:
        m = _STRICT.search(text)
        return m.group(1).strip() if m else None
    found = _NUMBER.findall(text)
    return found[-1].strip() if found else None


def _clean_number(text: str) -> str:
    text = re.sub(r"[,$]", "", text)
    text = re.sub(r"(?s).*#### ", "", text)
    return re.sub(r"\.$", "", text).strip()


@scorer("number_match")
def number_match(output: str, target: str, *, strict: bool = False) -> float:
    """GSM8K: the number extracted from the output equals the target's (commas, $ ignored)."""
    found = extract_number(output, strict=strict)
    if found is None:
        return 0.0
    return float(_clean_number(found) == _clean_number(target))


@scorer("regex_match")
def regex_match(output: str, target: str, *, pattern: str, group: int = 1) -> float:
    """The first match of ``pattern`` in the output (its ``group``) equals the target."""
    m = re.search(pattern, output)
    if not m:
        return 0.0
    return float(m.group(group).strip() == target.strip())


# -- built-in processors -----------------------------------------------------------------------


def _hellaswag_text(text: str) -> str:
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


#: A context that ends a sentence (WikiHow rows: their ``ctx_b`` is empty).
_ENDS_SENTENCE = re.compile(r"[.!?][\"')\]]?\s*$")
#: The last sentence end, then a fragment without one (ActivityNet rows' ``ctx_b``).
_FRAGMENT = re.compile(r"^(.*[.!?])\s+(\S[^.!?]*)$", re.DOTALL)


def split_hellaswag_ctx(ctx: str) -> tuple[str, str]:
    """``(ctx_a, ctx_b)`` of a HellaSwag row that has only ``ctx`` (= ``ctx_a + " " + ctx_b``).

    ``ctx_b`` is the lowercase fragment that starts the sentence the endings complete
    ("... around on stilts. they"), empty when ``ctx`` ends a sentence (WikiHow rows). On
    the 100 bundled rows this gives back 32 fragments, the rows whose lm-eval prompt
    differs from ``ctx``. A ``ctx`` with no sentence end before the fragment is kept
    whole as ``ctx_a``.
    """
    if _ENDS_SENTENCE.search(ctx):
        return ctx, ""
    m = _FRAGMENT.match(ctx)
    if m is None:
        return ctx, ""
    return m.group(1), m.group(2)


@processor("hellaswag")
def hellaswag(doc: dict[str, Any]) -> dict[str, Any]:
    """lm-eval's HellaSwag preprocessing: ``query`` and cleaned ``choices``.

    lm-eval writes the context as ``ctx_a + " " + ctx_b.capitalize()`` (the fragment gets
    its capital letter); rows with only ``ctx`` get the two fields back first
    (:func:`split_hellaswag_ctx`).
    """
    if isinstance(doc.get("ctx_a"), str) and isinstance(doc.get("ctx_b"), str):
        ctx_a, ctx_b = doc["ctx_a"], doc["ctx_b"]
    else:
        ctx_a, ctx_b = split_hellaswag_ctx(str(doc.get("ctx", "")))
    ctx = f"{ctx_a} {ctx_b.capitalize()}"
    out = dict(doc)
    out["query"] = _hellaswag_text(f"{doc.get('activity_label', '')}: {ctx}")
    out["choices"] = [_hellaswag_text(e) for e in doc["endings"]]
    return out
