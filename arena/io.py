"""File helpers every layer shares: atomic writes, file hashes, JSON Lines, the resume check.

Also the escaping of text put into the LaTeX tables we write (leaderboards, eval
results). Each was written two or three times (exports, harness, backends, battle
readers), or lived in the leaderboard exports and was imported from there by the
harness; here they are written once, with the standard library only, so that any package may import
this module without pulling in pandas, the store or a report. Errors a user can cause
(a missing directory, a bad line in a JSON Lines file, ``--resume`` on the wrong folder)
come out as :class:`~arena.errors.UserError` or :class:`JsonlLineError`, which callers
turn into their own messages.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, overload

from arena.errors import UserError

__all__ = [
    "RUN_FILE",
    "JsonlLineError",
    "atomic_path",
    "changed_setting",
    "file_sha256",
    "iter_jsonl",
    "latex_escape",
    "refuse_changed_settings",
    "resume_file",
    "write_atomic",
]

#: Name of the settings file of a run directory (``arena eval``, ``arena judge``).
RUN_FILE = "run.json"

_BLOCK = 1 << 20  # 1 MiB: hashing reads files in blocks of this size


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it when the ``with`` block succeeds.

    For writers that stream (a Parquet writer, a CSV of a million votes): the block writes
    the whole file at the yielded path, which is then flushed to disk and moved over
    ``path`` with :func:`os.replace` (same directory, so atomic). Readers see the old file
    or the new one, never half; if the block raises, the temporary file is removed and
    ``path`` is untouched. The writer creates the file as it likes (an ordinary
    :func:`open` gives mode 0o666 filtered by the umask).

    Raises
    ------
    UserError
        If the directory does not exist, ``path`` is a directory, or the file system
        refuses the write (an :class:`OSError` in the block or in the replace).
    """
    path = Path(path)
    directory = path.parent
    if not directory.is_dir():
        raise UserError(f"cannot write {path}: directory {directory} does not exist")
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a directory")
    tmp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        try:
            yield tmp
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    See :func:`atomic_path` (the temporary file is new: ``O_EXCL``, mode 0o666 filtered
    by the umask, like an ordinary new file).

    Raises
    ------
    UserError
        If the directory does not exist or the file cannot be written.
    """
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)


def file_sha256(path: Path | str) -> str:
    """SHA-256 (hex) of a file's bytes as stored, read in 1 MiB blocks.

    Raises :class:`OSError` (``FileNotFoundError`` included) for the caller to name in
    its own terms (a battle file, model weights, a suite's data file).
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class JsonlLineError(ValueError):
    """A line of a JSON Lines file that is not one JSON object.

    Attributes
    ----------
    line:
        Its number, counting from 1.
    problem:
        What is wrong, e.g. ``not valid JSON (Expecting value, column 1)``.
    invalid:
        True when the line is not JSON syntax at all (a reader may then try the whole
        text as one pretty-printed document); False for a line of valid syntax that hit
        a safety limit or is not an object.
    """

    def __init__(self, line: int, problem: str, *, invalid: bool = False) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem
        self.invalid = invalid


@overload
def iter_jsonl(
    lines: Iterable[str], *, skip: int = 0, objects_only: Literal[True] = True
) -> Iterator[tuple[int, dict[str, Any]]]: ...
@overload
def iter_jsonl(
    lines: Iterable[str], *, skip: int = 0, objects_only: Literal[False]
) -> Iterator[tuple[int, Any]]: ...
def iter_jsonl(
    lines: Iterable[str], *, skip: int = 0, objects_only: bool = True
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line number, value)`` for each non-blank line of a JSON Lines text.

    ``skip`` leaves out that many first lines (header rows). Blank lines are passed over.
    ``objects_only`` (the default) requires every value to be a JSON object; a caller
    that reports other values in its own terms (which row, which field) passes False.

    Raises
    ------
    JsonlLineError
        At the first line that is not valid JSON, is nested too deeply or holds a number
        too long to parse (a hostile file), or (``objects_only``) is not an object.
    """
    for number, line in enumerate(lines, start=1):
        if number <= skip or not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problem = f"not valid JSON ({exc.msg}, column {exc.colno})"
            raise JsonlLineError(number, problem, invalid=True) from None
        except RecursionError:
            raise JsonlLineError(number, "not valid JSON (nested too deeply)") from None
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            raise JsonlLineError(number, f"cannot be read as JSON ({exc})") from None
        if objects_only and not isinstance(obj, dict):
            raise JsonlLineError(number, "expected a JSON object")
        yield number, obj


def resume_file(output: Path, *, resume: bool, what: str = "run") -> Path | None:
    """Check a run directory against ``--resume``; the settings file to compare, or None.

    A directory holding :data:`RUN_FILE` is a run: it may only be continued with
    ``resume`` (the caller then compares its settings, e.g. with :func:`changed_setting`).
    A directory without one starts a new run (None), and ``resume`` there is a mistake.
    ``what`` names the run in the messages (``run``, ``judge run``).

    Raises
    ------
    UserError
        A run is there and ``resume`` is not set, or ``resume`` is set and none is there.
    """
    run_file = output / RUN_FILE
    if run_file.exists():
        if not resume:
            raise UserError(
                f"{output} holds a {what} already: add --resume to continue it, "
                "or choose another --output"
            )
        return run_file
    if resume:
        raise UserError(f"--resume: {output} holds no {what} to resume (no {RUN_FILE})")
    return None


def changed_setting(before: Mapping[str, Any], now: Mapping[str, Any]) -> str | None:
    """The first key (in sorted order) whose value differs between two runs' settings."""
    for key in sorted(set(before) | set(now)):
        if before.get(key) != now.get(key):
            return key
    return None


def refuse_changed_settings(
    run_file: Path, before: Mapping[str, Any], now: Mapping[str, Any], *, advice: str
) -> None:
    """Refuse to resume a run whose settings (``now``) differ from the stored ``before``.

    The message names the first differing key, both values and ``advice`` (what to do).

    Raises
    ------
    UserError
        Some setting differs.
    """
    key = changed_setting(before, now)
    if key is not None:
        raise UserError(
            f"--resume: this run's '{key}' differs from the one in {run_file} "
            f"({before.get(key)!r} there, {now.get(key)!r} now); {advice}"
        )


_LATEX_SPECIAL: dict[str, str] = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "|": r"\textbar{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_LATEX_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters in ``text`` (in one pass, so escapes stay intact).

    Line breaks become spaces: a table cell is one line.
    """
    flat = " ".join(str(text).splitlines())
    return _LATEX_SPECIAL_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], flat)
