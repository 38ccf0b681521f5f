"""The models this server process can run: one backend each, loaded in the background.

The pool is made from the models file. Making the pool costs nothing: the backends are
*created* in a background thread (``model-pool``, one after another), which then starts
each model's load in its own daemon thread (:class:`DeferredBackend`). Creating a
backend imports its implementation, and for a local model that is torch and
transformers (seconds, more on a busy machine); created in the page's thread, as they
once were, they held the first page of ``arena serve`` for about 12 s. A model is
``loading`` until its backend is created and ready, ``ready`` after, or ``failed`` (a
missing package, missing weights, ...) with the reason, which only the admin page shows.
A failed model is never drawn for a battle; the others keep serving.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import Any, Literal, Self

from arena.backends import (
    Backend,
    BackgroundLoad,
    LogLikelihood,
    Message,
    ModelConfig,
    ModelInfo,
    SamplingParams,
    create_backend,
)

__all__ = ["DeferredBackend", "ModelPool", "ModelState", "model_spec"]

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


class DeferredBackend:
    """A model's backend, created on first need (the pool's thread), then delegated to.

    It is a :class:`~arena.backends.Backend` itself, so a battle can be set up with a
    model whose backend does not exist yet: :attr:`ready` is False until the backend is
    created and loaded, and every operation first waits for the creation (in the
    battle's own worker thread, never the page's). A creation that fails (a missing
    package: :class:`~arena.backends.MissingDependency`, a bad setting) fails
    :meth:`load` and every later call with the same error, without trying again.
    Attributes a backend adds (``load_seconds``, ``loaded_from_cache``, ...) are read
    from it once it exists.

    Parameters
    ----------
    config:
        The models file's entry.
    create:
        Makes the backend (:func:`arena.backends.create_backend`; tests pass their own).
    """

    def __init__(
        self, config: ModelConfig, create: Callable[[ModelConfig], Backend] = create_backend
    ) -> None:
        self._config = config
        self._create = create
        self._lock = threading.Lock()  # held while the backend is being created
        self._backend: Backend | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._background = BackgroundLoad()

    def _made(self) -> Backend:
        """The backend, created now if it is not yet (blocking; once, even on failure)."""
        backend = self._backend
        if backend is not None:
            return backend
        with self._lock:
            if self._backend is not None:
                return self._backend
            if self._error is not None:
                raise self._error
            try:
                backend = self._create(self._config)
            except BaseException as error:
                self._error = error
                raise
            if self._closed:  # closed while it was being created: release it at once
                backend.close()
            self._backend = backend
            return backend

    def create(self) -> None:
        """Make the backend now (blocking; it imports the implementation), not its model."""
        self._made()

    @property
    def created(self) -> bool:
        """Whether the backend exists (its implementation is imported)."""
        return self._backend is not None

    @property
    def info(self) -> ModelInfo:
        """The backend's info; before it exists, what the models file says."""
        if self._backend is not None:
            return self._backend.info
        c = self._config
        return ModelInfo(
            name=c.name,
            backend=c.backend,
            display_name=c.display_name or c.name,
            organization=c.organization,
            codename=c.codename,
            licence=c.licence,
            source=c.source,
        )

    @property
    def ready(self) -> bool:
        """Whether the backend exists and its model is loaded."""
        backend = self._backend
        return backend is not None and backend.ready

    def load(self) -> None:
        """Create the backend if needed, then load its model (blocking)."""
        self._made().load()

    def load_async(self) -> Future[None]:
        """Create and load in a daemon thread; calling again returns the same future."""
        return self._background.start(self.load, f"load-{self._config.name}")

    def generate(self, messages: Sequence[Message], params: SamplingParams) -> Iterator[str]:
        """Stream a chat answer (waits for the backend to be created)."""
        return self._made().generate(messages, params)

    def complete(self, prompt: str, params: SamplingParams) -> Iterator[str]:
        """Stream a plain-prompt continuation (waits for the backend to be created)."""
        return self._made().complete(prompt, params)

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[LogLikelihood]:
        """Score ``(context, continuation)`` pairs (waits for the backend to be created)."""
        return self._made().loglikelihood(requests)

    def close(self) -> None:
        """Release the backend; one still being created is released once it exists."""
        self._closed = True
        backend = self._backend
        if backend is not None:
            backend.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # Only for attributes not found on the proxy: the backend's own extras.
        backend = self.__dict__.get("_backend")
        if backend is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(backend, name)

    def __repr__(self) -> str:
        return f"DeferredBackend(name={self._config.name!r}, ready={self.ready})"


class ModelPool:
    """Backends by model name, with their loading state.

    Parameters
    ----------
    configs:
        The models file's entries.
    backends:
        Ready-made backends by name (tests); the others are created from ``configs``
        in the pool's background thread (:class:`DeferredBackend`).
    load:
        Start making and loading every backend in the background now (:meth:`load_all`).
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
        self._started = False
        given = dict(backends or {})
        for config in configs:
            # Never created here: this runs in the first page's script run.
            ready_made = given.pop(config.name) if config.name in given else None
            self._backends[config.name] = ready_made or DeferredBackend(config)
        for name, backend in given.items():  # backends without a models-file entry
            self._backends[name] = backend
        if load:
            self.load_all()

    def load_all(self) -> None:
        """Start making and loading every backend in the background (once).

        One thread makes the backends one after another (the first of a kind imports
        its packages: two threads importing torch and transformers at once only contend
        for the same import locks), then starts each model's load in its own thread, so
        the weights of the models load side by side.
        """
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._make_then_load, name="model-pool", daemon=True).start()

    def _make_then_load(self) -> None:
        for name, backend in self._backends.items():
            if isinstance(backend, DeferredBackend):
                try:
                    backend.create()
                except BaseException as error:  # the model fails; the others go on
                    log.warning("model %s cannot be used: %s", name, error)
                    with self._lock:
                        self._errors[name] = str(error)
        for name, backend in self._backends.items():
            with self._lock:
                if name in self._errors or name in self._futures:
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
