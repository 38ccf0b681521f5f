"""The model catalog of the service and its one public-name rule.

:class:`Catalog` holds the ``models`` rows (detached), reread at most every
:data:`CATALOG_TTL_S` seconds so that an admin change made through another server
replica applies here within that long, and says when they changed (the service then
rebuilds the identity-leak word list and refreshes the boards).

:class:`PublicNames` is the one rule for what visitors may call a model: its codename
while it is a preview (organization hidden), else its display name, numbered when two
models would show the same name. The boards, the history, the judge boards, the
side-by-side picker and the reveal after a vote all take names from it, so the name a
voter sees revealed is the name on the board.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from arena.service.ttl import TTLCache
from arena.store import DatabaseFault, Model, Session, list_models

__all__ = [
    "CATALOG_TTL_S",
    "UNLISTED_LABEL",
    "Catalog",
    "CatalogEntry",
    "PublicNames",
    "public_label",
]

#: Seconds the model catalog is reused before it is read again: an admin change (weight,
#: active flag, codename, reveal) made through another server replica applies here within
#: this long, to the sampler, the reveal labels, the identity-leak word list and (by a
#: refresh it starts) the leaderboard's public names.
CATALOG_TTL_S = 2.0
#: What a reveal says of a model the store does not list (never a bare name: it could
#: be a preview's).
UNLISTED_LABEL = "an unlisted model"
_PREVIEW_ORGANIZATION = "Preview"


class _Named(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def codename(self) -> str | None: ...


class _Listed(_Named, Protocol):
    @property
    def organization(self) -> str | None: ...


def public_label(model: _Named) -> str:
    """A model's own public name: its codename while a preview, else its display name.

    :class:`PublicNames` numbers it when another model shows the same name; use that
    wherever more than one model is named.
    """
    return model.codename or model.display_name or model.name


@dataclass(frozen=True)
class PublicNames:
    """Public name and organization of each model, by store name."""

    label: dict[str, str]
    organization: dict[str, str]

    @classmethod
    def from_models(cls, rows: Iterable[_Listed]) -> PublicNames:
        """Codename for previews (organization hidden), display name for the others.

        Two models showing the same name are numbered (``Nova``, ``Nova #2``) in the
        order of ``rows`` (the store lists them by name).
        """
        label: dict[str, str] = {}
        organization: dict[str, str] = {}
        used: set[str] = set()
        for m in rows:
            name = public_label(m)
            base, n = name, 2
            while name in used:  # two models showing the same name: number them
                name = f"{base} #{n}"
                n += 1
            used.add(name)
            label[m.name] = name
            organization[m.name] = _PREVIEW_ORGANIZATION if m.codename else (m.organization or "")
        return cls(label, organization)

    def of(self, name: str) -> str:
        """The public name (a model unknown to the store keeps its own name)."""
        return self.label.get(name, name)

    def relabel_text(self, text: str) -> str:
        """Replace store names by public names in a message (longest names first)."""
        for name in sorted(self.label, key=len, reverse=True):
            if name != self.label[name]:
                text = text.replace(name, self.label[name])
        return text


@dataclass(frozen=True)
class CatalogEntry:
    """A ``models`` row, detached (what the catalog cache holds)."""

    name: str
    display_name: str
    organization: str | None
    codename: str | None
    active: bool
    weight: float

    @classmethod
    def of(cls, m: Model) -> CatalogEntry:
        """The entry of a stored row."""
        return cls(m.name, m.display_name, m.organization, m.codename, m.active, m.sampling_weight)

    @property
    def drawable(self) -> bool:
        """Whether the sampler may pick it (active, weight above zero)."""
        return self.active and self.weight > 0


class Catalog:
    """The stored models, cached for :data:`CATALOG_TTL_S` (module docstring).

    Parameters
    ----------
    read:
        Opens a read session (the service's, which turns database faults into one
        clear error).
    on_change:
        Called with the new entries when a read finds them changed (not at the first).
    ttl_s, clock:
        Reuse time and monotonic clock (tests).
    """

    def __init__(
        self,
        read: Callable[[], AbstractContextManager[Session]],
        on_change: Callable[[tuple[CatalogEntry, ...]], None],
        *,
        ttl_s: float = CATALOG_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._on_change = on_change
        self._cache: TTLCache[None, tuple[CatalogEntry, ...]] = TTLCache(ttl_s, clock=clock)
        self._seen_lock = threading.Lock()
        self._seen: tuple[CatalogEntry, ...] | None = None

    def read_entries(self) -> tuple[CatalogEntry, ...]:
        """Every model row now, uncached."""
        with self._read() as session:
            return tuple(CatalogEntry.of(m) for m in list_models(session))

    def entries(self, *, fresh: bool = False) -> tuple[CatalogEntry, ...]:
        """Every model row, reread at most every TTL (``fresh``: now).

        During a database fault (logged) the last entries read are returned, so the
        pages keep drawing; with none read yet the fault is raised.
        """
        try:
            entries = self._cache.get(None, self.read_entries, fresh=fresh)
        except DatabaseFault:
            stale = self._cache.peek(None)
            if stale is None:
                raise
            return stale
        with self._seen_lock:
            previous, self._seen = self._seen, entries
        if previous is not None and previous != entries:
            self._on_change(entries)
        return entries

    def poll(self) -> None:
        """Read the catalog if its TTL ran out (noticing another replica's admin changes).

        For views that show names from caches of their own (the leaderboards, the
        history): a database fault here is left to the view's own reads.
        """
        try:
            self.entries()
        except DatabaseFault:
            return

    def drawable(self) -> list[CatalogEntry]:
        """The models the sampler may pick (active, weight above zero)."""
        return [m for m in self.entries() if m.drawable]

    def public_names(self) -> PublicNames:
        """The public names of every stored model (the boards' rule)."""
        return PublicNames.from_models(self.entries())

    def label(self, name: str) -> str:
        """The public name of one model, as the board shows it (revealed after a vote).

        A model unknown to this process's catalog is looked up afresh (added meanwhile
        by another process); one the store does not list is :data:`UNLISTED_LABEL`.
        """
        for fresh in (False, True):
            names = PublicNames.from_models(self.entries(fresh=fresh))
            if name in names.label:
                return names.label[name]
        return UNLISTED_LABEL
