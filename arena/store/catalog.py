"""The models in the arena: loaded from the operator's configuration, read by the sampler.

The configuration is a list of entries (from YAML/TOML/JSON, or built in code), one
per model; :func:`upsert_models` makes the ``models`` table match it. It is one
``INSERT ... ON CONFLICT (name) DO UPDATE`` per model, so several web-app workers
loading the same configuration at start-up do not trip over each other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sqlalchemy import Table, exc, select, update
from sqlalchemy.orm import Session

from arena.store._sql import upsert_insert, violates
from arena.store.errors import StoreError, UnknownModel
from arena.store.schema import Model, utcnow

__all__ = ["ModelSpec", "get_models", "list_models", "update_model", "upsert_models"]


@dataclass(frozen=True)
class ModelSpec:
    """One model entry of the arena configuration.

    Attributes
    ----------
    name:
        Stable identifier, used in votes and leaderboards (e.g. ``"gpt-4o-2024-08-06"``).
    display_name:
        Name shown once the vote is cast; defaults to ``name``.
    organization, licence:
        Shown on the leaderboard (``license`` is accepted as a spelling in mappings).
    backend:
        How to call the model (provider, endpoint, model id, ...), kept as JSON.
    codename:
        Public alias of an unreleased ("preview") model, shown instead of its name.
    active:
        Whether the battle sampler may pick it.
    sampling_weight:
        Relative chance of being picked (``>= 0``).
    family:
        Product line or variant group (``arena audit``'s best-of-N check), or None. None
        leaves a stored family as it is (written only when given; the column exists
        from migration 0006 on, and models are also written at older revisions).
    """

    name: str
    display_name: str | None = None
    organization: str | None = None
    licence: str | None = None
    backend: Mapping[str, Any] = field(default_factory=dict)
    codename: str | None = None
    active: bool = True
    sampling_weight: float = 1.0
    family: str | None = None

    def __post_init__(self) -> None:
        where = f"model {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise StoreError(f"model entry without a name: {self!r}")
        for attr in ("display_name", "organization", "licence", "codename", "family"):
            value = getattr(self, attr)
            if value is not None and not isinstance(value, str):
                raise StoreError(f"{where}: {attr} must be text, got {value!r}")
        if not isinstance(self.backend, Mapping):
            raise StoreError(f"{where}: backend must be a mapping, got {self.backend!r}")
        if not isinstance(self.active, bool):
            raise StoreError(f"{where}: active must be true or false, got {self.active!r}")
        weight = self.sampling_weight
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise StoreError(f"{where}: sampling_weight must be a number >= 0, got {weight!r}")

    @classmethod
    def from_mapping(cls, entry: Mapping[str, Any]) -> ModelSpec:
        """Read one configuration entry, rejecting unknown keys (typos) by name."""
        if not isinstance(entry, Mapping):
            raise StoreError(f"model entry must be a mapping, got {entry!r}")
        values = dict(entry)
        if "license" in values and "licence" not in values:
            values["licence"] = values.pop("license")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise StoreError(
                f"model {values.get('name')!r}: unknown key(s) {', '.join(unknown)}; "
                f"expected {', '.join(sorted(known))}"
            )
        if "name" not in values:
            raise StoreError(f"model entry without a name: {dict(entry)!r}")
        return cls(**values)

    def row_values(self) -> dict[str, Any]:
        """Column values of the ``models`` row."""
        return {
            "name": self.name,
            "display_name": self.display_name or self.name,
            "organization": self.organization,
            "licence": self.licence,
            "backend": dict(self.backend),
            "codename": self.codename,
            "active": self.active,
            "sampling_weight": float(self.sampling_weight),
            **({"family": self.family} if self.family else {}),
        }


def upsert_models(
    session: Session,
    entries: Iterable[ModelSpec | Mapping[str, Any]],
    *,
    deactivate_missing: bool = False,
) -> list[Model]:
    """Insert new models and update existing ones (matched by name) from a configuration.

    Parameters
    ----------
    session:
        The caller's session; nothing is committed here.
    entries:
        :class:`ModelSpec` objects or mappings with the same keys.
    deactivate_missing:
        Mark models absent from ``entries`` inactive (never deleted: their votes stay).

    Returns
    -------
    list[Model]
        The rows, in the order of ``entries``.

    Raises
    ------
    StoreError
        Malformed entry, a name listed twice, or a codename already used by another
        model; nothing is written then.
    """
    specs = [e if isinstance(e, ModelSpec) else ModelSpec.from_mapping(e) for e in entries]
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise StoreError(f"model(s) listed more than once: {', '.join(duplicates)}")
    model_table = Model.__table__
    assert isinstance(model_table, Table)
    try:
        with session.begin_nested():
            for spec in specs:
                values = spec.row_values()
                now = utcnow()
                insert = upsert_insert(session, model_table).values(
                    **values, created_at=now, updated_at=now
                )
                changed = {k: v for k, v in values.items() if k != "name"}
                session.execute(
                    insert.on_conflict_do_update(
                        index_elements=["name"], set_={**changed, "updated_at": now}
                    )
                )
            if deactivate_missing:
                session.execute(
                    update(Model)
                    .where(Model.name.not_in(names), Model.active.is_(True))
                    .values(active=False, updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
    except exc.IntegrityError as error:
        if violates(error, "uq_models_codename", "models.codename"):
            raise StoreError(
                "two models share a codename; each preview codename must be unique"
            ) from None
        raise
    session.expire_all()  # rows loaded earlier in this session predate the upsert
    return get_models(session, names)


def get_models(session: Session, names: Sequence[str]) -> list[Model]:
    """Load the rows of the named models, in that order.

    Raises
    ------
    UnknownModel
        A name is not in the ``models`` table.
    """
    rows = {m.name: m for m in session.scalars(select(Model).where(Model.name.in_(names)))}
    missing = [n for n in names if n not in rows]
    if missing:
        raise UnknownModel(
            f"unknown model(s) {', '.join(map(repr, missing))}: add them to the arena "
            "configuration (upsert_models) first"
        )
    return [rows[n] for n in names]


def list_models(session: Session, *, active_only: bool = False) -> list[Model]:
    """Every model, by name; only those the sampler may pick with ``active_only``."""
    query = select(Model).order_by(Model.name)
    if active_only:
        query = query.where(Model.active.is_(True), Model.sampling_weight > 0)
    return list(session.scalars(query))


#: What :func:`update_model` may change (the rest comes from the models file only).
UPDATABLE = frozenset({"codename", "active", "sampling_weight"})


def update_model(session: Session, name: str, **changes: Any) -> Model:
    """Change some settings of one stored model, keeping every other column as stored.

    ``changes`` are :data:`UPDATABLE` fields of :class:`ModelSpec` (``codename=None``
    reveals a preview). They are validated like a models-file entry and written with
    :func:`upsert_models`, so a codename another model has is refused the same way.

    Raises
    ------
    UnknownModel
        No model is called ``name``.
    StoreError
        A field that cannot be changed here, a bad value, or a codename already taken;
        nothing is written then.
    """
    unknown = sorted(set(changes) - UPDATABLE)
    if unknown:
        raise StoreError(
            f"cannot change {', '.join(unknown)} of a model here; "
            f"expected {', '.join(sorted(UPDATABLE))}"
        )
    (row,) = get_models(session, [name])
    stored = ModelSpec(
        name=row.name,
        display_name=row.display_name,
        organization=row.organization,
        licence=row.licence,
        backend=dict(row.backend),
        codename=row.codename,
        active=row.active,
        sampling_weight=row.sampling_weight,
        family=row.family,
    )
    (updated,) = upsert_models(session, [replace(stored, **changes)])
    return updated
