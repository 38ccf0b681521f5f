"""Reading battle files and frames into Battles: formats, metadata, style, and errors."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arena.battles import (
    FORMATS,
    STYLE_FEATURES,
    Battles,
    ColumnMap,
    Outcome,
    detect_format,
    from_frame,
    input_fingerprint,
    markdown_features,
    read_battles,
)
from arena.errors import BattleFileError, UserError
from tests.conftest import data_file

ANSWER_A = "# Plan\n- one\n- two\n**done**\n```\n# not a header\n```"
ANSWER_B = "Just text."


def conversation(prompt: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


def fastchat_rows() -> list[dict[str, Any]]:
    """Three LMArena-style battles with conversations and conv_metadata."""
    meta = {
        "sum_user_tokens": 5,
        "sum_assistant_a_tokens": 40,
        "sum_assistant_b_tokens": 3,
        "header_count_a": {"h1": 1, "h2": 2, "h3": 0, "h4": 0, "h5": 0, "h6": 0},
        "header_count_b": {"h1": 0, "h2": 0, "h3": 0, "h4": 0, "h5": 0, "h6": 0},
        "list_count_a": {"ordered": 1, "unordered": 2},
        "list_count_b": {"ordered": 0, "unordered": 0},
        "bold_count_a": {"**": 4, "__": 1},
        "bold_count_b": {"**": 0, "__": 0},
    }
    return [
        {
            "question_id": "q1",
            "model_a": "gpt-4",
            "model_b": "claude-2",
            "winner": "model_a",
            "judge": "arena_user_1",
            "conversation_a": conversation("Plan my day", ANSWER_A),
            "conversation_b": conversation("Plan my day", ANSWER_B),
            "turn": 1,
            "anony": True,
            "language": "English",
            "tstamp": 1700000000.5,
            "conv_metadata": meta,
        },
        {
            "question_id": "q2",
            "model_a": "claude-2",
            "model_b": "llama-2",
            "winner": "tie(bothbad)",
            "judge": "arena_user_2",
            "conversation_a": conversation("Hi", "Hello!"),
            "conversation_b": conversation("Hi", "Hey."),
            "turn": 1,
            "anony": False,
            "language": "German",
            "tstamp": 1700000100.0,
            "conv_metadata": meta,
        },
        {
            "question_id": "q3",
            "model_a": "llama-2",
            "model_b": "gpt-4",
            "winner": "tie",
            "judge": "arena_user_1",
            "conversation_a": conversation("Bye", "Bye."),
            "conversation_b": conversation("Bye", "See you."),
            "turn": 1,
            "anony": True,
            "language": "English",
            "tstamp": 1700000200.0,
            "conv_metadata": meta,
        },
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def names_of(b: Battles) -> list[tuple[str, str, int]]:
    return [
        (b.models[a], b.models[c], int(o))
        for a, c, o in zip(b.model_a, b.model_b, b.outcome, strict=True)
    ]


def error_of(call: Any, *args: Any, **kwargs: Any) -> BattleFileError:
    with pytest.raises(BattleFileError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message  # printed as one line by the CLI
    return info.value


# ---------------------------------------------------------------------------- from_frame
def test_from_frame_canonical_columns() -> None:
    df = pd.DataFrame(
        {
            "model_a": ["a", "b", "c", "a"],
            "model_b": ["b", "c", "a", "c"],
            "winner": ["model_a", "model_b", "tie", "tie (bothbad)"],
        }
    )
    b = from_frame(df)
    assert b.models == ("a", "b", "c")
    assert names_of(b) == [("a", "b", 0), ("b", "c", 1), ("c", "a", 2), ("a", "c", 3)]
    assert b.n_battles == 4
    assert b.ordered
    np.testing.assert_array_equal(b.weight, 1.0)
    assert not b.has_style
    assert list(b.meta.columns) == []


@pytest.mark.parametrize("dtype", ["str", "object", "category", "arrow-dictionary"])
def test_from_frame_same_result_for_every_string_storage(
    dtype: Literal["str", "object", "category", "arrow-dictionary"],
) -> None:
    base = pd.DataFrame(
        {
            "model_a": ["x", "y", "z", "y"],
            "model_b": ["y", "z", "x", "x"],
            "winner": ["model_b", "tie", "model_a", "tie(bothbad)"],
        }
    )
    if dtype == "arrow-dictionary":
        dict_type = pd.ArrowDtype(pa.dictionary(pa.int32(), pa.string()))
        df = base.astype(dict_type)
    elif dtype == "category":
        # unused categories must not become models
        df = base.astype("category")
        df["model_a"] = df["model_a"].cat.add_categories(["unused"])
    else:
        df = base.astype(dtype)
    b = from_frame(df)
    assert set(b.models) == {"x", "y", "z"}
    assert names_of(b) == [("x", "y", 1), ("y", "z", 2), ("z", "x", 0), ("y", "x", 3)]


def test_from_frame_multi_chunk_arrow_column() -> None:
    chunked = pa.chunked_array([["a", "b"], ["c", "a"]])
    df = pd.DataFrame(
        {
            "model_a": pd.Series(pd.arrays.ArrowExtensionArray(chunked)),
            "model_b": pd.Series(
                pd.arrays.ArrowExtensionArray(pa.chunked_array([["b"], ["c", "a", "b"]]))
            ),
            "winner": ["model_a"] * 4,
        }
    )
    b = from_frame(df)
    assert names_of(b) == [("a", "b", 0), ("b", "c", 0), ("c", "a", 0), ("a", "b", 0)]


def test_from_frame_strips_names_and_outcomes() -> None:
    df = pd.DataFrame(
        {"model_a": [" a", "a "], "model_b": ["b", " b"], "winner": [" Model_A ", "TIE"]}
    )
    b = from_frame(df)
    assert b.models == ("a", "b")
    assert names_of(b) == [("a", "b", 0), ("a", "b", 2)]


def test_from_frame_custom_columns_and_outcome_map() -> None:
    df = pd.DataFrame(
        {"left": ["p", "q"], "right": ["q", "p"], "verdict": ["L", "R"], "who": ["u1", "u2"]}
    )
    b = from_frame(
        df,
        columns=ColumnMap(model_a="left", model_b="right", winner="verdict", voter="who"),
        outcome_map={"L": "model_a", "R": "model_b"},
    )
    assert names_of(b) == [("p", "q", 0), ("q", "p", 1)]
    assert list(b.meta["voter"]) == ["u1", "u2"]


def test_outcome_map_falls_back_to_canonical_labels() -> None:
    df = pd.DataFrame({"model_a": ["a", "a"], "model_b": ["b", "b"], "winner": ["left", "tie"]})
    b = from_frame(df, outcome_map={"left": "model_a"})
    assert list(b.outcome) == [Outcome.A, Outcome.TIE]


def test_outcome_map_with_non_canonical_target_is_a_user_error() -> None:
    df = pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["left"]})
    with pytest.raises(UserError, match=r"'left' to 'A'.*expected one of 'model_a'"):
        from_frame(df, outcome_map={"left": "A"})


def test_column_map_from_mapping() -> None:
    cols = ColumnMap.from_mapping({"model_a": "left", "model_b": "right"})
    assert cols == ColumnMap(model_a="left", model_b="right")
    with pytest.raises(UserError, match=r"unknown column field\(s\) 'modela'.*model_a"):
        ColumnMap.from_mapping({"modela": "left"})


def test_from_frame_with_a_non_default_index() -> None:
    df = pd.DataFrame(
        {
            "model_a": ["a", "b"],
            "model_b": ["b", "a"],
            "winner": ["tie", "tie"],
            "language": ["en", "de"],
        },
        index=[10, 20],
    )
    b = from_frame(df)
    assert list(b.meta["language"]) == ["en", "de"]


def test_counts_and_weights() -> None:
    df = pd.DataFrame(
        {
            "model_a": ["a", "a", "c"],
            "model_b": ["b", "b", "d"],
            "winner": ["model_a", "model_b", "tie"],
            "count": [3, 0, 2],
            "weight": [0.5, 1.0, 2.0],
        }
    )
    b = from_frame(df)
    assert list(b.count) == [3, 2]  # zero-count rows dropped
    assert list(b.weight) == [0.5, 2.0]
    assert b.n_battles == 5
    assert not b.ordered  # aggregated counts have no vote order


def test_unit_counts_stay_ordered() -> None:
    df = pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["tie"], "count": [1]})
    assert from_frame(df).ordered


def test_metadata_columns_are_converted() -> None:
    df = pd.DataFrame(
        {
            "model_a": ["a", "b", "a", "b"],
            "model_b": ["b", "a", "b", "a"],
            "winner": ["model_a"] * 4,
            "tstamp": ["2024-01-01", "2024-01-01T00:00:10Z", "1704067200", None],
            "anony": ["true", "0", True, "no"],
            "category": ["coding; math", None, "", "creative"],
            "language": ["English", "German", None, "English"],
            "judge": ["u1", "u2", "u3", "u4"],
            "prompt": ["p1", "p2", "p3", "p4"],
        }
    )
    b = from_frame(df)
    stamps = b.meta["tstamp"].to_numpy()
    assert stamps[:3].tolist() == [1704067200.0, 1704067210.0, 1704067200.0]
    assert np.isnan(stamps[3])
    assert b.meta["anony"].tolist() == [True, False, True, False]
    assert b.meta["category"].tolist() == [("coding", "math"), (), (), ("creative",)]
    assert b.meta["voter"].tolist() == ["u1", "u2", "u3", "u4"]
    assert b.meta["language"].isna().tolist() == [False, False, True, False]
    assert b.meta["prompt"].tolist() == ["p1", "p2", "p3", "p4"]


def test_category_lists_and_numeric_anony() -> None:
    df = pd.DataFrame(
        {
            "model_a": ["a", "b"],
            "model_b": ["b", "a"],
            "winner": ["tie", "tie"],
            "category": [["hard prompts", "math"], []],
            "anony": [1, 0],
        }
    )
    b = from_frame(df)
    assert b.meta["category"].tolist() == [("hard prompts", "math"), ()]
    assert b.meta["anony"].tolist() == [True, False]


def test_answers_give_style_features() -> None:
    df = pd.DataFrame(
        {
            "model_a": ["a"],
            "model_b": ["b"],
            "winner": ["model_a"],
            "answer_a": [ANSWER_A],
            "answer_b": [ANSWER_B],
        }
    )
    b = from_frame(df)
    assert b.has_style and b.style_names == STYLE_FEATURES
    assert b.style_a is not None and b.style_b is not None
    assert tuple(b.style_a[0]) == markdown_features(ANSWER_A)
    assert tuple(b.style_b[0]) == markdown_features(ANSWER_B)
    assert tuple(b.style_a[0])[1:] == (1.0, 2.0, 1.0)  # header in code block not counted


def test_explicit_style_columns_win_over_answers() -> None:
    style = {
        f"{f}_{s}": [float(i + (10 if s == "b" else 0))]
        for i, f in enumerate(STYLE_FEATURES)
        for s in "ab"
    }
    df = pd.DataFrame(
        {
            "model_a": ["a"],
            "model_b": ["b"],
            "winner": ["tie"],
            "answer_a": ["x"],
            "answer_b": ["y"],
            **style,
        }
    )
    b = from_frame(df)
    assert b.style_a is not None and b.style_b is not None
    assert b.style_a.tolist() == [[0.0, 1.0, 2.0, 3.0]]
    assert b.style_b.tolist() == [[10.0, 11.0, 12.0, 13.0]]


def test_conversations_give_prompt_and_style() -> None:
    rows = fastchat_rows()
    for row in rows:
        del row["conv_metadata"]
    rows[1]["conversation_a"] = json.dumps(rows[1]["conversation_a"])  # JSON-string form
    rows[0]["conversation_a"] = [
        *conversation("Plan my day", ANSWER_A),
        {"role": "user", "content": "more"},
        {"role": "assistant", "content": "# Extra"},
    ]
    b = from_frame(pd.DataFrame(rows))
    assert b.meta["prompt"].tolist() == ["Plan my day", "Hi", "Bye"]
    assert b.style_a is not None
    assert tuple(b.style_a[0]) == markdown_features(ANSWER_A + "\n\n# Extra")
    assert tuple(b.style_a[1]) == markdown_features("Hello!")


def test_conv_metadata_dicts_are_summed() -> None:
    b = from_frame(pd.DataFrame(fastchat_rows()))
    assert b.style_a is not None and b.style_b is not None
    assert b.style_a[0].tolist() == [40.0, 3.0, 3.0, 5.0]
    assert b.style_b[0].tolist() == [3.0, 0.0, 0.0, 0.0]


def test_incomplete_conv_metadata_falls_back_to_conversations() -> None:
    rows = fastchat_rows()
    rows[2]["conv_metadata"] = None
    b = from_frame(pd.DataFrame(rows))
    assert b.style_a is not None
    assert tuple(b.style_a[0]) == markdown_features(ANSWER_A)


# ---------------------------------------------------------------------------- formats
def test_fastchat_json_array(tmp_path: Path) -> None:
    path = tmp_path / "battles.json"
    path.write_text(json.dumps(fastchat_rows(), indent=2))
    assert detect_format(path) == "fastchat"
    b = read_battles([path])
    assert names_of(b) == [
        ("gpt-4", "claude-2", 0),
        ("claude-2", "llama-2", 3),
        ("llama-2", "gpt-4", 2),
    ]
    assert b.meta["voter"].tolist() == ["arena_user_1", "arena_user_2", "arena_user_1"]
    assert b.meta["anony"].tolist() == [True, False, True]
    assert b.meta["tstamp"].tolist() == [1700000000.5, 1700000100.0, 1700000200.0]
    assert b.meta["prompt"].tolist() == ["Plan my day", "Hi", "Bye"]
    assert b.has_style and b.ordered


def test_fastchat_jsonl_and_gzip(tmp_path: Path) -> None:
    plain = write_jsonl(tmp_path / "b.jsonl", fastchat_rows())
    zipped = tmp_path / "b.jsonl.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    assert detect_format(zipped) == "fastchat"
    a, z = read_battles([plain]), read_battles([zipped])
    assert a.sha256() == z.sha256()
    assert a.n_battles == 3


def test_single_pretty_printed_object_and_column_oriented_json(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"model_a": "a", "model_b": "b", "winner": "tie"}, indent=2))
    assert names_of(read_battles(one)) == [("a", "b", 2)]
    columns = tmp_path / "columns.json"
    pd.DataFrame(
        {"model_a": ["a", "b"], "model_b": ["b", "a"], "winner": ["tie", "model_a"]}
    ).to_json(columns)
    assert names_of(read_battles(columns)) == [("a", "b", 2), ("b", "a", 0)]


def test_pair_count_csv(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text(
        "model_a,model_b,wins_a,wins_b,tie,tie_bothbad\na,b,3,0,1,2\na,c,0,0,0,0\nb,c,1,4,0,0\n"
    )
    assert detect_format(path) == "paircounts"
    b = read_battles([path])
    assert not b.ordered
    assert b.models == ("a", "b", "c")
    assert names_of(b) == [
        ("a", "b", 0),
        ("a", "b", 2),
        ("a", "b", 3),
        ("b", "c", 0),
        ("b", "c", 1),
    ]
    assert list(b.count) == [3, 1, 2, 1, 4]
    assert b.n_battles == 11


def test_pair_count_ties_optional(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text("model_a,model_b,wins_a,wins_b\na,b,2,1\n")
    b = read_battles([path], fmt="paircounts")
    assert list(b.count) == [2, 1]


def test_generic_csv_with_mapping_and_row_metadata(tmp_path: Path) -> None:
    path = tmp_path / "votes.csv"
    path.write_text(
        "id,left,right,result,when,topic\n"
        "1,NA,m2,L,2024-03-01T10:00:00+01:00,coding;math\n"
        "2,m2,m3,R,2024-03-02,\n"
        "3,m3,NA,draw,1709251200,creative\n"
    )
    assert detect_format(path) == "csv"
    b = read_battles(
        [path],
        columns=ColumnMap(
            model_a="left", model_b="right", winner="result", tstamp="when", category="topic"
        ),
        outcome_map={"L": "model_a", "R": "model_b", "draw": "tie"},
    )
    # "NA" is a model name, not a missing value
    assert names_of(b) == [("NA", "m2", 0), ("m2", "m3", 1), ("m3", "NA", 2)]
    assert b.meta["tstamp"].tolist() == [1709283600.0, 1709337600.0, 1709251200.0]
    assert b.meta["category"].tolist() == [("coding", "math"), (), ("creative",)]


def test_parquet_uses_dictionary_columns(tmp_path: Path) -> None:
    path = tmp_path / "b.parquet"
    table = pa.table(
        {
            "model_a": ["a", "b", "c"] * 3,
            "model_b": ["b", "c", "a"] * 3,
            "winner": ["model_a", "tie", "model_b"] * 3,
            "tstamp": pa.array(pd.to_datetime(["2024-01-01"] * 9)),
            "language": ["en"] * 9,
        }
    )
    pq.write_table(table, path, row_group_size=4)  # several row groups
    assert detect_format(path) == "parquet"
    b = read_battles([path])
    assert b.n_battles == 9 and b.models == ("a", "b", "c")
    assert names_of(b)[:3] == [("a", "b", 0), ("b", "c", 2), ("c", "a", 1)]
    assert set(b.meta["tstamp"]) == {1704067200.0}


def test_gzipped_parquet_and_csv(tmp_path: Path) -> None:
    df = pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["tie"]})
    pq_path = tmp_path / "b.parquet"
    df.to_parquet(pq_path)
    (tmp_path / "b.parquet.gz").write_bytes(gzip.compress(pq_path.read_bytes()))
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress(df.to_csv(index=False).encode()))
    for name in ("b.parquet.gz", "b.csv.gz"):
        assert names_of(read_battles([tmp_path / name])) == [("a", "b", 2)]


def test_several_paths_are_concatenated(tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "1.jsonl", fastchat_rows())
    second = tmp_path / "2.csv"
    second.write_text("model_a,model_b,winner\nnew-model,gpt-4,model_a\n")
    b = read_battles([first, second])
    assert b.n_battles == 4
    assert "new-model" in b.models
    assert names_of(b)[-1] == ("new-model", "gpt-4", 0)
    assert not b.has_style  # only one part has style features


def test_explicit_format_overrides_detection(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text("model_a,model_b,wins_a,wins_b,winner\na,b,1,2,model_a\n")
    assert detect_format(path) == "paircounts"
    assert names_of(read_battles([path], fmt="csv")) == [("a", "b", 0)]


def test_formats_constant() -> None:
    assert FORMATS == ("fastchat", "paircounts", "csv", "parquet")


def test_input_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"model_a,model_b,winner\na,b,tie\n" * 1000)
    fp = input_fingerprint(path)
    assert fp == {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def test_input_fingerprint_missing_file(tmp_path: Path) -> None:
    err = error_of(input_fingerprint, tmp_path / "nope.csv")
    assert "nope.csv" in str(err) and "not found" in str(err)


# ---------------------------------------------------------------------------- real data
def test_real_llmfao_with_column_map() -> None:
    path = data_file("llmfao_crowd_comparisons")
    b = read_battles(
        [path],
        columns=ColumnMap(model_a="left", model_b="right", voter="worker"),
        outcome_map={"left": "model_a", "right": "model_b", "tie": "tie"},
    )
    assert b.n_battles == 8931 and len(b) == 8931
    assert b.n_models == 59
    assert b.ordered


def test_real_chatbot_arena_pair_counts() -> None:
    path = data_file("chatbotarena_20240814")  # leaderbot's JSON, else the shared CSV
    b = read_battles([path])
    assert b.n_models == 129
    assert b.n_battles == 1_670_250
    assert int(b.count[b.outcome == Outcome.BOTH_BAD].sum()) == 295_254
    assert not b.ordered


def test_leaderbot_json_is_the_shared_csv(tmp_path: Path) -> None:
    """The PyPI copy (leaderbot's models/X/Y JSON) reads as the same battles as the CSV."""
    from arena.data import pair_counts_frame

    frame = pair_counts_frame("chatbotarena_20240814")
    csv_path = tmp_path / "counts.csv"
    frame.to_csv(csv_path, index=False)
    doc = {
        "models": sorted(set(frame.model_a) | set(frame.model_b)),
        "X": [],
        "Y": frame[["wins_a", "wins_b", "tie", "tie_bothbad"]].to_numpy().tolist(),
    }
    index = {m: i for i, m in enumerate(doc["models"])}
    doc["X"] = [[index[a], index[b]] for a, b in zip(frame.model_a, frame.model_b, strict=True)]
    json_path = tmp_path / "counts.json"
    json_path.write_text(json.dumps(doc))
    from_json, from_csv = read_battles([json_path]), read_battles([csv_path])
    assert from_json.n_battles == from_csv.n_battles == 1_670_250
    assert from_json.sha256() == from_csv.sha256()


def test_leaderbot_layout_with_a_bad_index_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    doc = {"models": ["a", "b"], "X": [[0, 1], [0, 7]], "Y": [[1, 2, 0, 0]] * 2}
    path.write_text(json.dumps(doc))
    err = error_of(read_battles, [path])
    assert "bad.json" in str(err) and "row 2" in str(err)


# ---------------------------------------------------------------------------- errors
def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_missing_required_column_lists_found_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "model_a,model_b,result\na,b,tie\n")
    err = error_of(read_battles, [path])
    assert err.column == "winner"
    message = str(err)
    assert str(path) in message
    assert "missing required column(s) 'winner'" in message
    assert "columns found: model_a, model_b, result" in message


def test_unknown_outcomes_show_three_values_first_row_and_allowed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "b.csv",
        "model_a,model_b,winner\na,b,model_a\na,b,left\na,b,right\na,b,left\na,b,draw\na,b,bogus\n",
    )
    err = error_of(read_battles, [path])
    message = str(err)
    assert err.row == 2 and err.column == "winner"
    assert message.startswith(f"{path}, row 2, column 'winner': ")
    assert "'left', 'right', 'draw' and 1 more" in message
    assert "expected one of 'model_a', 'model_b', 'tie', 'tie (bothbad)'" in message
    assert "header line not counted" in message


def test_unknown_outcome_mentions_outcome_map_keys() -> None:
    df = pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["up"]})
    err = error_of(from_frame, df, outcome_map={"left": "model_a"})
    assert "'up'" in str(err) and "key of the outcome map ('left')" in str(err)
    assert str(err).startswith("<DataFrame>, row 1")


def test_missing_outcome_row(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "model_a,model_b,winner\na,b,tie\na,b,\n")
    err = error_of(read_battles, [path])
    assert (err.row, err.column) == (2, "winner")
    assert "missing outcome" in str(err)


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.csv", "")
    err = error_of(read_battles, [path])
    assert str(err) == f"{path}: file is empty; expected battles"


def test_header_only_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "model_a,model_b,winner\n")
    err = error_of(read_battles, [path])
    assert str(path) in str(err) and "no data rows" in str(err)


def test_empty_json_array(tmp_path: Path) -> None:
    path = write(tmp_path, "b.json", "[]")
    assert "no data rows" in str(error_of(read_battles, [path]))


def test_parquet_format_on_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "model_a,model_b,winner\na,b,tie\n")
    err = error_of(read_battles, [path], fmt="parquet")
    assert str(err) == (
        f"{path}: format 'parquet' was requested but the file is not Parquet; "
        "it looks like CSV text (format 'csv')"
    )


def test_csv_and_fastchat_formats_on_other_files(tmp_path: Path) -> None:
    pq_path = tmp_path / "b.parquet"
    pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["tie"]}).to_parquet(pq_path)
    assert "not CSV; it looks like Parquet" in str(error_of(read_battles, [pq_path], fmt="csv"))
    csv_path = write(tmp_path, "b.csv", "model_a,model_b,winner\na,b,tie\n")
    assert "not JSON; it looks like CSV" in str(error_of(read_battles, [csv_path], fmt="fastchat"))


def test_truncated_parquet(tmp_path: Path) -> None:
    path = tmp_path / "b.parquet"
    pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["tie"]}).to_parquet(path)
    path.write_bytes(path.read_bytes()[:40])
    err = error_of(read_battles, [path])
    assert str(err).startswith(f"{path}: is not a valid Parquet file")


def test_unknown_format_name(tmp_path: Path) -> None:
    with pytest.raises(
        UserError, match="unknown battle file format 'xlsx'; expected one of fastchat"
    ):
        read_battles([tmp_path / "x"], fmt="xlsx")


def test_no_paths() -> None:
    with pytest.raises(UserError, match="no battle files"):
        read_battles([])


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "b.bin"
    path.write_bytes(b"\x00\x01\x02\xff\xfe")
    assert "unrecognised file format" in str(error_of(read_battles, [path]))


def test_model_battling_itself(tmp_path: Path) -> None:
    path = write(
        tmp_path, "b.csv", "model_a,model_b,winner\na,b,tie\nc,d,tie\ngpt-4,gpt-4,model_a\n"
    )
    err = error_of(read_battles, [path])
    assert err.row == 3
    assert "model_a and model_b are the same model 'gpt-4'" in str(err)
    assert "two different models" in str(err)


def test_missing_model_name(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "model_a,model_b,winner\na,b,tie\na,,tie\n")
    err = error_of(read_battles, [path])
    assert (err.row, err.column) == (2, "model_b")
    assert "missing model name" in str(err)


def test_whitespace_model_name_is_missing() -> None:
    df = pd.DataFrame({"model_a": ["a", "  "], "model_b": ["b", "c"], "winner": ["tie", "tie"]})
    err = error_of(from_frame, df)
    assert (err.row, err.column) == (2, "model_a")


@pytest.mark.parametrize(
    ("value", "shown"), [("-1", "-1"), ("1.5", "1.5"), ("many", "'many'"), ("", "an empty value")]
)
def test_bad_counts(tmp_path: Path, value: str, shown: str) -> None:
    path = write(tmp_path, "b.csv", f"model_a,model_b,winner,count\na,b,tie,1\na,b,tie,{value}\n")
    err = error_of(read_battles, [path])
    assert (err.row, err.column) == (2, "count")
    assert f"count {shown} is not a whole number >= 0" in str(err)


def test_negative_count_in_frame() -> None:
    df = pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["tie"], "count": [-3]})
    assert "count -3 is not a whole number" in str(error_of(from_frame, df))


def test_all_zero_counts() -> None:
    df = pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["tie"], "count": [0]})
    assert "every count is 0" in str(error_of(from_frame, df))


@pytest.mark.parametrize("value", ["nan", "inf", "-0.5", "heavy"])
def test_bad_weights(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "b.csv", f"model_a,model_b,winner,weight\na,b,tie,{value}\n")
    err = error_of(read_battles, [path])
    assert (err.row, err.column) == (1, "weight")
    assert "is not a finite number >= 0" in str(err)


def test_unparseable_timestamp(tmp_path: Path) -> None:
    path = write(
        tmp_path, "b.csv", "model_a,model_b,winner,tstamp\na,b,tie,2024-01-01\na,b,tie,yesterday\n"
    )
    err = error_of(read_battles, [path])
    assert (err.row, err.column) == (2, "tstamp")
    assert "timestamp 'yesterday' is neither seconds since the epoch nor an ISO date" in str(err)


def test_bad_anony_flag() -> None:
    df = pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["tie"], "anony": ["maybe"]})
    err = error_of(from_frame, df)
    assert err.column == "anony" and "expected true/false or 1/0" in str(err)


def test_bad_category_value() -> None:
    df = pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["tie"], "category": [3]})
    err = error_of(from_frame, df)
    assert err.column == "category" and "';'-separated tags or a list of strings" in str(err)


def test_jsonl_bad_line_reports_line_number(tmp_path: Path) -> None:
    good = json.dumps({"model_a": "a", "model_b": "b", "winner": "tie"})
    path = write(tmp_path, "b.jsonl", f"{good}\n\n{good}\n{{broken\n")
    err = error_of(read_battles, [path])
    assert err.row == 4
    assert "line is not valid JSON" in str(err) and "one JSON object per line" in str(err)


def test_jsonl_row_errors_use_line_numbers(tmp_path: Path) -> None:
    rows = [
        {"model_a": "a", "model_b": "b", "winner": "tie"},
        {"model_a": "a", "model_b": "b", "winner": "nobody"},
    ]
    path = write(
        tmp_path, "b.jsonl", "\n" + json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n"
    )
    err = error_of(read_battles, [path])
    assert err.row == 4 and "rows are line numbers in the file" in str(err)


def test_invalid_json_array(tmp_path: Path) -> None:
    path = write(tmp_path, "b.json", '[{"model_a": "a",\n  "model_b": }]')
    err = error_of(read_battles, [path])
    assert "is not valid JSON" in str(err) and "line 2, column" in str(err)


def test_json_array_of_non_objects(tmp_path: Path) -> None:
    path = write(tmp_path, "b.json", '[{"model_a": "a", "model_b": "b", "winner": "tie"}, 42]')
    err = error_of(read_battles, [path])
    assert err.row == 2 and "42 is not a JSON object" in str(err)


def test_malformed_conversation(tmp_path: Path) -> None:
    rows = fastchat_rows()
    for row in rows:
        del row["conv_metadata"]  # so style comes from the conversations
    rows[1]["conversation_b"] = [{"text": "no role"}]
    path = write_jsonl(tmp_path / "b.jsonl", rows)
    err = error_of(read_battles, [path])
    assert (err.row, err.column) == (2, "conversation_b")
    assert "list of" in str(err) and "role" in str(err)


def test_conversation_that_is_not_json(tmp_path: Path) -> None:
    rows = fastchat_rows()
    rows[2]["conversation_a"] = "[{'role': 'user'"
    err = error_of(read_battles, [write_jsonl(tmp_path / "b.jsonl", rows)])
    assert (err.row, err.column) == (3, "conversation_a")
    assert "conversation is not valid JSON" in str(err)


def test_missing_file(tmp_path: Path) -> None:
    err = error_of(read_battles, [tmp_path / "nope.json"])
    assert str(err) == f"{tmp_path / 'nope.json'}: file not found"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert "is a directory" in str(error_of(read_battles, [tmp_path]))


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "b.csv.gz"
    path.write_bytes(gzip.compress(b"model_a,model_b,winner\n" + b"a,b,tie\n" * 1000)[:60])
    err = error_of(read_battles, [path])
    assert str(path) in str(err) and "gzip" in str(err)


def test_pair_count_errors(tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "p.csv",
        "model_a,model_b,wins_a,wins_b,tie,tie_bothbad\na,b,1,2,0,0\na,c,1,-2,0,0\n",
    )
    err = error_of(read_battles, [bad])
    assert (err.row, err.column) == (2, "wins_b") and "whole number >= 0" in str(err)
    zero = write(tmp_path, "z.csv", "model_a,model_b,wins_a,wins_b\na,b,0,0\n")
    assert "every count is 0" in str(error_of(read_battles, [zero]))
    missing = write(tmp_path, "m.csv", "model_a,model_b,wins_a,winner\na,b,1,tie\n")
    err = error_of(read_battles, [missing], fmt="paircounts")
    assert "'wins_b'" in str(err) and "columns found: model_a, model_b, wins_a, winner" in str(err)


def test_list_in_a_model_column(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"model_a": "a", "model_b": "b", "winner": "tie"},
        {"model_a": ["a", "c"], "model_b": "b", "winner": "tie"},
    ]
    err = error_of(read_battles, [write_jsonl(tmp_path / "b.jsonl", rows)])
    assert (err.row, err.column) == (2, "model_a")
    assert "['a', 'c'] is not a single value; expected text" in str(err)


def test_malformed_csv_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "model_a,model_b,winner\na,b,tie\na,b,tie,extra\n")
    err = error_of(read_battles, [path])
    assert str(err).startswith(f"{path}: is not valid CSV: ")
    assert "Expected 3 fields in line 3, saw 4" in str(err)


def test_csv_with_byte_order_mark_and_padded_header(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes("\ufeffmodel_a, model_b ,winner\r\na,b,model_b\r\n".encode())
    assert detect_format(path) == "csv"
    assert names_of(read_battles([path])) == [("a", "b", 1)]


def test_from_frame_reads_pair_counts() -> None:
    df = pd.DataFrame(
        {"model_a": ["a"], "model_b": ["b"], "wins_a": [2], "wins_b": [0], "tie": [1]}
    )
    b = from_frame(df)
    assert names_of(b) == [("a", "b", 0), ("a", "b", 2)]
    assert list(b.count) == [2, 1] and not b.ordered


def test_long_frames_factorise_on_threads_with_the_same_result() -> None:
    n = 150_000  # above the threshold for parallel factorisation
    rng = np.random.default_rng(0)
    models = np.asarray([f"model-{i}" for i in range(30)], dtype=object)
    a = rng.integers(0, 30, n)
    b = (a + rng.integers(1, 30, n)) % 30
    winner = np.asarray(["model_a", "model_b", "tie", "tie (bothbad)"], dtype=object)[
        rng.integers(0, 4, n)
    ]
    df = pd.DataFrame({"model_a": models[a], "model_b": models[b], "winner": winner}, dtype="str")
    fast = from_frame(df)
    slow = from_frame(df.astype(object))
    assert fast.sha256() == slow.sha256()
    assert fast.n_battles == n
    df.loc[140_000, "winner"] = "nobody"
    err = error_of(from_frame, df)
    assert (err.row, err.column) == (140_001, "winner")


def test_truncated_single_json_object(tmp_path: Path) -> None:
    path = write(tmp_path, "b.json", '{"model_a": "x", "model_b": "y"')
    err = error_of(read_battles, [path])
    assert err.row == 1
    assert str(err).startswith(f"{path}, row 1: is not valid JSON: Expecting ',' delimiter")


def test_lmarena_category_tags_become_categories(tmp_path: Path) -> None:
    import json

    from arena.battles import FilterSpec, apply_filters, read_battles

    crit_hard = {k: True for k in "abcdef"} | {"g": False}
    rows = [
        {
            "model_a": "x",
            "model_b": "y",
            "winner": "model_a",
            "category_tag": {"math_v0.1": {"math": True}, "criteria_v0.1": crit_hard},
            "is_code": False,
        },
        {
            "model_a": "y",
            "model_b": "x",
            "winner": "model_a",
            "category_tag": {"math_v0.1": {"math": False}, "if_v0.1": {"if": True, "score": 4}},
            "is_code": True,
        },
        {"model_a": "x", "model_b": "y", "winner": "tie", "category_tag": None, "is_code": False},
    ]
    path = tmp_path / "lmarena.json"
    path.write_text(json.dumps(rows))
    b = read_battles([path])
    assert list(b.meta["category"]) == [("math", "hard_6"), ("if", "coding"), ()]
    assert len(apply_filters(b, FilterSpec(category="hard_6"))) == 1
    assert len(apply_filters(b, FilterSpec(category="coding"))) == 1
