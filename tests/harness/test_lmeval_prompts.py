"""Prompts as lm-evaluation-harness writes them: HellaSwag's query, the headline metric, and
the task description in the system message under a chat template (MMLU)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from arena.backends import model_config
from arena.harness import (
    RunOptions,
    SuiteError,
    build_samples,
    evaluate,
    hellaswag,
    join_system,
    load_suite,
    read_rows,
    render_results,
    split_hellaswag_ctx,
)


def lmeval_hellaswag(doc: dict[str, Any]) -> dict[str, Any]:
    """lm-eval 0.4's ``tasks/hellaswag/utils.py`` ``process_docs``, for one row, in its words."""

    def preprocess(text: str) -> str:
        text = text.strip()
        text = text.replace(" [title]", ". ")
        text = re.sub("\\[.*?\\]", "", text)
        return text.replace("  ", " ")

    ctx = doc["ctx_a"] + " " + doc["ctx_b"].capitalize()
    return {
        "query": preprocess(doc["activity_label"] + ": " + ctx),
        "choices": [preprocess(ending) for ending in doc["endings"]],
    }


@pytest.fixture(scope="module")
def hellaswag_rows() -> list[dict[str, Any]]:
    return read_rows(load_suite("hellaswag").tasks[0].dataset)


def test_the_bundled_rows_get_ctx_a_and_ctx_b_back(hellaswag_rows: list[dict[str, Any]]) -> None:
    fragments = 0
    for row in hellaswag_rows:
        ctx_a, ctx_b = split_hellaswag_ctx(row["ctx"])
        assert (f"{ctx_a} {ctx_b}" if ctx_b else ctx_a) == row["ctx"]
        if ctx_b:
            fragments += 1
            assert ctx_b[0].islower() and not re.search(r"[.!?]", ctx_b)
    assert fragments == 32  # the ActivityNet rows; the WikiHow rows end a sentence


def test_hellaswag_query_is_lmevals(hellaswag_rows: list[dict[str, Any]]) -> None:
    for row in hellaswag_rows:
        ctx_a, ctx_b = split_hellaswag_ctx(row["ctx"])
        expected = lmeval_hellaswag({**row, "ctx_a": ctx_a, "ctx_b": ctx_b})
        got = hellaswag(row)
        assert (got["query"], got["choices"]) == (expected["query"], expected["choices"])
    stilts = next(r for r in hellaswag_rows if r["id"] == "hellaswag-val-00409")
    assert hellaswag(stilts)["query"] == (
        "Powerbocking: A group of boys are on the sidewalk of a street. They are bouncing "
        "around on stilts. They"  # lm-eval's capital; the row's ctx ends "... stilts. they"
    )
    # a row of the public dataset, with both fields, is used as it is
    public = {"activity_label": "X", "ctx_a": "A man sits.", "ctx_b": "he then", "endings": []}
    assert hellaswag(public)["query"] == "X: A man sits. He then"


def test_hellaswag_table_shows_acc_norm(tmp_path: Path) -> None:
    model = model_config("f", "fake")
    res = evaluate(load_suite("hellaswag"), [model], options=RunOptions(limit=3, progress=False))
    (r,) = res.results
    assert next(iter(r.metrics)) == "acc_norm" and set(r.metrics) == {"acc", "acc_norm"}
    assert "hellaswag (acc_norm)" in render_results(res, "md")


def test_a_headline_that_is_not_a_metric_is_refused(tmp_path: Path) -> None:
    data = Path(load_suite("smoke").path).parent / "data" / "smoke" / "mc.jsonl"
    suite = tmp_path / "s.toml"
    suite.write_text(
        f'[suite]\nname = "s"\n[[tasks]]\nname = "t"\nkind = "multiple_choice"\n'
        f'dataset = {{ path = "{data}" }}\nprompt = "{{question}}"\nchoices = "{{choices}}"\n'
        'target = "{answer}"\nheadline = "pass@1"\n'
    )
    with pytest.raises(SuiteError, match=r"headline.*'pass@1' is not a metric.*acc, acc_norm"):
        load_suite(str(suite))


def test_mmlu_under_a_chat_template_puts_the_description_in_the_system_message() -> None:
    task = load_suite("mmlu").tasks[0]
    suite_path = load_suite("mmlu").path
    (s, *_) = build_samples(task, suite_path, limit=3)
    topic = s.doc["topic"].replace("_", " ")
    description = f"The following are multiple choice questions (with answers) about {topic}.\n\n"
    assert s.context.startswith(description)  # without a template: as before
    system, user = s.turns
    assert (system.role, user.role) == ("system", "user")
    sys_text, user_text = system.content, user.content
    assert sys_text == description  # lm-eval keeps the description's trailing newlines
    assert user_text == s.context[len(description) :] and user_text.endswith("Answer:")
    assert join_system("Be brief.", description, "\n\n") == "Be brief.\n\n" + description
    assert join_system("Be brief.\n", description, "\n\n") == "Be brief.\n" + description
    assert join_system(None, "", "\n\n") == ""


def test_mmlu_with_a_chat_template_runs_with_the_system_message(tmp_path: Path) -> None:
    # a fake chat model that renders turns: the system message reaches the model
    from arena.harness import ModelRunner

    seen: list[str] = []

    def render(self: ModelRunner, turns: Any) -> str:
        seen.append("|".join(m.role for m in turns))
        return "".join(f"<{m.role}>{m.content}" for m in turns)

    model = model_config("f", "fake")
    options = RunOptions(limit=4, progress=False, chat_template=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ModelRunner, "render_chat", render)
        res = evaluate(load_suite("mmlu"), [model], output=tmp_path / "run", options=options)
    assert res.results[0].n_failed == 0 and set(seen) == {"system|user"}
    log = (tmp_path / "run" / "samples" / "f" / "mmlu.jsonl").read_text()
    assert "<system>The following are multiple choice questions" in log
