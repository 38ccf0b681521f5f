"""Backends registered by name, their implementations imported only when a model needs them.

A registration is a cheap factory function that imports the implementation when called::

    @register_backend("mine", options=MyOptions, requires=("mylib",), extra="mine")
    def mine() -> type[Backend]:
        from mypackage._mine import MyBackend
        return MyBackend

The implementation class is called with the model's :class:`~arena.backends.config.ModelConfig`.
Before the factory runs, the packages in ``requires`` are looked up without importing them;
a missing one (or an ImportError inside the factory) becomes a one-line install hint. So
``import arena.backends`` stays light: no torch, no httpx, until a model of that kind is made.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arena.backends.errors import MissingDependency

if TYPE_CHECKING:
    from arena.backends.base import Backend
    from arena.backends.config import ModelConfig

__all__ = [
    "BackendSpec",
    "backend_identity",
    "backend_spec",
    "create_backend",
    "for_harness",
    "is_remote",
    "known_backends",
    "register_backend",
    "request_pairs",
]

#: Imports and returns the implementation: a class (or callable) taking a ModelConfig.
BackendFactory = Callable[[], "Callable[[ModelConfig], Backend]"]


@dataclass(frozen=True)
class BackendSpec:
    """One registered backend.

    Attributes
    ----------
    name:
        The ``backend = "..."`` value in the models file.
    options:
        Frozen dataclass of the backend's own keys in a ``[[models]]`` entry.
    factory:
        Returns the implementation (a class or callable taking a ``ModelConfig``),
        importing it when called.
    requires:
        Importable top-level packages the implementation needs.
    extra:
        The ``arena[extra]`` that installs them, for the hint.
    remote:
        The answers come from a server: a harness sends several requests at once and in
        an order that keeps shared prefixes together (the server caches them), and a
        batch is what one HTTP request carries.
    identity:
        Extra fields that pin a model's answers beyond its name and options (local
        weights: their hash), computed without loading the model; None: no extra fields.
    harness_options:
        The options to use when a harness makes the batches itself (local weights: no
        token budget of the backend's own, so one call is one forward pass); None: as
        they are.
    request_pairs:
        How many scored pairs one request to a remote backend carries (its options'
        batch), so a harness sizes its batches to whole requests; None: no such limit.
    """

    name: str
    options: type[Any]
    factory: BackendFactory
    requires: tuple[str, ...] = ()
    extra: str | None = None
    remote: bool = False
    identity: Callable[[ModelConfig], dict[str, Any]] | None = None
    harness_options: Callable[[Any], Any] | None = None
    request_pairs: Callable[[Any], int] | None = None


_REGISTRY: dict[str, BackendSpec] = {}
_BUILTINS_LOADED = False


def register_backend(
    name: str,
    *,
    options: type[Any],
    requires: tuple[str, ...] = (),
    extra: str | None = None,
    remote: bool = False,
    identity: Callable[[ModelConfig], dict[str, Any]] | None = None,
    harness_options: Callable[[Any], Any] | None = None,
    request_pairs: Callable[[Any], int] | None = None,
) -> Callable[[BackendFactory], BackendFactory]:
    """Register the decorated factory as the backend ``name`` (a later registration replaces it).

    ``remote``, ``identity``, ``harness_options`` and ``request_pairs``: see
    :class:`BackendSpec`.
    """

    def decorate(factory: BackendFactory) -> BackendFactory:
        _REGISTRY[name] = BackendSpec(
            name,
            options,
            factory,
            tuple(requires),
            extra,
            remote,
            identity,
            harness_options,
            request_pairs,
        )
        return factory

    return decorate


def _ensure_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        importlib.import_module("arena.backends._providers")


def known_backends() -> tuple[str, ...]:
    """Names of every registered backend, sorted."""
    _ensure_builtins()
    return tuple(sorted(_REGISTRY))


def backend_spec(name: str) -> BackendSpec | None:
    """The registration of ``name``, or None when there is none."""
    _ensure_builtins()
    return _REGISTRY.get(name)


def is_remote(config: ModelConfig) -> bool:
    """Whether ``config``'s answers come from a server (:attr:`BackendSpec.remote`)."""
    spec = backend_spec(config.backend)
    return spec is not None and spec.remote


def backend_identity(config: ModelConfig) -> dict[str, Any]:
    """The fields beyond name and options that pin ``config``'s answers (weights' hash)."""
    spec = backend_spec(config.backend)
    if spec is None or spec.identity is None:
        return {}
    return spec.identity(config)


def for_harness(config: ModelConfig) -> ModelConfig:
    """``config`` with the options a batching harness uses (:attr:`BackendSpec.harness_options`)."""
    spec = backend_spec(config.backend)
    if spec is None or spec.harness_options is None:
        return config
    return dataclasses.replace(config, options=spec.harness_options(config.options))


def request_pairs(config: ModelConfig) -> int | None:
    """Scored pairs one request of ``config``'s backend carries (None: no such limit).

    See :attr:`BackendSpec.request_pairs`.
    """
    spec = backend_spec(config.backend)
    if spec is None or spec.request_pairs is None:
        return None
    return spec.request_pairs(config.options)


def _is_installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError, AttributeError):
        # ValueError: the module is in sys.modules with no spec (e.g. set to None to hide it).
        return False


def create_backend(config: ModelConfig) -> Backend:
    """Make the backend of one model; nothing slow happens until it is loaded or used.

    Raises
    ------
    MissingDependency
        When a package the backend needs is not installed (a one-line install hint).
    arena.backends.errors.BackendError
        When the model cannot be set up (e.g. an API key variable that is not set).
    """
    spec = backend_spec(config.backend)
    if spec is None:  # config.py rejects these already; guard against hand-made configs
        raise MissingDependency(config.backend, config.backend, None)
    for package in spec.requires:
        if not _is_installed(package):
            raise MissingDependency(spec.name, package, spec.extra)
    try:
        implementation = spec.factory()
    except ImportError as exc:
        raise MissingDependency(spec.name, exc.name or str(exc), spec.extra) from exc
    return implementation(config)
