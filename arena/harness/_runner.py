"""Run a suite on models: samples -> cached, batched requests -> scores -> metrics and logs.

:func:`evaluate` is the whole researchers' path in one call::

    from arena.backends import load_models
    from arena.harness import RunOptions, evaluate, load_suite

    models = {m.name: m for m in load_models("models.toml")}
    results = evaluate(load_suite("mmlu"), [models["smollm2-135m-instruct"]],
                       output=Path("runs/mmlu"), options=RunOptions(limit=200))
    print(results.table())

With ``output``, the directory receives ``run.json`` (the run's settings, checked on
``--resume``), ``cache.sqlite`` (every answer, by content hash), ``samples/<model>/<task>.jsonl``
(per-sample logs), ``results.json`` and the table as ``results.csv`` and ``results.md``.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import platform
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from arena.backends import ModelConfig, SamplingParams, create_backend
from arena.errors import UserError
from arena.harness._cache import RequestCache, request_key
from arena.harness._data import (
    Prompt,
    Sample,
    build_samples,
    dataset_file,
    prompt_json,
    selection_record,
)
from arena.harness._executor import BackendFactory, ModelRunner
from arena.harness._letter import letter_labels, letter_prompt, parse_letter
from arena.harness._metrics import (
    MetricValue,
    clip_unit,
    mean_metric,
    pass_at_k,
    perplexity_metrics,
)
from arena.harness._results import EvalResults, TaskResult, write_results_table
from arena.harness._sandbox import Limits, require_sandbox, run_programs
from arena.harness._scorers import run_scorer
from arena.harness._suite import KINDS, Suite, TaskSpec
from arena.io import RUN_FILE, file_sha256, refuse_changed_settings, resume_file, write_atomic

__all__ = ["RunOptions", "evaluate"]

_PACKAGES = ("arena", "torch", "transformers", "tokenizers", "numpy", "safetensors", "gguf")


@dataclass(frozen=True)
class RunOptions:
    """How a suite is run (everything here is recorded in the results).

    Attributes
    ----------
    limit:
        Ask a sample of ``limit`` rows of each task: seeded, stratified by subject when
        the rows have one (:func:`arena.harness._data.select_rows`), recorded in
        ``results.json`` under ``tasks.NAME.selection``.
    tasks:
        Run only these tasks of the suite (None: all).
    batch_size:
        Documents per batch; None picks one from a memory estimate (never by trial).
    chat_template:
        Wrap prompts in each model's chat template (multiple choice contexts too).
    fewshot_as_turns:
        With a chat template, give few-shot examples as user/assistant turns.
    seed:
        Seed of few-shot sampling, sampled generation and bootstrap intervals.
    concurrency:
        Parallel requests to remote (OpenAI-compatible) models; None: 8.
    retries:
        Retries of a transiently failing request before it is recorded as failed.
    bootstrap_rounds:
        Rounds of the bootstrap intervals (perplexities).
    progress:
        Show a progress bar per model and task on standard error.
    unsandboxed_code:
        Run code tasks' model-written programs without the bubblewrap sandbox (the user's
        explicit choice, ``--unsandboxed-code``; recorded in the results). Without it, a
        run with code tasks is refused where the sandbox is not usable.
    multiple_choice:
        How multiple-choice tasks are run: ``"loglikelihood"`` (score every choice; metrics
        ``acc``, ``acc_norm``) or ``"letter"`` (ask for the option's letter and parse the
        reply, for engines and chat APIs without prompt log-probabilities; metrics
        ``acc_letter``, ``unparsed``; see :mod:`arena.harness._letter`).
    """

    limit: int | None = None
    tasks: tuple[str, ...] | None = None
    batch_size: int | None = None
    chat_template: bool = False
    fewshot_as_turns: bool = False
    seed: int = 1234
    concurrency: int | None = None
    retries: int = 2
    bootstrap_rounds: int = 1000
    progress: bool = True
    unsandboxed_code: bool = False
    multiple_choice: str = "loglikelihood"

    def recorded(self) -> dict[str, Any]:
        """The options that change results (what ``--resume`` checks)."""
        d = dataclasses.asdict(self)
        for k in ("progress", "concurrency", "retries", "batch_size"):
            d.pop(k)
        d["tasks"] = list(self.tasks) if self.tasks else None
        if not self.unsandboxed_code:  # the run.json of earlier runs stays valid
            d.pop("unsandboxed_code")
        if self.multiple_choice == "loglikelihood":
            d.pop("multiple_choice")
        return d


# -- task kinds ---------------------------------------------------------------------------------

KindResult = tuple[list[dict[str, Any]], dict[str, MetricValue], int]


def _prompt_of(sample: Sample, options: RunOptions) -> Prompt:
    return sample.turns if options.chat_template else sample.context


def _run_multiple_choice(
    task: TaskSpec, samples: list[Sample], runner: ModelRunner, options: RunOptions, bar: Any
) -> KindResult:
    if options.multiple_choice == "letter":
        return _run_multiple_choice_letter(task, samples, runner, options, bar)
    contexts = [
        runner.render_chat(s.turns) if options.chat_template else s.context for s in samples
    ]
    requests: list[tuple[str, str]] = []
    groups: list[list[int]] = []
    for s, ctx in zip(samples, contexts, strict=True):
        groups.append(list(range(len(requests), len(requests) + len(s.choices))))
        requests += [(ctx, task.delimiter + c) for c in s.choices]
    answers = runner.loglikelihood(requests, groups, bar)
    records, acc, acc_norm = [], [], []
    failed = 0
    for s, ctx, g in zip(samples, contexts, groups, strict=True):
        got = [answers[i] for i in g]
        rec: dict[str, Any] = {
            "index": s.index,
            "prompt": ctx,
            "choices": list(s.choices),
            "gold": s.gold,
            "target": s.target,
        }
        errors = [a["error"] for a in got if "error" in a]
        if errors:
            failed += 1
            rec["error"] = errors[0]
        else:
            lls = np.array([a["logprob"] for a in got])
            lengths = np.array([float(len(c)) for c in s.choices])
            pred = int(np.argmax(lls))
            rec |= {
                "loglikelihoods": lls.tolist(),
                "is_greedy": [a["is_greedy"] for a in got],
                "pred": pred,
                "acc": float(pred == s.gold),
                "acc_norm": float(int(np.argmax(lls / lengths)) == s.gold),
            }
            acc.append(rec["acc"])
            acc_norm.append(rec["acc_norm"])
        records.append(rec)
    return records, {"acc": mean_metric(acc), "acc_norm": mean_metric(acc_norm)}, failed


#: Tokens a reply by letter may take ("ANSWER: B" and a few words around it).
LETTER_MAX_TOKENS = 32


def _letter_prompts(
    task: TaskSpec, s: Sample, options: RunOptions
) -> tuple[Prompt, tuple[str, ...]]:
    """The question of ``s`` asked for a letter, as a chat (messages) or a plain prompt."""
    letters = letter_labels(len(s.choices), task.labels)
    # choices that are the labels themselves (MMLU's " A" ... " D") are listed by the
    # prompt already
    listed = () if tuple(s.choices) == tuple(task.labels) else s.choices
    if options.chat_template:
        *before, last = s.turns
        asked = dataclasses.replace(last, content=letter_prompt(last.content, listed, letters))
        return (*before, asked), letters
    return letter_prompt(s.context, listed, letters) + "\n\nANSWER:", letters


def _run_multiple_choice_letter(
    task: TaskSpec, samples: list[Sample], runner: ModelRunner, options: RunOptions, bar: Any
) -> KindResult:
    """Multiple choice by generated letter (see :mod:`arena.harness._letter`)."""
    asked = [_letter_prompts(task, s, options) for s in samples]
    params = SamplingParams(max_new_tokens=LETTER_MAX_TOKENS, temperature=0.0)
    answers = runner.generate([p for p, _ in asked], [params] * len(asked), bar)
    records, acc, unparsed = [], [], []
    failed = 0
    for s, (prompt, letters), a in zip(samples, asked, answers, strict=True):
        rec: dict[str, Any] = {
            "index": s.index,
            "method": "generated letter",
            "prompt": prompt_json(prompt),
            "choices": list(s.choices),
            "letters": list(letters),
            "gold": s.gold,
            "target": s.target,
        }
        if "error" in a:
            failed += 1
            rec["error"] = a["error"]
        else:
            # a plain prompt ends in "ANSWER:", which the reply continues
            reply = a["text"] if options.chat_template else "ANSWER:" + a["text"]
            pred = parse_letter(reply, letters)
            rec |= {"reply": a["text"], "pred": pred, "acc_letter": float(pred == s.gold)}
            acc.append(rec["acc_letter"])
            unparsed.append(float(pred is None))
        records.append(rec)
    metrics = {"acc_letter": mean_metric(acc), "unparsed": mean_metric(unparsed)}
    return records, {k: clip_unit(v) for k, v in metrics.items()}, failed


def _sampling(task: TaskSpec, options: RunOptions, j: int) -> SamplingParams:
    g = task.generation
    return SamplingParams(
        max_new_tokens=g.max_new_tokens,
        temperature=g.temperature,
        top_p=g.top_p,
        seed=None if g.temperature == 0 else options.seed + j,
        stop=g.stop,
    )


def _generate_all(
    task: TaskSpec, samples: list[Sample], runner: ModelRunner, options: RunOptions, bar: Any
) -> tuple[list[list[dict[str, Any]]], list[Prompt]]:
    n = task.generation.samples
    prompts = [_prompt_of(s, options) for s in samples for _ in range(n)]
    params = [_sampling(task, options, j) for _ in samples for j in range(n)]
    answers = runner.generate(prompts, params, bar)
    per_doc = [answers[i * n : (i + 1) * n] for i in range(len(samples))]
    return per_doc, [prompts[i * n] for i in range(len(samples))]


def _run_generate(
    task: TaskSpec, samples: list[Sample], runner: ModelRunner, options: RunOptions, bar: Any
) -> KindResult:
    per_doc, prompts = _generate_all(task, samples, runner, options, bar)
    scores: dict[str, list[float]] = {s.metric: [] for s in task.scorers}
    records, failed = [], 0
    for s, answers, prompt in zip(samples, per_doc, prompts, strict=True):
        rec: dict[str, Any] = {"index": s.index, "prompt": prompt_json(prompt), "target": s.target}
        errors = [a["error"] for a in answers if "error" in a]
        if errors:
            failed += 1
            rec["error"] = errors[0]
            records.append(rec)
            continue
        outputs = [a["text"] for a in answers]
        rec["output"] = outputs[0] if len(outputs) == 1 else outputs
        rec["scores"] = {}
        for spec in task.scorers:
            values = [
                run_scorer(spec.name, o, s.target or "", s.doc, dict(spec.params)) for o in outputs
            ]
            value = float(np.mean(values))
            rec["scores"][spec.metric] = value
            scores[spec.metric].append(value)
        records.append(rec)
    return records, {k: mean_metric(v) for k, v in scores.items()}, failed


def code_limits(task: TaskSpec) -> Limits:
    """The sandbox limits of a code task's programs (its ``timeout`` and ``memory_mb``)."""
    assert task.code is not None
    return Limits(timeout=task.code.timeout, memory_mb=task.code.memory_mb)


def _run_code(
    task: TaskSpec, samples: list[Sample], runner: ModelRunner, options: RunOptions, bar: Any
) -> KindResult:
    assert task.code is not None
    code = task.code
    limits = code_limits(task)
    sandbox = require_sandbox(unsandboxed=options.unsandboxed_code)
    where = {"tool": sandbox["tool"], "version": sandbox["version"], "limits": limits.as_dict()}
    per_doc, prompts = _generate_all(task, samples, runner, options, bar)
    programs: list[str] = []
    owners: list[int] = []
    for d, (s, answers) in enumerate(zip(samples, per_doc, strict=True)):
        if any("error" in a for a in answers):
            continue
        for a in answers:
            programs.append(code.program.render({**s.doc, "completion": a["text"]}))
            owners.append(d)
    # execution results are cached too (by program, sandbox and limits), so a resumed run
    # does not rerun them, and a sandboxed run never reuses an unsandboxed one's
    keys = [request_key("sandbox", {"op": "exec", "program": p, **where}) for p in programs]
    found = runner.cache.get_many(keys)
    todo = [i for i, k in enumerate(keys) if k not in found]
    done = run_programs(
        [programs[i] for i in todo], limits, unsandboxed=options.unsandboxed_code
    )
    fresh = {
        keys[i]: {"status": r.status, "detail": r.detail} for i, r in zip(todo, done, strict=True)
    }
    runner.cache.put_many(fresh)
    found |= fresh
    outcomes: list[list[dict[str, Any]]] = [[] for _ in samples]
    for i, d in enumerate(owners):
        outcomes[d].append(found[keys[i]])
    metrics: dict[str, list[float]] = {f"pass@{k}": [] for k in code.k}
    records, failed = [], 0
    for s, answers, prompt, outs in zip(samples, per_doc, prompts, outcomes, strict=True):
        rec: dict[str, Any] = {"index": s.index, "prompt": prompt_json(prompt), "target": s.target}
        errors = [a["error"] for a in answers if "error" in a]
        if errors:
            failed += 1
            rec["error"] = errors[0]
            records.append(rec)
            continue
        passed = sum(o["status"] == "passed" for o in outs)
        rec |= {
            "completions": [a["text"] for a in answers],
            "results": outs,
            "passed": passed,
            "sandbox": where,
        }
        for k in code.k:
            value = pass_at_k(len(outs), passed, k)
            rec[f"pass@{k}"] = value
            metrics[f"pass@{k}"].append(value)
        records.append(rec)
    return records, {k: clip_unit(mean_metric(v)) for k, v in metrics.items()}, failed


def _run_perplexity(
    task: TaskSpec, samples: list[Sample], runner: ModelRunner, options: RunOptions, bar: Any
) -> KindResult:
    texts = [s.context for s in samples]
    answers = runner.rolling(texts, bar)
    records, failed = [], 0
    lls, words, nbytes = [], [], []
    for s, text, a in zip(samples, texts, answers, strict=True):
        rec: dict[str, Any] = {"index": s.index, "prompt": text}
        if "error" in a:
            failed += 1
            rec["error"] = a["error"]
        else:
            w = len(re.split(r"\s+", text))
            b = len(text.encode("utf-8"))
            rec |= {"logprob": a["logprob"], "tokens": a["tokens"], "words": w, "bytes": b}
            lls.append(a["logprob"])
            words.append(w)
            nbytes.append(b)
        records.append(rec)
    metrics = perplexity_metrics(
        lls, words, nbytes, rounds=options.bootstrap_rounds, seed=options.seed
    )
    return records, metrics, failed


class TaskKind(Protocol):
    """What differs between the kinds of task (a suite's ``kind = "..."``).

    One object per kind, registered once in :data:`TASK_KINDS`; the run asks it instead of
    branching on the kind's name.
    """

    @property
    def name(self) -> str:
        """The name a suite file gives the kind."""
        ...

    @property
    def needs_sandbox(self) -> bool:
        """Whether the kind runs model-written programs (only in a sandbox, checked first)."""
        ...

    def n_requests(self, task: TaskSpec, samples: list[Sample], options: RunOptions) -> int:
        """How many requests the task sends (the progress bar's total)."""
        ...

    def run(
        self,
        task: TaskSpec,
        samples: list[Sample],
        runner: ModelRunner,
        options: RunOptions,
        bar: Any,
    ) -> KindResult:
        """Ask, score and record: ``(records, metrics, number of failed samples)``."""
        ...

    def settings(
        self, task: TaskSpec, options: RunOptions, sandbox: dict[str, Any] | None
    ) -> dict[str, Any]:
        """How the task was asked and answered, for the run file (``run.json``)."""
        ...


@dataclass(frozen=True)
class _MultipleChoice:
    """Scored by loglikelihood of each choice, or (``--multiple-choice letter``) by letter."""

    name: str = "multiple_choice"
    needs_sandbox: bool = False

    def n_requests(self, task: TaskSpec, samples: list[Sample], options: RunOptions) -> int:
        if options.multiple_choice == "letter":
            return len(samples)
        return sum(len(s.choices) for s in samples)

    def run(
        self, task: TaskSpec, samples: list[Sample], runner: ModelRunner, options: RunOptions,
        bar: Any,
    ) -> KindResult:
        return _run_multiple_choice(task, samples, runner, options, bar)

    def settings(
        self, task: TaskSpec, options: RunOptions, sandbox: dict[str, Any] | None
    ) -> dict[str, Any]:
        if options.multiple_choice == "letter":
            return {
                "method": "generated letter",
                "sampling": {"max_new_tokens": LETTER_MAX_TOKENS, "temperature": 0.0},
            }
        return {"method": "loglikelihood"}


@dataclass(frozen=True)
class _Generate:
    """Generated answers scored by the task's scorers."""

    name: str = "generate"
    needs_sandbox: bool = False

    def n_requests(self, task: TaskSpec, samples: list[Sample], options: RunOptions) -> int:
        return len(samples) * task.generation.samples

    def run(
        self, task: TaskSpec, samples: list[Sample], runner: ModelRunner, options: RunOptions,
        bar: Any,
    ) -> KindResult:
        return _run_generate(task, samples, runner, options, bar)

    def settings(
        self, task: TaskSpec, options: RunOptions, sandbox: dict[str, Any] | None
    ) -> dict[str, Any]:
        return {"sampling": dataclasses.asdict(task.generation)}


@dataclass(frozen=True)
class _Code(_Generate):
    """Generated programs run against the task's tests in the sandbox (pass@k)."""

    name: str = "code"
    needs_sandbox: bool = True

    def run(
        self, task: TaskSpec, samples: list[Sample], runner: ModelRunner, options: RunOptions,
        bar: Any,
    ) -> KindResult:
        return _run_code(task, samples, runner, options, bar)

    def settings(
        self, task: TaskSpec, options: RunOptions, sandbox: dict[str, Any] | None
    ) -> dict[str, Any]:
        out = super().settings(task, options, sandbox)
        if sandbox is not None:
            out["sandbox"] = sandbox | {"limits": code_limits(task).as_dict()}
        return out


@dataclass(frozen=True)
class _Perplexity:
    """The loglikelihood of whole documents (rolling windows)."""

    name: str = "perplexity"
    needs_sandbox: bool = False

    def n_requests(self, task: TaskSpec, samples: list[Sample], options: RunOptions) -> int:
        return len(samples)

    def run(
        self, task: TaskSpec, samples: list[Sample], runner: ModelRunner, options: RunOptions,
        bar: Any,
    ) -> KindResult:
        return _run_perplexity(task, samples, runner, options, bar)

    def settings(
        self, task: TaskSpec, options: RunOptions, sandbox: dict[str, Any] | None
    ) -> dict[str, Any]:
        return {}


#: Every kind of task, by the name suite files give it (the names are :data:`KINDS`).
TASK_KINDS: dict[str, TaskKind] = {
    k.name: k for k in (_MultipleChoice(), _Generate(), _Code(), _Perplexity())
}
assert tuple(TASK_KINDS) == KINDS, "a kind of task without its runner, or the reverse"


def task_kind(task: TaskSpec) -> TaskKind:
    """The kind object of ``task`` (its suite entry was checked against :data:`KINDS`)."""
    return TASK_KINDS[task.kind]


# -- the run ------------------------------------------------------------------------------------


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"


def _check_run_dir(output: Path, run_config: dict[str, Any], resume: bool) -> None:
    run_file = resume_file(output, resume=resume)
    if run_file is not None:
        try:
            previous = json.loads(run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise UserError(f"{run_file}: cannot read the run's settings: {exc}") from None
        if not isinstance(previous, dict):
            raise UserError(f"{run_file}: cannot read the run's settings: not a JSON object")
        refuse_changed_settings(
            run_file,
            previous,
            run_config,
            advice="run it with the same settings, or choose another --output",
        )
    output.mkdir(parents=True, exist_ok=True)
    settings = json.dumps(run_config, indent=2, sort_keys=True) + "\n"
    write_atomic(output / RUN_FILE, settings.encode())


def _selected_tasks(suite: Suite, options: RunOptions) -> tuple[TaskSpec, ...]:
    """The tasks ``options`` selects (all by default), once the options are checked.

    Raises
    ------
    UserError
        A selected task the suite does not have, or options that do not go together.
    """
    tasks = suite.tasks
    if options.tasks:
        unknown = [t for t in options.tasks if t not in {x.name for x in tasks}]
        if unknown:
            raise UserError(
                f"suite '{suite.name}' has no task '{unknown[0]}'; its tasks: "
                f"{', '.join(t.name for t in tasks)}"
            )
        tasks = tuple(t for t in tasks if t.name in options.tasks)
    if options.multiple_choice not in ("loglikelihood", "letter"):
        raise UserError(
            f"multiple_choice must be 'loglikelihood' or 'letter', not {options.multiple_choice!r}"
        )
    if options.fewshot_as_turns and not options.chat_template:
        raise UserError("--fewshot-as-turns needs --chat-template (turns only exist in a chat)")
    return tasks


def evaluate(
    suite: Suite,
    models: Sequence[ModelConfig],
    *,
    output: Path | None = None,
    options: RunOptions = RunOptions(),
    resume: bool = False,
    factory: BackendFactory = create_backend,
) -> EvalResults:
    """Run every task of ``suite`` on every model; see the module docstring."""
    if not models:
        raise UserError("no models to evaluate: name at least one with --model")
    tasks = _selected_tasks(suite, options)
    runners = [
        ModelRunner(
            m,
            RequestCache(None),  # replaced below
            batch_size=options.batch_size,
            concurrency=options.concurrency,
            retries=options.retries,
            factory=factory,
        )
        for m in models
    ]
    if not resume:
        # every request will be asked: the first model loads (imports, weights) in the
        # background while the samples are built and checked; an error found there stops
        # the run before any request, the load is abandoned
        runners[0].prefetch()
    try:
        samples = {
            t.name: build_samples(
                t,
                suite.path,
                limit=options.limit,
                seed=options.seed,
                fewshot_as_turns=options.fewshot_as_turns,
            )
            for t in tasks
        }
        data_files = {t.name: dataset_file(t.dataset) for t in tasks}
        # model-written code runs only in a usable sandbox (or where the user said otherwise):
        # checked before any request
        sandbox = (
            require_sandbox(unsandboxed=options.unsandboxed_code)
            if any(task_kind(t).needs_sandbox for t in tasks)
            else None
        )
        run_config = {
            "suite": suite.name,
            "suite_sha256": suite.sha256,
            "models": {r.config.name: r.identity_hash for r in runners},
            "options": options.recorded(),
        }
        if output is not None:
            _check_run_dir(output, run_config, resume)
        cache = RequestCache(output / "cache.sqlite" if output is not None else None)
        for r in runners:
            r.cache = cache
    except BaseException:
        for r in runners:
            r.close()  # a model loading in the background is released when it is done
        raise

    from tqdm import tqdm

    results: list[TaskResult] = []
    model_meta: dict[str, Any] = {}
    started = time.time()
    try:
        for runner in runners:
            for task in tasks:
                task_samples = samples[task.name]
                start = time.perf_counter()
                with tqdm(
                    total=task_kind(task).n_requests(task, task_samples, options),
                    desc=f"{runner.config.name} | {task.name}",
                    unit="req",
                    file=sys.stderr,
                    disable=not options.progress,
                    leave=True,
                ) as bar:
                    records, metrics, failed = task_kind(task).run(
                        task, task_samples, runner, options, bar
                    )
                if task.headline in metrics:  # first: the table shows the first metric
                    metrics = {task.headline: metrics[task.headline]} | metrics
                seconds = time.perf_counter() - start
                if output is not None:
                    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
                    log_dir = output / "samples" / _safe(runner.config.name)
                    log_dir.mkdir(parents=True, exist_ok=True)
                    write_atomic(log_dir / f"{_safe(task.name)}.jsonl", lines.encode("utf-8"))
                results.append(
                    TaskResult(
                        runner.config.name,
                        task.name,
                        task.kind,
                        metrics,
                        len(task_samples),
                        failed,
                        seconds,
                    )
                )
            model_meta[runner.config.name] = {
                "identity": runner.identity,
                **runner.metadata(),
                "loaded_in_this_run": runner.loaded,
                "load_seconds": runner.load_seconds,
            }
            runner.close()
    finally:
        for runner in runners:
            runner.close()
        cache.close()

    provenance = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 3),
        "suite": suite.name,
        "suite_path": suite.path,
        "suite_sha256": suite.sha256,
        "data_files": {
            name: {"path": str(path), "sha256": file_sha256(path)}
            for name, path in data_files.items()
        },
        "models": model_meta,
        "packages": _versions(),
        "options": dataclasses.asdict(options)
        | {"tasks": list(options.tasks) if options.tasks else None},
        "tasks": {
            t.name: {
                "kind": t.kind,
                "n_samples": len(samples[t.name]),
                "fewshot": {"n": t.fewshot.n, "sampler": t.fewshot.sampler, "seed": options.seed},
                "selection": selection_record(t, samples[t.name], options.limit, options.seed),
                **task_kind(t).settings(t, options, sandbox),
            }
            for t in tasks
        },
        "command": sys.argv,
    }
    res = EvalResults(suite.name, tuple(results), provenance)
    if output is not None:
        write_results_table(res, output / "results.json", "json")
        write_results_table(res, output / "results.csv", "csv")
        write_results_table(res, output / "results.md", "md")
    return res
