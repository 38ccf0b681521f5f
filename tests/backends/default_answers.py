"""The everyday prompts the default models are checked on, and the fixture of their answers.

``tests/backends/fixtures/default_answers.json`` records what both models of the default
models file answer to :data:`PROMPTS` with :data:`PARAMS` (the web app's temperature and
top-p, a fixed seed per prompt, a small token cap), so a reader sees what the defaults say.
Regenerate it after changing the prompts, the settings or the models file with::

    .venv/bin/python -m tests.backends.default_answers

(it converts the GGUF weights into ``$ARENA_MODEL_CACHE`` or ``data/cache/models`` first
when they are not cached there). ``test_default_answers.py`` checks live answers and the
recorded ones with :func:`problems`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from arena.backends import Backend, Message, SamplingParams
from arena.service import ServiceConfig

FIXTURE = Path(__file__).parent / "fixtures" / "default_answers.json"
REGENERATE = ".venv/bin/python -m tests.backends.default_answers"

#: The web app's sampling (temperature, top-p) with a small cap, so the tests stay fast.
PARAMS = replace(ServiceConfig().sampling, max_new_tokens=64, seed=0)


def _turns(*texts: str) -> tuple[Message, ...]:
    roles = ("user", "assistant")
    return tuple(Message(roles[i % 2], t) for i, t in enumerate(texts))  # type: ignore[arg-type]


#: Everyday prompts: greeting, one-word answer, poem, arithmetic, explanation, code,
#: list, translation and follow-up turns (the earlier answers are given, not generated).
PROMPTS: dict[str, tuple[Message, ...]] = {
    "greeting": _turns("Hello!"),
    "say-hello": _turns("Say hello"),
    "one-word": _turns("Name one fruit."),
    "haiku": _turns("Write a haiku about autumn"),
    "multiply": _turns("What is 7 times 8?"),
    "add": _turns("What is 12 + 30?"),
    "explain": _turns("Explain in one sentence why the sky is blue."),
    "code": _turns("Write a Python function that adds two numbers."),
    "capital": _turns("What is the capital of France?"),
    "tips": _turns("Give me three tips for sleeping better."),
    "translate": _turns("How do you say 'thank you' in French?"),
    "follow-up": _turns("Name one fruit.", "An apple.", "What colour is it?"),
    "follow-up-2": _turns(
        "What is the capital of Italy?", "The capital of Italy is Rome.", "And of Spain?"
    ),
}

#: Turn labels and chat-template tokens that must never reach the visitor.
ROLE_MARKER = re.compile(
    r"(?i)\b(user|assistant|human|system)\s*:|<\|im_start\|>|<\|im_end\|>|<start_of_turn>"
    r"|<end_of_turn>|<\|eot_id\|>|<\|start_header_id\|>"
)


def params_for(index: int) -> SamplingParams:
    """The sampling settings of the ``index``-th prompt (its own seed)."""
    return replace(PARAMS, seed=index)


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def problems(
    messages: Sequence[Message], answer: str, new_tokens: int, finish_reason: str | None
) -> list[str]:
    """What is wrong with one answer, in words (empty when it is sensible by these rules).

    - it says something (not only whitespace);
    - it does not echo the prompt: no user turn of two words or more appears in it;
    - no role marker or chat-template token appears in it;
    - it ended (a stop sequence, the end-of-sequence token or the token cap), within
      ``max_new_tokens``;
    - it does not loop: no line of it appears three times.
    """
    found = []
    if not answer.strip():
        found.append("empty answer")
    text = _normal(answer)
    for m in messages:
        said = _normal(m.content)
        if m.role == "user" and len(said.split()) >= 2 and f" {said} " in f" {text} ":
            found.append(f"echoes the prompt {m.content!r}")
    marker = ROLE_MARKER.search(answer)
    if marker:
        found.append(f"role marker {marker.group(0)!r} in the answer")
    if finish_reason not in ("stop", "eos", "length"):
        found.append(f"did not end (finish reason {finish_reason!r})")
    if not 1 <= new_tokens <= PARAMS.max_new_tokens:
        found.append(f"{new_tokens} tokens generated, the budget is {PARAMS.max_new_tokens}")
    lines = Counter(line.strip() for line in answer.splitlines() if line.strip())
    looped = [line for line, n in lines.items() if n >= 3]
    if looped:
        found.append(f"repeats {looped[0]!r} {lines[looped[0]]} times")
    return found


def answer_all(backend: Backend) -> list[dict[str, Any]]:
    """Each prompt's answer from ``backend``, with its token count and finish reason."""
    records = []
    for index, (key, messages) in enumerate(PROMPTS.items()):
        stream = backend.generate(list(messages), params_for(index))
        answer = "".join(stream)
        records.append(
            {
                "id": key,
                "messages": [{"role": m.role, "content": m.content} for m in messages],
                "answer": answer,
                "new_tokens": getattr(stream, "new_tokens", None),
                "finish_reason": getattr(stream, "finish_reason", None),
            }
        )
    return records


def fixture_settings() -> dict[str, Any]:
    """What the fixture was made with (the test compares it with the current settings)."""
    return {
        "max_new_tokens": PARAMS.max_new_tokens,
        "temperature": PARAMS.temperature,
        "top_p": PARAMS.top_p,
        "seed": "the prompt's index in the list",
    }


def write_fixture(answers: dict[str, list[dict[str, Any]]], versions: Iterable[str]) -> None:
    """Write the fixture file (prompts, settings, answers per model)."""
    data = {
        "description": (
            "What the two default models answer to everyday prompts, with the web app's "
            "temperature and top-p, a fixed seed per prompt and a small token cap. "
            f"Regenerate with: {REGENERATE}"
        ),
        "settings": fixture_settings(),
        "versions": sorted(versions),
        "models": answers,
    }
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    """Regenerate the fixture with the default models file's models."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    import transformers

    from arena.backends import create_backend, load_models

    answers = {}
    for config in load_models():
        with create_backend(config) as backend:
            backend.load()
            answers[config.name] = answer_all(backend)
            for record in answers[config.name]:
                why = problems(
                    [Message(**m) for m in record["messages"]],
                    record["answer"],
                    record["new_tokens"] or 0,
                    record["finish_reason"],
                )
                print(f"{config.name} {record['id']}: {record['answer']!r} {why or ''}")
    versions = [f"torch {torch.__version__}", f"transformers {transformers.__version__}"]
    write_fixture(answers, versions)
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
