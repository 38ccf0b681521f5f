"""One table renderer: Markdown and LaTeX tables from a header and rows, and format checks.

Leaderboard exports, run results, judge and ratings reports and pairwise matrices all
print tables; they build their cells (numbers formatted as each wants) and hand them here,
so that escaping (a model name is user input: ``|``, markup, newlines, LaTeX specials)
and layout are written once. No dependencies beyond the standard library.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from arena.errors import UserError
from arena.io import latex_escape

__all__ = [
    "FILE_SUFFIXES",
    "check_format",
    "format_from_suffix", "latex_tabular", "markdown_table", "md_escape", "md_row"]

_MD_SPECIAL_RE = re.compile(r"([\\|*`<\[\]])")

#: The output format each file suffix names (lower case), for every writer we have: the
#: leaderboard exports, run results, the votes export. Each writer accepts its own subset.
FILE_SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".md": "md",
    ".markdown": "md",
    ".tex": "latex",
    ".latex": "latex",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def format_from_suffix(path: str | os.PathLike[str], formats: Sequence[str]) -> str | None:
    """The format of ``formats`` that ``path``'s suffix names (case-insensitive), else None.

    Lets a command infer ``--format`` from ``--output``; None (an unknown suffix, or one
    naming a format this writer does not have) leaves the choice to the caller.
    """
    fmt = FILE_SUFFIXES.get(Path(path).suffix.lower())
    return fmt if fmt in formats else None


def check_format(fmt: str, formats: Sequence[str], what: str) -> str:
    """``fmt`` lower-cased if it is one of ``formats``; else a :class:`UserError` naming them.

    ``what`` names the output in the message, e.g. ``"export"`` or ``"results"``.
    """
    norm = str(fmt).lower()
    if norm not in formats:
        raise UserError(f"unknown {what} format '{fmt}'; expected one of {', '.join(formats)}")
    return norm


def md_escape(text: str) -> str:
    """Make ``text`` safe in a GitHub table cell: ``|`` and inline markup escaped, one line."""
    return _MD_SPECIAL_RE.sub(r"\\\1", " ".join(str(text).splitlines()))


def md_row(cells: Sequence[str]) -> str:
    """Join already-escaped cells into one Markdown table row."""
    return "| " + " | ".join(cells) + " |"


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], align: str, *, escape: bool = True
) -> list[str]:
    """A Markdown table's lines; ``align`` has one ``l`` or ``r`` per column.

    With ``escape`` every header and body cell goes through :func:`md_escape`; pass False
    for cells that are already Markdown (escaped by the caller, or inline code).
    """
    if len(align) != len(header):
        raise ValueError(f"align has {len(align)} columns, the header {len(header)}")
    fix = md_escape if escape else str
    rule = ["---:" if a == "r" else "---" for a in align]
    return [
        md_row([fix(h) for h in header]),
        md_row(rule),
        *(md_row([fix(c) for c in row]) for row in rows),
    ]


def latex_tabular(
    header: Sequence[str], rows: Sequence[Sequence[str]], align: str, *, escape: bool = True
) -> list[str]:
    r"""A booktabs ``tabular`` environment's lines (needs ``\usepackage{booktabs}``).

    With ``escape`` every cell goes through :func:`arena.io.latex_escape`; pass False for
    cells that already hold LaTeX (e.g. ``$^{+x}_{-y}$`` intervals).
    """
    fix = latex_escape if escape else str
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\toprule"]
    lines += [" & ".join(fix(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(fix(c) for c in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return lines
