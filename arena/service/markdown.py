r"""Make model answers and prompts safe to render as Markdown in the browser.

Answers are shown as Markdown (headings, lists, code) but raw HTML in them must stay
text: ``<script>`` or ``<img src=x onerror=...>`` in an answer must never become an
element. Streamlit already renders Markdown without raw HTML unless told otherwise (the
web app never is); this function is a second guard that does not depend on it:

* outside code, every ``<`` is backslash-escaped, so no HTML tag, comment or autolink
  can start (CommonMark shows ``\<`` as a literal ``<``);
* inside fenced code blocks and inline code spans nothing changes: Markdown shows code
  verbatim, as text;
* images (``![alt](url)``) become literal text, so an answer cannot make the visitor's
  browser fetch an outside URL;
* link targets using ``javascript:``, ``vbscript:`` or ``data:`` are neutralised.
"""

from __future__ import annotations

import re

__all__ = ["safe_markdown"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CLOSING = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")
_CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_BAD_SCHEME = re.compile(r"(?i)\]\(\s*<?\s*(javascript|vbscript|data)\s*:")


def _escape_prose(text: str) -> str:
    text = text.replace("<", "\\<")
    text = text.replace("![", "!\\[")
    return _BAD_SCHEME.sub(lambda m: "](#blocked-" + m.group(1).lower() + "-", text)


def _escape_inline(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_escape_prose(text[pos : match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(_escape_prose(text[pos:]))
    return "".join(out)


def _closes(line: str, fence: str) -> bool:
    match = _CLOSING.match(line)
    if match is None:
        return False
    marker = match.group(1)
    return marker[0] == fence[0] and len(marker) >= len(fence)


def safe_markdown(text: str) -> str:
    """Return ``text`` with raw HTML, images and script links neutralised (see module)."""
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None

    def flush() -> None:
        if prose:
            out.append(_escape_inline("\n".join(prose)))
            prose.clear()

    for line in text.split("\n"):
        if fence is None:
            match = _FENCE.match(line)
            if match:
                flush()
                fence = match.group(1)
                out.append(line)
            else:
                prose.append(line)
        else:
            out.append(line)
            if _closes(line, fence):
                fence = None
    flush()
    return "\n".join(out)
