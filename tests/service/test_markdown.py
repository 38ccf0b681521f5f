"""Answers rendered as Markdown fetch nothing: parsed with CommonMark, written out safely.

The check reads the output back the way a renderer does (markdown-it-py, the same
CommonMark grammar Streamlit's renderer implements, plus GFM tables and strike-through):
no image, no raw HTML, no link to a scheme other than http(s)/mailto may be in it. The
browser test (tests/webapp/test_hostile_browser.py) shows the same answers in Chromium
and records every request.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from arena.service import safe_markdown

from ._hostile import HOST, HOSTILE

# How a renderer reads the output: raw HTML *on*, so any tag that got through shows up,
# and every link target accepted (markdown-it itself refuses javascript: and most data:
# targets; a renderer might not), so any such target that got through shows up too.
_READER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_READER.validateLink = lambda url: True  # type: ignore[method-assign]


def _tokens(tokens: Sequence[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        yield from _tokens(token.children or [])


def _dangers(markdown: str) -> list[str]:
    found = []
    for token in _tokens(_READER.parse(markdown)):
        if token.type in ("image", "html_inline", "html_block"):
            found.append(f"{token.type}: {token.content!r}")
        if token.type == "link_open":
            href = str(token.attrGet("href") or "")
            if not href.startswith(("http://", "https://", "mailto:")):
                found.append(f"link to {href!r}")
    return found


@pytest.mark.parametrize(("attack", "answer"), HOSTILE, ids=[a for a, _ in HOSTILE])
def test_hostile_answers_render_nothing_that_fetches(attack: str, answer: str) -> None:
    out = safe_markdown(answer)
    harmless_as_commonmark = ("latex includegraphics", "entity-encoded tag")
    assert bool(_dangers(answer)) != (attack in harmless_as_commonmark)  # the test can fail
    assert _dangers(out) == []
    assert "$" not in out.replace("\\$", "")  # no math for KaTeX to run
    assert ":red[" not in out and ":material/" not in out  # no Streamlit directives


def test_images_become_visible_links_and_script_links_text() -> None:
    out = safe_markdown(f"![a pixel](http://{HOST}/1.png) [go](javascript:alert(1)) [ok](https://a.org/x)")
    links = [t for t in _tokens(_READER.parse(out)) if t.type == "link_open"]
    assert [t.attrGet("href") for t in links] == [f"http://{HOST}/1.png", "https://a.org/x"]
    text = "".join(t.content for t in _tokens(_READER.parse(out)) if t.type == "text")
    assert "image: a pixel" in text and "[go](javascript:alert(1))" in text


def test_raw_html_is_shown_as_its_text() -> None:
    out = safe_markdown("Hi <img src=x onerror=alert(1)> and <script>alert(2)</script>")
    text = "".join(t.content for t in _tokens(_READER.parse(out)) if t.type == "text")
    assert text == "Hi <img src=x onerror=alert(1)> and <script>alert(2)</script>"


def test_structure_and_code_survive_verbatim() -> None:
    source = (
        "# Title\n\nSome *em*, **strong**, ~~gone~~ and `a <b> c`.\n\n"
        "- one\n- two\n  - nested\n\n1. first\n2. second\n\n> quoted\n\n"
        "```python\nprint('<script>![x](http://e/x.png)')\n```\n\n"
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n"
    )
    out = safe_markdown(source)
    kinds = [t.type for t in _READER.parse(out)]
    for kind in ("heading_open", "bullet_list_open", "ordered_list_open", "blockquote_open"):
        assert kind in kinds
    assert "table_open" in kinds and "fence" in kinds
    fence = next(t for t in _READER.parse(out) if t.type == "fence")
    assert fence.content == "print('<script>![x](http://e/x.png)')\n" and fence.info == "python"
    inline = [t.type for t in _tokens(_READER.parse(out)) if t.type.endswith("_open")]
    assert {"em_open", "strong_open", "s_open"} <= set(inline)
    code = [t.content for t in _tokens(_READER.parse(out)) if t.type == "code_inline"]
    assert code == ["a <b> c"]


@pytest.mark.parametrize(
    "code",
    ["a ` b", "``", "` x `", "````x```", "|pipe|"],
    ids=["tick", "ticks", "spaced", "runs", "pipe"],
)
def test_code_spans_with_backticks_stay_code(code: str) -> None:
    source = "x " + "`" * 5 + " " + code + " " + "`" * 5 + " y"
    out = safe_markdown(source)
    spans = [t.content for t in _tokens(_READER.parse(out)) if t.type == "code_inline"]
    assert spans == [code]


def test_unclosed_fence_runs_to_the_end_and_stays_code() -> None:
    out = safe_markdown("```\n<b>\n![x](http://e/x.png)\n")
    fence = [t for t in _READER.parse(out) if t.type == "fence"]
    assert len(fence) == 1 and fence[0].content == "<b>\n![x](http://e/x.png)\n"


# Characters that mean something to Markdown, HTML, Streamlit or KaTeX.
_ALPHABET = [*"ab !*_`[]()<>\\\n#-+|~:$&;./=\"'\t1", "![x](http://e/i.png)", "<img src=x>"]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(_ALPHABET), max_size=40).map("".join))
def test_no_input_gets_an_image_or_html_through(text: str) -> None:
    assert _dangers(safe_markdown(text)) == []


@pytest.mark.parametrize(
    "text",
    ["x" + "`" * 100_000, "`a" * 50_000, "[" * 50_000, "*a" * 30_000, "<" * 100_000, "> " * 20_000],
    ids=["backticks", "tick-runs", "brackets", "stars", "angles", "quotes"],
)
def test_long_pathological_input_finishes(text: str) -> None:
    # Run in a child with a generous limit: a quadratic scan of 100k backticks took
    # minutes with the old sanitiser; linear time is well under a second here.
    program = (
        "import sys; from arena.service.markdown import safe_markdown; "
        "sys.stdout.write(str(len(safe_markdown(sys.stdin.read()))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], input=text, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0
