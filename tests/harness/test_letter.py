"""Multiple choice by generated letter: the prompt, the parser, and runs named as such."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.backends import model_config
from arena.cli.main import main
from arena.harness import (
    RunOptions,
    evaluate,
    letter_labels,
    letter_prompt,
    load_suite,
    parse_letter,
    render_results,
)

LETTERS = ("A", "B", "C", "D")


@pytest.mark.parametrize(
    ("reply", "index"),
    [
        ("ANSWER: B", 1),
        ("answer: (c)", 2),
        ("**Answer:** D", 3),
        ("The capital is Paris.\nANSWER: A\nANSWER: C", 0),  # the first one
        ("B", 1),
        ("B) eight", 1),
        ("(C) four", 2),
        ("D.\nBecause spiders...", 3),
    ],
)
def test_the_letter_is_parsed_from_the_reply(reply: str, index: int) -> None:
    assert parse_letter(reply, LETTERS) == index


@pytest.mark.parametrize(
    "reply",
    ["", "I don't know", "A bird has two legs", "ANSWER: Z", "I think it is C", "ANSWER:"],
)
def test_a_reply_naming_no_option_is_unparsed(reply: str) -> None:
    assert parse_letter(reply, LETTERS) is None


def test_prompt_lists_lettered_options_unless_the_question_does() -> None:
    text = letter_prompt("What is 2+2?", ["3", "4"], ("A", "B"))
    assert text.startswith("Answer the following multiple choice question.")
    assert "where LETTER is one of A,B." in text
    assert text.endswith("What is 2+2?\n\nA) 3\nB) 4")
    listed = letter_prompt("Q\nA. x\nB. y\nAnswer:", [], ("A", "B"))
    assert listed.endswith("Q\nA. x\nB. y\nAnswer:") and "A) " not in listed
    assert letter_labels(3) == ("A", "B", "C")
    assert letter_labels(2, ("a", "b")) == ("A", "B")
    assert letter_labels(2, ("yes", "no")) == ("A", "B")


def test_run_by_letter_is_named_as_such(tmp_path: Path) -> None:
    always_a = model_config("always-a", "fake", answers=["ANSWER: A"])
    options = RunOptions(progress=False, tasks=("smoke_mc",), multiple_choice="letter")
    res = evaluate(load_suite("smoke"), [always_a], output=tmp_path / "run", options=options)
    (r,) = res.results
    assert set(r.metrics) == {"acc_letter", "unparsed"}  # never "acc": another method
    golds = [json.loads(x)["answer"] for x in (Path(load_suite("smoke").path).parent /
             "data" / "smoke" / "mc.jsonl").read_text().splitlines()]
    assert r.metrics["acc_letter"].value == pytest.approx(sum(g == 0 for g in golds) / len(golds))
    assert r.metrics["unparsed"].value == 0.0
    log = [json.loads(x) for x in (tmp_path / "run/samples/always-a/smoke_mc.jsonl").open()]
    assert all(x["method"] == "generated letter" and x["pred"] == 0 for x in log)
    assert log[0]["prompt"].startswith("Answer the following multiple choice question.")
    assert "A) Paris\nB) London" in log[0]["prompt"] and log[0]["prompt"].endswith("ANSWER:")
    assert res.provenance["tasks"]["smoke_mc"]["method"] == "generated letter"
    assert "acc_letter" in render_results(res, "md")
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["options"]["multiple_choice"] == "letter"  # a resume by log-likelihood differs


def test_replies_without_a_letter_show_as_unparsed_not_as_a_silent_zero(tmp_path: Path) -> None:
    vague = model_config("vague", "fake", answers=["It depends on the context."])
    options = RunOptions(progress=False, tasks=("smoke_mc",), multiple_choice="letter")
    (r,) = evaluate(load_suite("smoke"), [vague], options=options).results
    assert r.metrics["unparsed"].value == 1.0 and r.metrics["acc_letter"].value == 0.0
    assert r.n_failed == 0


def test_chat_template_asks_the_last_user_turn(tmp_path: Path) -> None:
    model = model_config("chat", "fake", answers=["B"])
    options = RunOptions(
        progress=False, tasks=("smoke_mc",), multiple_choice="letter", chat_template=True
    )
    evaluate(load_suite("smoke"), [model], output=tmp_path / "run", options=options)
    log = [json.loads(x) for x in (tmp_path / "run/samples/chat/smoke_mc.jsonl").open()]
    (role, text), = log[0]["prompt"]
    assert role == "user" and text.startswith("Answer the following")
    assert text.endswith("D) Berlin") and all(x["pred"] == 1 for x in log)


def test_the_cli_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models.toml"
    models.write_text('[[models]]\nname = "f"\nbackend = "fake"\nanswers = ["ANSWER: B"]\n')
    argv = ["eval", "--suite", "smoke", "--task", "smoke_mc", "--no-store", "--no-progress"]
    argv += ["--models", str(models), "--model", "f", "-o", str(tmp_path / "run")]
    assert main([*argv, "--multiple-choice", "letter"]) == 0
    assert "smoke_mc (acc_letter)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([*argv, "--multiple-choice", "guess"])
