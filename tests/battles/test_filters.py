"""Filters select the battles a leaderboard is computed on, and explain empty results."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from arena.battles import Battles, FilterSpec, apply_filters, from_frame, parse_date
from arena.errors import UserError

DAY = 86_400.0
JAN1 = datetime(2024, 1, 1, tzinfo=UTC).timestamp()


def battles() -> Battles:
    """Six battles of four models with every metadata column."""
    return from_frame(
        pd.DataFrame(
            {
                "model_a": ["gpt-4", "gpt-4", "claude-2", "llama-2", "gpt-4", "mistral-7b"],
                "model_b": ["claude-2", "llama-2", "llama-2", "gpt-4", "claude-2", "gpt-4"],
                "winner": ["model_a", "tie", "model_b", "model_a", "tie", "model_b"],
                "tstamp": [JAN1 + d * DAY for d in range(6)],
                "anony": [True, True, False, True, False, True],
                "language": ["English", "german", "English", "German", "English", None],
                "category": ["coding;Math", "math", "", "creative", "Coding", None],
                "prompt": ["Hello", "  hello ", "Other", "HELLO", None, None],
            }
        )
    )


def pairs(b: Battles) -> list[tuple[str, str]]:
    return [(b.models[a], b.models[c]) for a, c in zip(b.model_a, b.model_b, strict=True)]


def test_default_spec_keeps_everything() -> None:
    b = battles()
    assert apply_filters(b, FilterSpec()).sha256() == b.sha256()


def test_category_is_a_case_insensitive_tag_match() -> None:
    kept = apply_filters(battles(), FilterSpec(category="CODING"))
    assert pairs(kept) == [("gpt-4", "claude-2"), ("gpt-4", "claude-2")]
    assert kept.meta["category"].tolist() == [("coding", "Math"), ("Coding",)]
    math = apply_filters(battles(), FilterSpec(category="math"))
    assert len(math) == 2
    assert kept.models == ("gpt-4", "claude-2")  # models compacted


def test_language_is_case_insensitive() -> None:
    kept = apply_filters(battles(), FilterSpec(language="GERMAN"))
    assert pairs(kept) == [("gpt-4", "llama-2"), ("llama-2", "gpt-4")]


def test_since_inclusive_until_exclusive() -> None:
    kept = apply_filters(battles(), FilterSpec(since=JAN1 + DAY, until=JAN1 + 3 * DAY))
    assert kept.meta["tstamp"].tolist() == [JAN1 + DAY, JAN1 + 2 * DAY]


def test_battles_without_timestamp_are_dropped_by_a_time_window() -> None:
    df = pd.DataFrame(
        {
            "model_a": ["a", "a"],
            "model_b": ["b", "b"],
            "winner": ["tie", "tie"],
            "tstamp": [JAN1, None],
        }
    )
    kept = apply_filters(from_frame(df), FilterSpec(since=JAN1))
    assert len(kept) == 1


def test_anonymous_only() -> None:
    kept = apply_filters(battles(), FilterSpec(anonymous_only=True))
    assert kept.meta["anony"].tolist() == [True] * 4


def test_exclude_drops_every_battle_of_the_model() -> None:
    kept = apply_filters(battles(), FilterSpec(exclude=("gpt-4",)))
    assert pairs(kept) == [("claude-2", "llama-2")]
    assert "gpt-4" not in kept.models


def test_exclude_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UserError, match=r"--exclude: unknown model 'gpt4'; did you mean 'gpt-4'\?"):
        apply_filters(battles(), FilterSpec(exclude=("gpt4",)))
    with pytest.raises(UserError, match=r"unknown model 'zzz'; the input has 4 models"):
        apply_filters(battles(), FilterSpec(exclude=("zzz",)))


def test_min_battles_counts_multiplicities_in_one_pass() -> None:
    df = pd.DataFrame(
        {
            "model_a": ["a", "a", "b", "c"],
            "model_b": ["b", "c", "c", "d"],
            "winner": ["tie"] * 4,
            "count": [5, 1, 1, 1],
        }
    )
    # battles per model: a 6, b 6, c 3, d 1 -> d dropped, then its battle; c keeps 2 < 3
    kept = apply_filters(from_frame(df), FilterSpec(min_battles=3))
    assert pairs(kept) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert kept.n_battles == 7


def test_dedup_prompts_keeps_first_of_each_normalised_prompt() -> None:
    kept = apply_filters(battles(), FilterSpec(dedup_prompts=True))
    # "Hello", "  hello ", "HELLO" are one prompt; battles without a prompt are kept
    assert kept.meta["prompt"].tolist()[:2] == ["Hello", "Other"]
    assert len(kept) == 4


def test_filters_compose_in_documented_order() -> None:
    # dedup after the language filter: "  hello " is the first German battle of the prompt
    kept = apply_filters(battles(), FilterSpec(language="german", dedup_prompts=True))
    assert kept.meta["prompt"].tolist() == ["  hello "]


@pytest.mark.parametrize(
    ("spec", "flag", "column"),
    [
        (FilterSpec(category="x"), "--category", "category"),
        (FilterSpec(language="en"), "--language", "language"),
        (FilterSpec(since=0.0), "--since", "tstamp"),
        (FilterSpec(until=1.0), "--until", "tstamp"),
        (FilterSpec(anonymous_only=True), "--anonymous-only", "anony"),
        (FilterSpec(dedup_prompts=True), "--dedup-prompts", "prompt"),
    ],
)
def test_missing_metadata_column_names_flag_and_column(
    spec: FilterSpec, flag: str, column: str
) -> None:
    bare = from_frame(
        pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["tie"], "voter": ["u"]})
    )
    with pytest.raises(UserError) as info:
        apply_filters(bare, spec, source="votes.csv")
    assert str(info.value) == (
        f"{flag} needs a '{column}' column; votes.csv has none (metadata columns: voter)"
    )


def test_filter_that_empties_the_data_is_named() -> None:
    with pytest.raises(
        UserError,
        match=r"the filter --language 'french' left no battles \(6 battles of 4 models before it\)",
    ):
        apply_filters(battles(), FilterSpec(language="french"))
    with pytest.raises(UserError, match="the filter --min-battles 100 left no battles"):
        apply_filters(battles(), FilterSpec(min_battles=100))
    with pytest.raises(
        UserError, match=r"the filter --since 2030-01-01T00:00:00\+00:00 left no battles"
    ):
        apply_filters(battles(), FilterSpec(since=parse_date("2030-01-01")))


def test_empty_time_window_is_rejected() -> None:
    with pytest.raises(UserError, match="--since must be earlier than --until"):
        apply_filters(battles(), FilterSpec(since=JAN1, until=JAN1))


def test_negative_min_battles_is_rejected() -> None:
    with pytest.raises(UserError, match="--min-battles must be >= 0"):
        apply_filters(battles(), FilterSpec(min_battles=-1))


def test_filters_work_on_concatenated_tables_with_partial_metadata() -> None:
    other = from_frame(pd.DataFrame({"model_a": ["x"], "model_b": ["y"], "winner": ["tie"]}))
    both = Battles.concat([battles(), other])
    assert len(apply_filters(both, FilterSpec(anonymous_only=True))) == 4
    assert len(apply_filters(both, FilterSpec(category="math"))) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01", JAN1),
        ("2024-01-01T12:00:00", JAN1 + DAY / 2),
        ("2024-01-01T12:00:00Z", JAN1 + DAY / 2),
        ("2024-01-01T13:00:00+01:00", JAN1 + DAY / 2),
        (" 2024-01-02 ", JAN1 + DAY),
    ],
)
def test_parse_date(text: str, expected: float) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "01/02/2024", ""])
def test_parse_date_rejects_bad_input(text: str) -> None:
    with pytest.raises(UserError, match=r"invalid date .*expected YYYY-MM-DD or an ISO date/time"):
        parse_date(text)
