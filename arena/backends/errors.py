"""Errors raised by model backends and by the models file.

Every class here is a :class:`arena.errors.UserError`, so the CLI prints it as one line.
Callers that want to retry (the web app, the harness) catch :class:`BackendUnavailable`,
which marks a failure that may go away by itself (server down, overloaded, timed out).
"""

from __future__ import annotations

from arena.errors import UserError

__all__ = [
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "InvalidParams",
    "MissingDependency",
    "ModelsFileError",
    "RequestRejected",
    "UnsupportedOperation",
]


class BackendError(UserError):
    """A model could not do what was asked: names the model, the operation and the problem.

    Parameters
    ----------
    model:
        The model's name in the models file.
    operation:
        What was being done: ``"load"``, ``"generate"``, ``"complete"``,
        ``"loglikelihood"``, ``"configure"``.
    problem:
        What went wrong and, where it helps, what to do about it.
    status:
        The HTTP status of a server's refusal, when there was one.
    """

    def __init__(self, model: str, operation: str, problem: str, *, status: int | None = None):
        self.model = model
        self.operation = operation
        self.problem = problem
        self.status = status
        super().__init__(f"model '{model}' ({operation}): {problem}")


class UnsupportedOperation(BackendError):
    """The backend cannot do this operation at all (e.g. log-likelihoods from a replay file)."""


class RequestRejected(BackendError):
    """The server refused the request for good (HTTP 4xx but 429): sent again, it fails again.

    :attr:`status` is the HTTP status. 401 and 403 say every request to this server fails
    the same way (key, permission); 400, 404 and 422 may be about this request alone (a
    prompt too long) or about all of them (a wrong model id, a field the server does not
    take). Nobody retries it; the harness stops sending when the first requests all fail
    this way.
    """


class BackendUnavailable(BackendError):
    """A failure that may pass: connection refused, timeouts, HTTP 429/5xx after all retries."""


class BackendTimeout(BackendUnavailable):
    """The backend did not answer within its time limit."""


class InvalidParams(UserError, ValueError):
    """Sampling parameters or messages no backend can honour (negative temperature, ...)."""


class MissingDependency(UserError):
    """A package a backend needs is not installed; the message is a one-line install hint."""

    def __init__(self, backend: str, package: str, extra: str | None):
        self.backend = backend
        self.package = package
        self.extra = extra
        hint = f"pip install 'arena[{extra}]'" if extra else f"pip install {package}"
        super().__init__(
            f"the '{backend}' backend needs the Python package '{package}', which is not "
            f"installed: {hint}"
        )


class ModelsFileError(UserError):
    """A models file that cannot be used: names the file, entry, field and what was expected.

    Parameters
    ----------
    path:
        The models file.
    problem:
        What was wrong and what was expected.
    index:
        1-based position of the ``[[models]]`` entry, when the problem is in one.
    name:
        That entry's ``name``, when it has a readable one.
    field:
        The offending key, when there is one.
    """

    def __init__(
        self,
        path: str,
        problem: str,
        *,
        index: int | None = None,
        name: str | None = None,
        field: str | None = None,
    ):
        self.path = path
        self.problem = problem
        self.index = index
        self.name = name
        self.field = field
        where = path
        if index is not None:
            where += f", model #{index}"
            if name:
                where += f" ('{name}')"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}")
