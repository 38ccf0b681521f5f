"""Records and stop-sequence handling shared by every backend."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arena.backends import InvalidParams, Message, ModelInfo, SamplingParams, StopFilter, apply_stop
from arena.backends.base import filter_stream
from arena.errors import UserError


def test_message_roles_are_checked() -> None:
    assert Message("user", "hi").role == "user"
    with pytest.raises(InvalidParams, match="role must be one of system, user, assistant"):
        Message("robot", "hi")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens must be >= 1"),
        ({"temperature": -0.1}, "temperature must be >= 0"),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
        ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
        ({"stop": ["x"]}, "stop must be a tuple of strings"),
        ({"stop": ("",)}, "must not be empty"),
    ],
)
def test_sampling_params_are_checked(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidParams, match=match) as info:
        SamplingParams(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, UserError)


def test_greedy_flag() -> None:
    assert SamplingParams().greedy
    assert not SamplingParams(temperature=0.7, seed=1).greedy


def test_model_info_metadata_is_json_ready() -> None:
    info = ModelInfo("m", "fake", "M", weights_sha256="ab")
    assert info.metadata()["weights_sha256"] == "ab"


def test_stop_filter_holds_back_partial_matches_across_chunks() -> None:
    f = StopFilter(["\nUser:"])
    assert f.push("Hello\nUs") == "Hello"
    assert f.push("e") == ""
    assert f.push("r: more") == ""
    assert f.stopped
    assert f.flush() == ""


def test_stop_filter_releases_text_that_was_not_a_stop() -> None:
    f = StopFilter(["\nUser:"])
    assert f.push("a\nUs") == "a"
    assert f.push("ually") == "\nUsually"
    assert f.push("\n") == ""
    assert f.flush() == "\n"


def test_earliest_stop_wins() -> None:
    assert apply_stop("one. two! three", ["!", "."]) == "one"
    assert apply_stop("no stops here", []) == "no stops here"


def test_filter_stream_closes_the_producer_at_a_stop() -> None:
    closed = []

    def produce() -> object:
        try:
            yield from ["a", "b", "STOP", "c", "d"]
        finally:
            closed.append(True)

    assert list(filter_stream(produce(), ["STOP"])) == ["a", "b"]  # type: ignore[arg-type]
    assert closed == [True]


@given(
    text=st.text(alphabet="ab\nUs:r", max_size=40),
    cuts=st.lists(st.integers(0, 40), max_size=8),
    stops=st.lists(st.text(alphabet="ab\nUs:r", min_size=1, max_size=4), max_size=3),
)
def test_streamed_result_equals_cutting_the_whole_text(
    text: str, cuts: list[int], stops: list[str]
) -> None:
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    expected = min((text.find(s) for s in stops if s in text), default=len(text))
    assert "".join(filter_stream(chunks, stops)) == text[:expected]


ROLES_STOPS = ("User:", "Assistant:")


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        # the echo Gemma 3 270M produced: the question again, then a new "Assistant:" turn
        ([" Write a haiku", " about autumn\nAssis", "tant: Write"], "Write a haiku about autumn"),
        # a marker in the middle of a line, split across chunks
        (["Paris is the capital. Us", "er: and Rome?"], "Paris is the capital."),
        # at the very start: an empty answer, never the marker itself
        (["User: hi"], ""),
        # the transcript's separators around the answer are not part of it
        (["  Apple.", "\n", "\n", "User: and"], "Apple."),
    ],
)
def test_role_markers_end_the_answer_wherever_they_appear(
    chunks: list[str], expected: str
) -> None:
    out = list(filter_stream(chunks, ROLES_STOPS, strip=True))
    assert "".join(out) == expected
    assert all(out) and not any(m in "".join(out) for m in ROLES_STOPS)


def test_strip_keeps_inner_whitespace_and_holds_back_only_the_tail() -> None:
    chunks = ["\n def f():", "\n", "    return 1", "\n\n", "\n"]
    out = list(filter_stream(chunks, (), strip=True))
    assert out == ["def f():", "\n    return 1"]
    # without strip nothing changes
    assert "".join(filter_stream(chunks, ())) == "".join(chunks)


def test_filter_stream_reports_whether_a_stop_ended_it() -> None:
    stops = StopFilter(["END"])
    assert "".join(filter_stream(["a", "bEN", "Dc"], stops)) == "ab"
    assert stops.stopped
    other = StopFilter(["END"])
    assert "".join(filter_stream(["a", "b"], other)) == "ab"
    assert not other.stopped


@given(
    text=st.text(alphabet="ab \nUs:r", max_size=40),
    cuts=st.lists(st.integers(0, 40), max_size=8),
)
def test_stripped_stream_equals_stripping_the_cut_text(text: str, cuts: list[int]) -> None:
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    expected = apply_stop(text, ROLES_STOPS).strip()
    out = list(filter_stream(chunks, ROLES_STOPS, strip=True))
    assert "".join(out) == expected and all(out)


def test_a_message_is_written_as_chat_apis_and_battle_logs_write_it() -> None:
    from arena.backends import Message

    assert Message("user", "Hi | <b>").to_dict() == {"role": "user", "content": "Hi | <b>"}
