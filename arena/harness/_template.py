r"""Prompt templates: ``{field}`` placeholders filled from a data row, with named filters.

A template is plain text with placeholders, never code::

    "The following are multiple choice questions (with answers) about {topic|spaces}.\n\n"
    "{question|strip}\nA. {choices[0]}\nB. {choices[1]}\n..."

A placeholder is a field path (``name``, ``name.key``, ``name[0]``) followed by zero or more
``|filter`` names from :data:`FILTERS`. ``{{`` and ``}}`` write literal braces. Templates are
parsed when the suite is loaded, so a syntax error or an unknown filter is reported with the
suite file and field before any model runs; a field missing from a row is reported when the
first row is rendered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FILTERS", "Template", "TemplateError"]


class TemplateError(ValueError):
    """A template that cannot be parsed or rendered; the suite loader adds file and field."""


def _letter(value: Any) -> str:
    return chr(ord("A") + int(value))


#: Filters a placeholder may apply, by name: pure functions of one value.
FILTERS: dict[str, Callable[[Any], Any]] = {
    "strip": lambda v: str(v).strip(),
    "lower": lambda v: str(v).lower(),
    "upper": lambda v: str(v).upper(),
    "capitalize": lambda v: str(v)[:1].upper() + str(v)[1:],
    "spaces": lambda v: str(v).replace("_", " "),
    "letter": _letter,
    "str": str,
}

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(-?\d+)\]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class _Field:
    root: str
    steps: tuple[str | int, ...]
    filters: tuple[str, ...]
    text: str

    def get(self, row: Mapping[str, Any]) -> Any:
        if self.root not in row:
            keys = ", ".join(sorted(map(str, row))[:20])
            raise TemplateError(f"the data row has no field '{self.root}' (it has: {keys})")
        value: Any = row[self.root]
        for step in self.steps:
            try:
                value = value[step]
            except (KeyError, IndexError, TypeError):
                raise TemplateError(
                    f"'{{{self.text}}}': cannot take {step!r} of {type(value).__name__} "
                    f"{_short(value)}"
                ) from None
        for name in self.filters:
            value = FILTERS[name](value)
        return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_field(text: str) -> _Field:
    expr, *filters = (part.strip() for part in text.split("|"))
    m = _NAME.match(expr)
    if not m:
        raise TemplateError(f"'{{{text}}}': expected a field name such as {{question}}")
    steps: list[str | int] = []
    pos = m.end()
    while pos < len(expr):
        s = _STEP.match(expr, pos)
        if not s:
            raise TemplateError(
                f"'{{{text}}}': expected .key or [index] after '{expr[:pos]}', got '{expr[pos:]}'"
            )
        steps.append(s.group(1) if s.group(1) is not None else int(s.group(2)))
        pos = s.end()
    for name in filters:
        if name not in FILTERS:
            raise TemplateError(
                f"'{{{text}}}': unknown filter '{name}'; expected one of "
                f"{', '.join(sorted(FILTERS))}"
            )
    return _Field(m.group(0), tuple(steps), tuple(filters), text)


class Template:
    """A parsed template; :meth:`render` fills it from a row.

    Parameters
    ----------
    source:
        The template text.

    Raises
    ------
    TemplateError
        For an unbalanced brace, a malformed placeholder or an unknown filter.
    """

    def __init__(self, source: str):
        self.source = source
        parts: list[str | _Field] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(source):
            parts.append(source[pos : m.start()])
            token = m.group(0)
            if token == "{{":
                parts.append("{")
            elif token == "}}":
                parts.append("}")
            elif m.group(1) is None:
                raise TemplateError(
                    f"unbalanced '{token}' at character {m.start()}: write '{token * 2}' "
                    "for a literal brace"
                )
            else:
                parts.append(_parse_field(m.group(1)))
            pos = m.end()
        parts.append(source[pos:])
        self._parts = tuple(p for p in parts if p != "")

    @property
    def fields(self) -> tuple[str, ...]:
        """The row fields the template reads."""
        return tuple(dict.fromkeys(p.root for p in self._parts if isinstance(p, _Field)))

    def render(self, row: Mapping[str, Any]) -> str:
        """The template filled from ``row``."""
        return "".join(p if isinstance(p, str) else str(p.get(row)) for p in self._parts)

    def value(self, row: Mapping[str, Any]) -> Any:
        """A template that is one placeholder alone gives the value itself (a list, a number)."""
        if len(self._parts) == 1 and isinstance(self._parts[0], _Field):
            return self._parts[0].get(row)
        return self.render(row)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"
