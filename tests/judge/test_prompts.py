"""What the judge is asked: MT-Bench's judge prompts, prompt files and their errors, MT-Bench."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.errors import UserError
from arena.harness import DataError
from arena.judge import JudgePrompt, judge_messages, load_prompts, read_prompt_file, template_for


def test_judge_prompts_follow_mt_bench(prompts: list[JudgePrompt]) -> None:
    haiku, math_q, river = prompts
    assert [p.id for p in prompts] == [1, 2, "q3"]
    assert template_for(haiku, 1).name == "pair-v2"
    assert template_for(haiku, 2).name == "pair-v2-multi-turn"
    assert template_for(math_q, 1).name == "pair-math-v1"
    with pytest.raises(ValueError, match="no turn 2"):
        template_for(river, 2)
    system, user = judge_messages(haiku, 1, ["first"], ["second"])
    assert (system.role, user.role) == ("system", "user")
    assert '"[[C]]" for a tie' in system.content
    text = user.content
    assert text.index("first") < text.index("second")
    assert "Write a haiku." in text and "Assistant A's Answer]\nfirst\n" in text
    swapped = judge_messages(haiku, 1, ["second"], ["first"])[1].content
    assert swapped.index("second") < swapped.index("first")
    reference = judge_messages(math_q, 1, ["x"], ["y"])[1].content
    assert "[The Start of Reference Answer]\n4\n" in reference
    two = judge_messages(haiku, 2, ["a1", "a2"], ["b1", "b2"])[1].content
    assert "Now a limerick." in two and "### Assistant B:\nb2" in two


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"turns": ["a"]}\nnot json\n', "line 2: not valid JSON"),
        ("[1, 2]\n", "line 1: expected a JSON object"),
        ('{"question": "a"}\n', "line 1: expected a field 'turns'"),
        ('{"turns": []}\n', "line 1, field 'turns': expected a non-empty string"),
        ('{"turns": ["a", 3]}\n', "line 1, field 'turns'"),
        ('{"id": 1, "prompt": "a"}\n\n{"id": 1, "prompt": "b"}\n', "line 3, field 'id': duplicate"),
        ('{"id": true, "prompt": "a"}\n', "line 1, field 'id': expected an integer"),
        ('{"prompt": "a", "category": 3}\n', "line 1, field 'category'"),
        ('{"prompt": "a", "reference": [1]}\n', "line 1, field 'reference'"),
        ("\n", "no prompts"),
    ],
)
def test_bad_prompt_files_name_file_line_and_field(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        read_prompt_file(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_mt_bench_questions_with_their_references() -> None:
    prompts = load_prompts("mtbench")
    assert len(prompts) == 80 and all(len(p.turns) == 2 for p in prompts)
    by_category: dict[str | None, list[JudgePrompt]] = {}
    for p in prompts:
        by_category.setdefault(p.category, []).append(p)
    assert all(
        len(p.reference) == 2 for c in ("math", "reasoning", "coding") for p in by_category[c]
    )
    assert all(not p.reference for p in by_category["writing"] + by_category["stem"])
    assert [p.id for p in load_prompts("mtbench", limit=3)] == [81, 82, 83]
    with pytest.raises(UserError, match="--limit"):
        load_prompts("mtbench", limit=0)
