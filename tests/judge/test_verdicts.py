"""Verdict parsing, both orders combined into one winner, the FastChat battle record."""

from __future__ import annotations

import pytest

from arena.backends import ModelConfig, create_backend
from arena.judge import (
    JudgePrompt,
    Judgment,
    battle_record,
    combine_verdicts,
    judge_messages,
    parse_verdict,
)


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("Assistant A is better. [[A]]", "A"),
        ("[[B]]", "B"),
        ("It is a tie: [[C]]", "tie"),
        ("final verdict: [[ b ]]", "B"),
        ("**[[A]]**", "A"),
        ('[["B"]]', "B"),
        ("[[Tie]]", "tie"),
        # the explanation quotes the format; the final verdict is the last marker
        ('I must output "[[A]]" if A is better. Here B is better.\n\n[[B]]', "B"),
        ("A is better.", None),
        ("[A]", None),
        ("[[D]]", None),
        ("", None),
    ],
)
def test_parse_verdict(text: str, verdict: str | None) -> None:
    assert parse_verdict(text) == verdict


def test_both_orders_combine_into_one_winner() -> None:
    # forward: model_a shown as Assistant A; backward: the answers swapped
    assert combine_verdicts("A", "B") == "model_a"
    assert combine_verdicts("B", "A") == "model_b"
    for forward, backward in [("A", "A"), ("B", "B"), ("tie", "tie"), ("A", "tie"), ("tie", "A")]:
        assert combine_verdicts(forward, backward) == "tie"  # type: ignore[arg-type]


def test_battle_record_is_fastchat() -> None:
    prompt = JudgePrompt(7, ("Hi?",), "writing")
    j = Judgment(7, 1, "x", "y", "B", "A", combine_verdicts("B", "A"))
    record = battle_record(j, prompt, ["ax"], ["ay"], judge="j", tstamp=1.5)
    assert record["winner"] == "model_b" and record["anony"] is False and record["judge"] == "j"
    assert (record["g1_winner"], record["g2_winner"]) == ("model_b", "model_b")
    assert record["conversation_a"] == [
        {"role": "user", "content": "Hi?"},
        {"role": "assistant", "content": "ax"},
    ]
    with pytest.raises(ValueError, match="failed"):
        battle_record(Judgment(7, 1, "x", "y", error="no"), prompt, [], [], judge="j", tstamp=0)


def test_fake_judge_option(models: dict[str, ModelConfig]) -> None:
    from arena.backends import Message, SamplingParams

    judge = create_backend(models["judge"])
    ask = judge_messages(JudgePrompt(1, ("q",)), 1, ["one two three"], ["one"])
    text = "".join(judge.generate(ask, SamplingParams()))
    assert parse_verdict(text) == "A"
    assert parse_verdict("".join(judge.generate([Message("user", "hi")], SamplingParams()))) is None
