"""Run judge battles: prompts -> every model's answers -> the judge, in both orders -> files.

:func:`run_judge` is the I/O side of :mod:`arena.judge`::

    from pathlib import Path
    from arena.backends import load_models
    from arena.judge import load_prompts, run_judge

    models = {m.name: m for m in load_models("models.toml")}
    run = run_judge(models["judge"], [models["a"], models["b"], models["c"]],
                    load_prompts("mtbench", limit=20), output=Path("runs/judge"))
    battles = run.to_battles()          # for arena.judge.judge_report, arena.leaderboard

Every request goes through the harness's request cache (``DIR/cache.sqlite``, keyed by
the model's identity and the request's content), so each model answers each prompt
once, the judge sees each presentation once, and ``resume=True`` continues a killed
run asking only what is missing. Answers are greedy (temperature 0), so a run is
reproducible; a judge output without a verdict is asked again, sampled with a fixed
seed per retry (a greedy judge would repeat itself), up to ``retries`` times, and then
recorded as failed.

The run directory receives ``run.json`` (settings, checked on resume, and the start
time that dates the battles), ``judge_battles.jsonl`` (FastChat battles, what
``arena leaderboard`` reads), ``judgments.jsonl`` (every comparison, failed ones
included, with the judge's raw outputs) and ``summary.json``. They are outputs for
the user: nothing here reads them back, except ``run.json`` on resume.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.backends import Message, ModelConfig, SamplingParams, create_backend
from arena.errors import UserError
from arena.harness import BackendFactory, ModelRunner, RequestCache
from arena.io import RUN_FILE, refuse_changed_settings, resume_file, write_atomic
from arena.judge._prompts import JUDGE_TEMPLATES, JudgePrompt, judge_messages
from arena.judge._verdicts import (
    CONSISTENT,
    Judgment,
    Verdict,
    battle_record,
    combine_verdicts,
    parse_verdict,
)

if TYPE_CHECKING:
    import pandas as pd

    from arena.battles import Battles

__all__ = [
    "JudgeOptions",
    "JudgeRun",
    "check_contestants",
    "run_judge",
]

#: Temperature of the re-asks after an output without a verdict (seeded per retry).
_RETRY_TEMPERATURE = 0.7


def check_contestants(judge: str, models: Sequence[str]) -> tuple[str, ...]:
    """Check the contestants' names; return the warnings the user should read first.

    The one check of who is judged, for :func:`run_judge` and the command line (which
    calls it before loading anything, so a wrong command fails at once).

    Raises
    ------
    UserError
        Fewer than two models, or a model named twice.
    """
    if len(models) < 2:
        raise UserError(
            "judge battles need at least two models: name them with --model A --model B"
        )
    if len(set(models)) != len(models):
        twice = next(m for m in models if list(models).count(m) > 1)
        raise UserError(f"model '{twice}' is named twice; name each contestant once (--model)")
    if judge in models:
        return (
            f"the judge '{judge}' is also a contestant: judges tend to favour their own "
            "answers (self-enhancement bias), so read its rating with care",
        )
    return ()


@dataclass(frozen=True)
class JudgeOptions:
    """How judge battles are run (the first four are recorded and checked on resume).

    Attributes
    ----------
    second_turn:
        Also judge the second turn of two-turn questions (MT-Bench's multi-turn prompt),
        as separate battles with ``turn`` 2.
    max_new_tokens:
        Longest answer of a contestant.
    judge_max_new_tokens:
        Longest output of the judge (its explanation and verdict).
    seed:
        Seed of the sampled re-asks of a judge output without a verdict.
    retries:
        Re-asks of an output without a verdict, and retries of a transiently failing
        request, before the comparison is recorded as failed.
    concurrency:
        Parallel requests to remote (OpenAI-compatible) models; None: 8.
    progress:
        Show progress bars on standard error.

    Raises
    ------
    UserError
        A token limit below 1, negative retries or a concurrency below 1 (the message
        names the command-line flag).
    """

    second_turn: bool = False
    max_new_tokens: int = 1024
    judge_max_new_tokens: int = 2048
    seed: int = 1234
    retries: int = 2
    concurrency: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        """Refuse options no run can honour, naming the command-line flag of each."""
        for flag, value, least in (
            ("--max-new-tokens", self.max_new_tokens, 1),
            ("judge_max_new_tokens", self.judge_max_new_tokens, 1),
            ("--retries", self.retries, 0),
            ("--concurrency", 1 if self.concurrency is None else self.concurrency, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                expected = "a positive integer" if least == 1 else "0 or more"
                raise UserError(f"{flag}: expected {expected}, got {value!r}")

    def recorded(self) -> dict[str, Any]:
        """The options that change the battles (what ``--resume`` checks)."""
        return {
            "second_turn": self.second_turn,
            "max_new_tokens": self.max_new_tokens,
            "judge_max_new_tokens": self.judge_max_new_tokens,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class JudgeRun:
    """What :func:`run_judge` did.

    Attributes
    ----------
    judge:
        The judge's name.
    models:
        The contestants, in the order given.
    prompts:
        The prompt set.
    judgments:
        Every comparison (pair x question x turn), failed ones included, in run order.
    battles:
        The FastChat battles of the judged comparisons (``judge_battles.jsonl``).
    warnings:
        What the user should know (the judge is also a contestant, failures).
    output:
        The run directory, or None when nothing was written.
    """

    judge: str
    models: tuple[str, ...]
    prompts: tuple[JudgePrompt, ...]
    judgments: tuple[Judgment, ...]
    battles: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...] = ()
    output: Path | None = None

    @property
    def n_failed(self) -> int:
        """Comparisons that gave no battle."""
        return sum(j.failed for j in self.judgments)

    def summary(self) -> dict[str, Any]:
        """Counts of the run, JSON-ready (``summary.json``)."""
        outcomes = Counter(str(b["winner"]) for b in self.battles)
        reasons = Counter((j.error or "").split(":")[0] for j in self.judgments if j.failed)
        return {
            "judge": self.judge,
            "models": list(self.models),
            "prompts": len(self.prompts),
            "comparisons": len(self.judgments),
            "battles": len(self.battles),
            "failed": self.n_failed,
            "failures": dict(reasons),
            "outcomes": {k: outcomes[k] for k in ("model_a", "model_b", "tie") if outcomes[k]},
            "consistent": sum(
                (j.forward, j.backward) in CONSISTENT for j in self.judgments if not j.failed
            ),
            "warnings": list(self.warnings),
        }

    def to_battles(self) -> Battles:
        """The battles as the ratings engine reads them (what ``judge_battles.jsonl`` holds).

        Converted in memory, exactly as :func:`arena.battles.read_battles` reads the file
        (the judge is the voter, the first user turn the prompt); no style features.
        """
        import pandas as pd

        from arena.battles import from_frame

        return from_frame(
            pd.DataFrame(list(self.battles)), source=f"judge battles of {self.judge}", style=False
        )

    def frame_for_agreement(self) -> pd.DataFrame:
        """First-turn battles as ``model_a, model_b, winner, prompt`` (per-battle agreement)."""
        import pandas as pd

        by_id = {p.id: p for p in self.prompts}
        rows = [
            {
                "model_a": b["model_a"],
                "model_b": b["model_b"],
                "winner": b["winner"],
                "prompt": by_id[b["question_id"]].turns[0],
            }
            for b in self.battles
            if b["turn"] == 1
        ]
        return pd.DataFrame(rows, columns=["model_a", "model_b", "winner", "prompt"])


def _sha256(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _prepare_run_dir(output: Path, settings: dict[str, Any], resume: bool) -> float:
    """Check (resume) or create ``run.json``; return the run's start time (epoch seconds)."""
    run_file = resume_file(output, resume=resume, what="judge run")
    if run_file is not None:
        try:
            previous = json.loads(run_file.read_text(encoding="utf-8"))
            before, started = previous["settings"], float(previous["started"])
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise UserError(f"{run_file}: not the settings of a judge run ({exc})") from None
        if not isinstance(before, dict):
            raise UserError(f"{run_file}: not the settings of a judge run (no settings table)")
        refuse_changed_settings(
            run_file,
            before,
            settings,
            advice="run it with the same judge, models, prompts and options, "
            "or choose another --output",
        )
        return started
    run_file = output / RUN_FILE
    output.mkdir(parents=True, exist_ok=True)
    started = time.time()
    doc = {
        "settings": settings,
        "started": started,
        "started_utc": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
    }
    write_atomic(run_file, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    return started


def _bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="req", file=sys.stderr, disable=not enabled)


#: A model's answers to one question: the texts of the turns it answered, and the error
#: that stopped it at the next turn (None when it answered every turn asked).
_Answers = tuple[list[str], str | None]


def _answers(
    runner: ModelRunner,
    prompts: Sequence[JudgePrompt],
    options: JudgeOptions,
) -> dict[Any, _Answers]:
    """Each prompt's answers (greedy): the first turn, and the second with ``second_turn``."""
    params = SamplingParams(max_new_tokens=options.max_new_tokens)
    name = runner.config.name
    out: dict[Any, _Answers] = {}
    firsts = [(Message("user", p.turns[0]),) for p in prompts]
    with _bar(len(prompts), f"{name} | answers", options.progress) as bar:
        got = runner.generate(firsts, [params] * len(prompts), bar)
    for p, a in zip(prompts, got, strict=True):
        out[p.id] = (
            ([], f"{name} did not answer: {a['error']}") if "error" in a else ([a["text"]], None)
        )
    if not options.second_turn:
        return out
    todo = [p for p in prompts if len(p.turns) > 1 and out[p.id][0]]
    convs = [
        (
            Message("user", p.turns[0]),
            Message("assistant", out[p.id][0][0]),
            Message("user", p.turns[1]),
        )
        for p in todo
    ]
    with _bar(len(todo), f"{name} | second turns", options.progress) as bar:
        got = runner.generate(convs, [params] * len(todo), bar)
    for p, a in zip(todo, got, strict=True):
        texts = out[p.id][0]
        if "error" in a:
            out[p.id] = (texts, f"{name} did not answer turn 2: {a['error']}")
        else:
            texts.append(a["text"])
    return out


@dataclass
class _Asked:
    """One presentation to the judge and what came of it so far."""

    messages: tuple[Message, ...]
    verdict: Verdict | None = None
    output: str | None = None
    error: str | None = None


def _judge_all(runner: ModelRunner, asked: list[_Asked], options: JudgeOptions) -> None:
    """Ask the judge every presentation; re-ask (sampled, seeded) those without a verdict."""
    todo = list(asked)
    for attempt in range(options.retries + 1):
        if not todo:
            return
        params = (
            SamplingParams(max_new_tokens=options.judge_max_new_tokens)
            if attempt == 0
            else SamplingParams(
                max_new_tokens=options.judge_max_new_tokens,
                temperature=_RETRY_TEMPERATURE,
                seed=options.seed + attempt,
            )
        )
        desc = f"{runner.config.name} | judging" + (f" (retry {attempt})" if attempt else "")
        with _bar(len(todo), desc, options.progress) as bar:
            got = runner.generate([a.messages for a in todo], [params] * len(todo), bar)
        again = []
        for item, answer in zip(todo, got, strict=True):
            if "error" in answer:
                item.error = f"judge failed: {answer['error']}"
                continue
            item.output = answer["text"]
            item.verdict = parse_verdict(item.output)
            if item.verdict is None:
                item.error = (
                    f"no verdict: the judge's output has no [[A]], [[B]] or [[C]] after "
                    f"{attempt + 1} attempt(s)"
                )
                again.append(item)
            else:
                item.error = None
        todo = again


@dataclass(frozen=True)
class _Comparison:
    """One model pair on one question and turn: the answers, or why there are none."""

    model_a: str
    model_b: str
    prompt: JudgePrompt
    turn: int
    answers: tuple[list[str], list[str]] = ([], [])
    problem: str | None = None
    asked: tuple[_Asked, ...] = ()  # forward, backward

    def judgment(self) -> Judgment:
        """The judge's decision, once :attr:`asked` has been answered."""
        head = (self.prompt.id, self.turn, self.model_a, self.model_b)
        if self.problem is not None:
            return Judgment(*head, error=self.problem)
        fwd, bwd = self.asked
        outputs = (fwd.output, bwd.output)
        if fwd.verdict is None or bwd.verdict is None:
            error = fwd.error if fwd.verdict is None else bwd.error
            return Judgment(*head, fwd.verdict, bwd.verdict, None, error, outputs)
        winner = combine_verdicts(fwd.verdict, bwd.verdict)
        return Judgment(*head, fwd.verdict, bwd.verdict, winner, None, outputs)


def _plan(
    names: Sequence[str],
    prompts: Sequence[JudgePrompt],
    answers: dict[str, dict[Any, _Answers]],
    options: JudgeOptions,
) -> list[_Comparison]:
    """Every pair x question x turn, with its two presentations to the judge (both orders)."""
    out = []
    for (a, b), p in itertools.product(itertools.combinations(names, 2), prompts):
        for turn in [1, 2] if options.second_turn and len(p.turns) > 1 else [1]:
            (ans_a, error_a), (ans_b, error_b) = answers[a][p.id], answers[b][p.id]
            if len(ans_a) < turn or len(ans_b) < turn:
                problem = error_a if len(ans_a) < turn else error_b
                out.append(_Comparison(a, b, p, turn, problem=problem or "no answer"))
                continue
            asked = (
                _Asked(judge_messages(p, turn, ans_a, ans_b)),
                _Asked(judge_messages(p, turn, ans_b, ans_a)),
            )
            out.append(_Comparison(a, b, p, turn, (ans_a, ans_b), asked=asked))
    return out


def run_judge(
    judge: ModelConfig,
    models: Sequence[ModelConfig],
    prompts: Sequence[JudgePrompt],
    *,
    output: Path | None = None,
    options: JudgeOptions = JudgeOptions(),
    resume: bool = False,
    factory: BackendFactory = create_backend,
) -> JudgeRun:
    """Judge every pair of ``models`` on every prompt in both orders; see the module docstring.

    Raises
    ------
    UserError
        Fewer than two models, a model named twice, no prompts, or a run directory
        that holds another run (or none, with ``resume``).
    """
    names = [m.name for m in models]
    warnings = list(check_contestants(judge.name, names))
    if not prompts:
        raise UserError("there are no prompts to judge")
    cache = RequestCache(None)
    runners = {
        m.name: ModelRunner(
            m, cache, concurrency=options.concurrency, retries=options.retries, factory=factory
        )
        for m in models
    }
    judge_runner = runners.get(judge.name) or ModelRunner(
        judge, cache, concurrency=options.concurrency, retries=options.retries, factory=factory
    )
    started = time.time()
    if output is not None:
        settings = {
            "judge": {judge.name: judge_runner.identity_hash},
            "models": {n: r.identity_hash for n, r in runners.items()},
            "prompts_sha256": _sha256([p.payload() for p in prompts]),
            "judge_prompts_sha256": _sha256({k: vars(v) for k, v in JUDGE_TEMPLATES.items()}),
            "options": options.recorded(),
        }
        started = _prepare_run_dir(output, settings, resume)
        cache.close()
        cache = RequestCache(output / "cache.sqlite")
        for r in (*runners.values(), judge_runner):
            r.cache = cache
    try:
        answers = {name: _answers(r, prompts, options) for name, r in runners.items()}
        comparisons = _plan(names, prompts, answers, options)
        _judge_all(judge_runner, [x for c in comparisons for x in c.asked], options)
    finally:
        for r in (*runners.values(), judge_runner):
            r.close()
        cache.close()

    judgments = [c.judgment() for c in comparisons]
    battles: list[dict[str, Any]] = []
    for c, j in zip(comparisons, judgments, strict=True):
        if not j.failed:
            tstamp = round(started + len(battles) * 1e-3, 3)  # run start, in battle order
            a, b = c.answers
            battles.append(battle_record(j, c.prompt, a, b, judge=judge.name, tstamp=tstamp))
    failed = sum(j.failed for j in judgments)
    if failed:
        warnings.append(
            f"{failed} of {len(judgments)} comparisons failed and gave no battle "
            "(see judgments.jsonl; --resume asks failed requests again)"
        )
    run = JudgeRun(
        judge.name,
        tuple(names),
        tuple(prompts),
        tuple(judgments),
        tuple(battles),
        tuple(warnings),
        output,
    )
    if output is not None:
        _write_run(run, output)
    return run


def _jsonl(rows: Sequence[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _write_run(run: JudgeRun, output: Path) -> None:
    write_atomic(output / "judge_battles.jsonl", _jsonl(run.battles))
    write_atomic(output / "judgments.jsonl", _jsonl([j.as_dict() for j in run.judgments]))
    summary = json.dumps(run.summary(), indent=2, ensure_ascii=False) + "\n"
    write_atomic(output / "summary.json", summary.encode("utf-8"))
