"""Markdown style features: counted like LMArena's, outside fenced code blocks."""

from __future__ import annotations

import numpy as np
import pytest

from arena.battles.style import (
    STYLE_FEATURES,
    features_for_texts,
    markdown_features,
    strip_code_blocks,
)


def tokens(text: str) -> float:
    return markdown_features(text)[0]


def headers(text: str) -> float:
    return markdown_features(text)[1]


def list_items(text: str) -> float:
    return markdown_features(text)[2]


def bold(text: str) -> float:
    return markdown_features(text)[3]


def test_feature_names_match_columns() -> None:
    assert STYLE_FEATURES == ("tokens", "headers", "list_items", "bold")
    assert features_for_texts(["x"]).shape == (1, len(STYLE_FEATURES))


def test_tokens_are_words_plus_standalone_punctuation() -> None:
    assert tokens("Hello, world!") == 4
    assert tokens("don't") == 3  # don ' t
    assert tokens("") == 0
    assert tokens("   \n\t ") == 0
    assert tokens("x = 3.14") == 5  # x = 3 . 14


def test_headers_need_one_to_six_hashes_and_whitespace() -> None:
    text = "# One\n## Two\n###### Six\n####### Seven\n#hashtag\n #indented\nnot # a header"
    assert headers(text) == 3


def test_hashtag_is_not_a_header() -> None:
    assert headers("#python is great\n#2024") == 0


def test_list_items_bulleted_numbered_and_nested() -> None:
    text = "\n".join(
        [
            "- apple",
            "* banana",
            "+ cherry",
            "  - nested dash",
            "    * deeper star",
            "1. first",
            "2) second",
            "10. tenth",
            "-not a list",
            "---",
            "**bold** line start",
            "1.5 is a number",
        ]
    )
    assert list_items(text) == 8


def test_bold_with_stars_and_underscores() -> None:
    assert bold("**a** and __b__ and **c d**") == 3
    assert bold("*italic* and _italic_") == 0
    assert bold("**not\nclosed on this line**") == 0


def test_everything_inside_backtick_fence_is_ignored() -> None:
    text = "Intro\n```python\n# comment not header\n- not a list\n**not bold**\nx = 1\n```\nOutro"
    assert markdown_features(text) == (2.0, 0.0, 0.0, 0.0)


def test_tilde_fence_and_longer_fences() -> None:
    text = "~~~\n# hidden\n~~~\n# shown\n````\n```\n# still hidden\n````\n- shown item"
    assert headers(text) == 1
    assert list_items(text) == 1


def test_fence_closed_only_by_same_character() -> None:
    text = "```\n# hidden\n~~~\n# still hidden\n```\n# shown"
    assert headers(text) == 1


def test_unclosed_fence_runs_to_end() -> None:
    text = "# Title\nSome words\n```\n# hidden\n- hidden\n**hidden**"
    assert markdown_features(text) == (4.0, 1.0, 0.0, 0.0)  # "#", "Title", "Some", "words"


def test_inline_triple_backticks_do_not_open_a_fence() -> None:
    text = "Use ```x``` inline\n# Header after"
    assert headers(text) == 1


def test_indented_fence_up_to_three_spaces() -> None:
    assert headers("   ```\n# hidden\n   ```\n# shown") == 1


def test_strip_code_blocks_keeps_prose_lines() -> None:
    assert strip_code_blocks("a\n```\ncode\n```\nb") == "a\nb"
    assert strip_code_blocks("no fences") == "no fences"


def test_features_for_texts_rows_and_missing_texts() -> None:
    out = features_for_texts(["# H\n- a\n**b**", None, float("nan")])  # type: ignore[list-item]
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out[0], markdown_features("# H\n- a\n**b**"))
    np.testing.assert_array_equal(out[1:], 0.0)


def test_features_for_no_texts() -> None:
    assert features_for_texts([]).shape == (0, 4)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_windows_line_endings(newline: str) -> None:
    text = newline.join(["# H", "```", "# no", "```", "- item"])
    assert headers(text) == 1
    assert list_items(text) == 1
