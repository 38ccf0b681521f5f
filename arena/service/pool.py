"""The models this server process can run: one backend each, loaded in the background.

The pool is made from the models file. Each backend is created at once (cheap) and
starts loading in a daemon thread (:meth:`Backend.load_async`), so the web page answers
while weights load. A model is ``loading`` until its backend is ready, ``ready`` after,
or ``failed`` (a missing package, missing weights, ...) with the reason, which only the
admin page shows. A failed model is never drawn for a battle; the others keep serving.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import Any, Literal

from arena.backends import Backend, ModelConfig, create_backend
from arena.errors import UserError

__all__ = ["ModelPool", "ModelState", "model_spec"]

log = logging.getLogger(__name__)

State = Literal["loading", "ready", "failed"]


@dataclass(frozen=True)
class ModelState:
    """Where one model stands in this process: ``loading``, ``ready`` or ``failed``."""

    name: str
    state: State
    error: str | None = None


def model_spec(config: ModelConfig) -> dict[str, Any]:
    """The store's model entry (:class:`arena.store.ModelSpec` keys) for a models-file entry."""
    options = asdict(config.options) if config.options is not None else {}
    return {
        "name": config.name,
        "display_name": config.display_name or config.name,
        "organization": config.organization or None,
        "licence": config.licence or None,
        "backend": {"backend": config.backend, "source": config.source, **options},
        "codename": config.codename,
        "active": True,
        "sampling_weight": float(config.weight),
        "family": config.family or None,
    }


class ModelPool:
    """Backends by model name, with their loading state.

    Parameters
    ----------
    configs:
        The models file's entries.
    backends:
        Ready-made backends by name (tests); the others are created from ``configs``.
    load:
        Start loading every backend in the background now.
    """

    def __init__(
        self,
        configs: Sequence[ModelConfig],
        *,
        backends: Mapping[str, Backend] | None = None,
        load: bool = True,
    ) -> None:
        self.configs = {c.name: c for c in configs}
        self._backends: dict[str, Backend] = {}
        self._futures: dict[str, Future[None]] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()
        given = dict(backends or {})
        for config in configs:
            try:
                backend = given.pop(config.name, None) or create_backend(config)
            except UserError as error:
                log.warning("model %s cannot be used: %s", config.name, error)
                self._errors[config.name] = str(error)
                continue
            self._backends[config.name] = backend
        for name, backend in given.items():  # backends without a models-file entry
            self._backends[name] = backend
        if load:
            self.load_all()

    def load_all(self) -> None:
        """Start loading every backend in the background (once)."""
        for name, backend in self._backends.items():
            with self._lock:
                if name in self._futures:
                    continue
                future = backend.load_async()
                self._futures[name] = future
            future.add_done_callback(functools.partial(self._loaded, name))

    def _loaded(self, name: str, future: Future[None]) -> None:
        error = future.exception()
        if error is not None:
            log.warning("model %s failed to load: %s", name, error)
            with self._lock:
                self._errors[name] = str(error)

    @property
    def names(self) -> tuple[str, ...]:
        """Every model of the models file (failed ones included)."""
        return tuple(self.configs)

    def state(self, name: str) -> ModelState:
        """The state of one model (``failed`` for names this process does not know)."""
        with self._lock:
            error = self._errors.get(name)
        if error is not None:
            return ModelState(name, "failed", error)
        backend = self._backends.get(name)
        if backend is None:
            return ModelState(name, "failed", "not in this server's models file")
        return ModelState(name, "ready" if backend.ready else "loading")

    def states(self) -> list[ModelState]:
        """States of every model of the models file, in file order."""
        return [self.state(n) for n in self.configs]

    def usable(self, names: Iterable[str]) -> set[str]:
        """The names among ``names`` whose backend exists and has not failed."""
        return {n for n in names if self.state(n).state != "failed"}

    def backend(self, name: str) -> Backend | None:
        """The backend of ``name`` unless it failed or is unknown."""
        return None if self.state(name).state == "failed" else self._backends.get(name)

    def close(self) -> None:
        """Release every backend."""
        for backend in self._backends.values():
            try:
                backend.close()
            except Exception:  # closing is best effort
                log.exception("closing a backend failed")
