"""The replay backend: pre-generated answers looked up by normalised prompt or prompt id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.backends import (
    Backend,
    BackendError,
    Message,
    SamplingParams,
    UnsupportedOperation,
    create_backend,
    load_models,
)
from arena.backends.replay import normalise_prompt


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def replay(tmp_path: Path, extra: str = "") -> Backend:
    models = tmp_path / "models.toml"
    models.write_text(
        f'[[models]]\nname = "old-model"\nbackend = "replay"\npath = "answers.jsonl"\n{extra}\n',
        encoding="utf-8",
    )
    (config,) = load_models(models)
    return create_backend(config)


def test_answers_by_normalised_prompt(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "answers.jsonl",
        [
            {"prompt": "What is  2+2?\n", "answer": "It is 4. Obviously."},
            {"prompt": "Name a colour", "answer": "Blue"},
        ],
    )
    backend = replay(tmp_path)
    chunks = list(
        backend.generate(
            [Message("system", "be brief"), Message("user", " What is 2+2?")], SamplingParams()
        )
    )
    assert chunks == ["It ", "is ", "4. ", "Obviously."]
    assert "".join(backend.complete("What is 2+2?", SamplingParams(stop=(".",)))) == "It is 4"
    assert backend.info.source == str(tmp_path / "answers.jsonl")


def test_answers_keyed_by_prompt_id(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "prompts.jsonl", [{"id": "q1", "prompt": "Hi?"}, {"id": 2, "prompt": "Bye?"}]
    )
    write_jsonl(
        tmp_path / "answers.jsonl", [{"id": "q1", "answer": "Hello"}, {"id": 2, "answer": "Ciao"}]
    )
    backend = replay(tmp_path, 'prompts = "prompts.jsonl"')
    assert "".join(backend.complete("Bye?", SamplingParams())) == "Ciao"


def test_unknown_prompt_and_multi_turn_are_clear_errors(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "answers.jsonl", [{"prompt": "Hi?", "answer": "Hello"}])
    backend = replay(tmp_path)
    with pytest.raises(
        BackendError,
        match=r"model 'old-model' \(generate\): no pre-generated answer for the prompt "
        r"'Who are you\?'.*\(1 prompts\)",
    ):
        backend.generate([Message("user", "Who are you?")], SamplingParams())
    turns = [Message("user", "Hi?"), Message("assistant", "Hello"), Message("user", "Hi?")]
    with pytest.raises(BackendError, match="single-turn prompts only"):
        backend.generate(turns, SamplingParams())
    with pytest.raises(
        UnsupportedOperation, match=r"\(loglikelihood\): the 'replay' backend cannot"
    ):
        backend.loglikelihood([("a", "b")])


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"prompt": "a", "answer": "b"}', "{oops"], r"answers.jsonl, line 2: not valid JSON"),
        (['{"prompt": "a"}'], r"line 1: expected a string 'answer'"),
        (['{"answer": "b"}'], r"line 1: expected a string 'prompt' or an 'id'"),
        (['{"id": "q1", "answer": "b"}'], r"no 'prompts' option"),
        (
            ['{"prompt": "a", "answer": "b"}', '{"prompt": "a ", "answer": "c"}'],
            "line 2: a different answer",
        ),
        ([], "no answers in the file"),
    ],
)
def test_bad_answer_files(tmp_path: Path, lines: list[str], message: str) -> None:
    (tmp_path / "answers.jsonl").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(BackendError, match=message):
        replay(tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"\(load\): .*answers.jsonl: file not found"):
        replay(tmp_path)


def test_normalise_prompt() -> None:
    assert normalise_prompt("  Cafe\u0301\n\tau  lait ") == "Caf\u00e9 au lait"
