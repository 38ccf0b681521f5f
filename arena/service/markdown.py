r"""Make model answers and prompts safe to render as Markdown in the browser.

Answers are shown as Markdown (headings, lists, code, tables), but nothing in them may
make the visitor's browser fetch anything or run anything: an image would leak the
voter's address to whoever runs the image's server (and could carry a model's name past
the identity-leak rule), raw HTML could load ``<img>``, ``<iframe>``, SVG or CSS
``url()``, and a ``javascript:`` link runs script when clicked.

So the text is not patched with regular expressions (which never see it the way a
Markdown renderer does); it is **parsed** with a CommonMark parser (markdown-it-py, GFM
tables and strike-through on, raw HTML off) and **written out again** from the parse
tree, in a canonical Markdown that Streamlit's renderer reads the same way:

* every character of text is written as text: ASCII punctuation is backslash-escaped
  (CommonMark's escapes), so no ``<``, ``!``, ``[``, ``*``, ``$``, ``:`` or ``|`` in an
  answer can start a construct the parser did not see (raw HTML, images, links, math,
  Streamlit's ``:color[...]`` directives);
* images become plain links whose text is ``image: <alt>`` (or only that text, when the
  address is not ``http``/``https``): visible, never loaded;
* links keep only ``http``, ``https`` and ``mailto`` targets, percent-encoded inside
  ``<...>``; any other scheme (``javascript:``, ``data:``, ``vbscript:``, ``file:``...)
  leaves the link's text alone; titles are dropped;
* raw HTML (blocks and inline) is shown as its source text;
* code (fenced, indented, inline) is kept verbatim, inside a fence or backtick string
  longer than any run of backticks in it, so it cannot close early.

The parser runs in time linear in the input (no quadratic backtick scan), and the
rewriting is one walk over the tokens.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["SAFE_SCHEMES", "safe_markdown"]

#: Link schemes kept as links (all others are shown as text).
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})

# CommonMark's parser with GitHub's tables and strike-through (which Streamlit renders
# too); raw HTML off, so tags are text tokens; nesting capped (markdown-it's default).
_PARSER = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
_BACKTICKS = re.compile(r"`+")
_INFO = re.compile(r"[^A-Za-z0-9_+.#-]")


def _text(value: str) -> str:
    """Text as Markdown text: every ASCII punctuation escaped, line ends as spaces."""
    return _PUNCT.sub(r"\\\1", value.replace("\r", " ").replace("\n", " "))


def _longest_backtick_run(value: str) -> int:
    return max((len(m) for m in _BACKTICKS.findall(value)), default=0)


def _code_span(value: str) -> str:
    """An inline code span showing ``value`` verbatim."""
    value = value.replace("\n", " ")
    runs = {len(m) for m in _BACKTICKS.findall(value)}
    ticks = 1
    while ticks in runs:
        ticks += 1
    fence = "`" * ticks
    if not value.strip(" "):
        value = value or " "  # an empty span would be two backtick strings joined
        return f"{fence}{value}{fence}"
    if value.startswith("`") or value.endswith("`") or (value[0] == " " and value[-1] == " "):
        value = f" {value} "  # CommonMark strips one space from each side
    return f"{fence}{value}{fence}"


def _safe_href(href: str) -> str | None:
    """The link target to keep (percent-encoded by the parser), or None to drop it."""
    href = href.strip()
    try:
        scheme = urlsplit(href).scheme.lower()
    except ValueError:
        return None
    if scheme not in SAFE_SCHEMES:
        return None
    if any(c in href for c in "<>\n\r\\ ") or any(ord(c) < 0x20 for c in href):
        return None  # the parser encodes these; anything else is not a plain URL
    return href


def _plain(tokens: Sequence[Token]) -> str:
    """The visible text of inline tokens (for an image's alt text)."""
    out: list[str] = []
    for token in tokens:
        if token.type in ("text", "code_inline"):
            out.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif token.type == "image":
            out.append(_plain(token.children or []))
    return "".join(out)


def _inline(tokens: Sequence[Token], *, in_table: bool = False) -> str:
    """Render the children of an ``inline`` token as safe Markdown (one logical line)."""
    out: list[str] = []
    links: list[str | None] = []  # kept targets of the open links (None: shown as text)
    for token in tokens:
        kind = token.type
        if kind == "text":
            out.append(_text(token.content))
        elif kind == "code_inline":
            span = _code_span(token.content)
            out.append(span.replace("|", "\\|") if in_table else span)
        elif kind == "softbreak":
            if out:
                out[-1] = out[-1].rstrip(" ")  # (trailing spaces would make a hard break)
            out.append("\n")
        elif kind == "hardbreak":
            out.append("\\\n")
        elif kind in ("em_open", "em_close", "strong_open", "strong_close"):
            out.append(token.markup if token.markup in ("*", "_", "**", "__") else "*")
        elif kind in ("s_open", "s_close"):
            out.append("~~")
        elif kind == "link_open":
            target = _safe_href(str(token.attrGet("href") or ""))
            if links and links[-1] is not None:
                target = None  # (the parser never nests links; never write one either)
            links.append(target)
            if target is not None:
                out.append("[")
        elif kind == "link_close":
            target = links.pop() if links else None
            if target is not None:
                out.append(f"](<{target}>)")
        elif kind == "image":
            alt = _text("image: " + _plain(token.children or []).strip())
            target = _safe_href(str(token.attrGet("src") or ""))
            inside_link = any(link is not None for link in links)
            if target is None or inside_link or urlsplit(target).scheme == "mailto":
                out.append(alt)
            else:
                out.append(f"[{alt}](<{target}>)")
        else:  # html_inline cannot occur with html off; anything unknown: its source
            out.append(_text(token.content))
    return "".join(out)


@dataclass
class _Block:
    """A block being written: its lines, and the lines of its children."""

    lines: list[str] = field(default_factory=list)


def _indent(lines: list[str], first: str, rest: str) -> list[str]:
    out = []
    for i, line in enumerate(lines):
        prefix = first if i == 0 else rest
        out.append((prefix + line) if line else prefix.rstrip())
    return out


def _fence(content: str, info: str) -> list[str]:
    ticks = "`" * max(3, _longest_backtick_run(content) + 1)
    lang = _INFO.sub("", info.split()[0])[:32] if info.strip() else ""
    body = content[:-1] if content.endswith("\n") else content
    return [f"{ticks}{lang}", *body.split("\n"), ticks]


def _table(tokens: Sequence[Token], start: int) -> tuple[list[str], int]:
    """Render the table starting at ``tokens[start]``; returns its lines and the next index."""
    rows: list[list[str]] = []
    aligns: list[str] = []
    i = start + 1
    header_rows = 0
    while tokens[i].type != "table_close":
        token = tokens[i]
        if token.type == "tr_open":
            rows.append([])
        elif token.type in ("th_open", "td_open"):
            if token.type == "th_open":
                style = str(token.attrGet("style") or "")
                aligns.append(style.removeprefix("text-align:"))
        elif token.type == "inline":
            rows[-1].append(_inline(token.children or [], in_table=True).replace("\n", " "))
        elif token.type == "thead_close":
            header_rows = len(rows)
        i += 1
    width = max((len(r) for r in rows), default=1)
    marks = {"left": ":--", "right": "--:", "center": ":-:"}
    delimiter = [marks.get(a, "---") for a in aligns] + ["---"] * (width - len(aligns))
    lines = []
    for n, row in enumerate(rows):
        cells = row + [""] * (width - len(row))
        lines.append("| " + " | ".join(c or " " for c in cells) + " |")
        if n + 1 == max(header_rows, 1):
            lines.append("| " + " | ".join(delimiter[:width]) + " |")
    return lines, i + 1


def _blocks(tokens: Sequence[Token], start: int, end_type: str | None) -> tuple[list[str], int]:
    """Render block tokens from ``start`` up to the closing ``end_type``; blank-line separated.

    Returns the lines and the index after the closing token.
    """
    pieces: list[list[str]] = []
    tight = False
    i = start
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if end_type is not None and kind == end_type:
            i += 1
            break
        if kind == "paragraph_open":
            tight = tight or token.hidden
            inline = tokens[i + 1]
            pieces.append(_inline(inline.children or []).split("\n"))
            i += 3
        elif kind == "heading_open":
            level = int(token.tag[1])
            text = _inline(tokens[i + 1].children or []).replace("\n", " ")
            pieces.append(["#" * level + " " + text])
            i += 3
        elif kind in ("fence", "code_block"):
            pieces.append(_fence(token.content, token.info if kind == "fence" else ""))
            i += 1
        elif kind == "hr":
            pieces.append(["---"])
            i += 1
        elif kind == "html_block":  # never with html off; were it on: its source, as text
            source = [_text(x) for x in token.content.rstrip("\n").split("\n")]
            pieces.append([x + "\\" for x in source[:-1]] + source[-1:])
            i += 1
        elif kind == "blockquote_open":
            inner, i = _blocks(tokens, i + 1, "blockquote_close")
            pieces.append(_indent(inner or [""], "> ", "> "))
        elif kind in ("bullet_list_open", "ordered_list_open"):
            lines, i = _list(tokens, i)
            pieces.append(lines)
        elif kind == "table_open":
            lines, i = _table(tokens, i)
            pieces.append(lines)
        else:  # an inline token outside a paragraph, or anything unknown: skip it
            i += 1
    out: list[str] = []
    for n, piece in enumerate(pieces):
        if n and not (tight and end_type == "list_item_close"):
            out.append("")
        out.extend(piece)
    return out, i


def _list(tokens: Sequence[Token], start: int) -> tuple[list[str], int]:
    opening = tokens[start]
    ordered = opening.type == "ordered_list_open"
    close = "ordered_list_close" if ordered else "bullet_list_close"
    number = int(opening.attrGet("start") or 1) if ordered else 0
    items: list[list[str]] = []
    i = start + 1
    while tokens[i].type != close:
        if tokens[i].type == "list_item_open":
            inner, i = _blocks(tokens, i + 1, "list_item_close")
            marker = f"{number + len(items)}." if ordered else "-"
            items.append(_indent(inner or [""], marker + " ", " " * (len(marker) + 1)))
        else:
            i += 1
    # Loose (blank lines between items) when the parser did not hide the paragraphs.
    loose = any(
        t.type == "paragraph_open" and t.level == opening.level + 2 and not t.hidden
        for t in tokens[start:i]
    )
    lines: list[str] = []
    for n, item in enumerate(items):
        if n and loose:
            lines.append("")
        lines.extend(item)
    return lines, i + 1


@functools.lru_cache(maxsize=512)
def safe_markdown(text: str) -> str:
    """Return ``text`` as Markdown that shows the same content and fetches nothing.

    See the module docstring for what is kept and how. Never raises on any string.
    Cached: every rerun of a page draws the round's answers again (parsing costs about
    5 microseconds a character, in pure Python).
    """
    tokens = _PARSER.parse(text.replace("\x00", "\ufffd"))
    lines, _ = _blocks(tokens, 0, None)
    return "\n".join(lines)
