"""Errors a user can cause: the CLI prints them as one line, without a traceback."""

from __future__ import annotations

__all__ = ["BattleFileError", "UserError"]


class UserError(Exception):
    """A problem with something the user supplied (file, flag, form field, ...).

    The message must say what was wrong and, where it helps, what was expected.
    """


class BattleFileError(UserError):
    """A battle file that cannot be read.

    The message names the file, the row or column, and what was expected.
    """

    def __init__(
        self, path: str, problem: str, *, row: int | None = None, column: str | None = None
    ):
        self.path = path
        self.row = row
        self.column = column
        self.problem = problem
        where = path
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {problem}")
