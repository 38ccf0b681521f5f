"""The battles a campaign analysis reads: from battle files or from the votes database.

Both paths give a :class:`CampaignData`: the :class:`~arena.battles.Battles` (models under
the names the caller may see) and what is known of each model (organization, family,
active, preview). From the database:

* only votes are read (one per battle), leaks excluded as on the leaderboard;
* meta columns ``tstamp, anony, category`` (a one-tag tuple, so the leaderboard's
  ``--category`` filter works), ``prompt`` (the first user message, for the audit's
  duplicate check), ``pair_probability`` and ``n_pairs`` (how the web app drew the pair;
  NaN when it did not record it, e.g. side-by-side battles);
* **preview names**: a model with a codename appears under its codename, with its
  organization shown as ``Preview`` and its family hidden, unless the caller is the
  admin (:func:`check_admin`). The real name of a preview is then not even accepted as
  a model argument (:meth:`CampaignData.resolve`), so a non-admin cannot learn which
  codename belongs to which real model by asking.
"""

from __future__ import annotations

import difflib
import hmac
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arena.battles.table import WINNER_LABELS, Battles
from arena.errors import UserError

__all__ = [
    "ADMIN_ENV",
    "PREVIEW_ORGANIZATION",
    "CampaignData",
    "ModelInfo",
    "check_admin",
    "load_database",
    "load_files",
    "read_store",
    "reweighted",
]

#: The deployment's admin password (the web app's admin page uses the same variable).
ADMIN_ENV = "ARENA_ADMIN_PASSWORD"
#: What a preview's organization reads as for non-admins (as on the public leaderboard).
PREVIEW_ORGANIZATION = "Preview"


@dataclass(frozen=True)
class ModelInfo:
    """What is known of one model besides its battles.

    Attributes
    ----------
    organization:
        Its maker ("" when unknown; ``Preview`` for a hidden preview).
    family:
        Its family or variant group ("" when unknown): the variants an organization
        tested under one product line (the audit's best-of-N check).
    active:
        Whether the arena still samples it (False: deprecated or withdrawn).
    preview:
        Whether it is an unreleased model shown under a codename.
    """

    organization: str = ""
    family: str = ""
    active: bool = True
    preview: bool = False


@dataclass(frozen=True)
class CampaignData:
    """Battles plus what is known of their models.

    Attributes
    ----------
    battles:
        The battles, models under the names the caller may see.
    info:
        :class:`ModelInfo` by (visible) model name; models missing here are unknown.
    source:
        Where the battles came from (file names or the database, without password).
    hidden:
        Real names of previews shown under codenames (never printed; only refused).
    """

    battles: Battles
    info: dict[str, ModelInfo] = field(default_factory=dict)
    source: str = ""
    hidden: frozenset[str] = frozenset()

    def of(self, model: str) -> ModelInfo:
        """The model's info (empty when unknown)."""
        return self.info.get(model, ModelInfo())

    def resolve(self, model: str) -> str:
        """The visible name the caller means by ``model``, or a UserError saying why not."""
        if model in self.battles.models:
            return model
        if model in self.hidden:
            raise UserError(
                f"no model {model!r} among the rated models; a preview is known here only "
                "by its codename (the admin sees real names with --admin)"
            )
        wanted = model.casefold()
        for name in self.battles.models:
            if name.casefold() == wanted:
                return name
        close = difflib.get_close_matches(model, self.battles.models, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"no model {model!r} among the rated models in {self.source}{hint}")


def check_admin(given: str, environ: dict[str, str] | None = None) -> None:
    """Accept the admin password or raise UserError (constant-time comparison).

    The CLI reads the database directly, so whoever holds its URL can read the real
    names anyway: the password guards reports against showing a preview's identity by
    mistake, not the database against its owner.
    """
    env = os.environ if environ is None else environ
    expected = env.get(ADMIN_ENV, "")
    if not expected:
        raise UserError(
            f"--admin needs the deployment's admin password: set ${ADMIN_ENV} where the "
            "command runs, then type the password when asked"
        )
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise UserError("wrong admin password: real names of preview models stay hidden")


def load_files(
    paths: Sequence[Path],
    *,
    models_file: Path | None = None,
    read: dict[str, Any] | None = None,
) -> CampaignData:
    """Read battle files (any format ``arena leaderboard`` reads).

    ``models_file`` (a models TOML, optional) supplies organizations, families and
    active flags; battle files name their models plainly, so nothing is hidden.
    """
    from arena.battles.readers import read_battles

    for path in paths:
        if not Path(path).is_file():
            raise UserError(f"{path}: no such file")
    battles = read_battles([Path(p) for p in paths], **(read or {}))
    info: dict[str, ModelInfo] = {}
    if models_file is not None:
        from arena.backends import load_models

        for config in load_models(models_file):
            info[config.name] = ModelInfo(
                organization=config.organization or "",
                family=getattr(config, "family", None) or "",
                active=True,
                preview=config.codename is not None,
            )
    return CampaignData(battles, info, ", ".join(str(p) for p in paths))


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _record_number(record: dict[str, Any], key: str) -> float:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value)


def load_database(url: str | None = None, *, admin: bool = False) -> CampaignData:
    """Every counted vote of the votes database at ``url`` (see :func:`read_store`)."""
    from arena.store import make_sessionmaker, open_engine

    engine = open_engine(url)
    try:
        with make_sessionmaker(engine, read_only=True)() as session:
            source = f"the votes database ({_safe_url(url)})"
            return read_store(session, admin=admin, source=source)
    finally:
        engine.dispose()


def read_store(
    session: Any, *, admin: bool = False, source: str = "the votes database"
) -> CampaignData:
    """Every vote of the store (leaks excluded), as the module docstring describes.

    ``session`` is the caller's (read-only is best); ``admin`` shows previews under their
    real names.

    Raises
    ------
    UserError
        The store holds no votes.
    """
    from sqlalchemy import select

    from arena.store import Battle, Conversation, Vote, list_models

    models = list_models(session)
    query = (
        select(
            Battle.model_a_id,
            Battle.model_b_id,
            Vote.outcome,
            Vote.anonymous,
            Vote.created_at,
            Conversation.text,
            Conversation.category,
            Battle.params,
        )
        .select_from(Vote)
        .join(Battle, Vote.battle_id == Battle.id)
        .join(Conversation, Battle.conversation_id == Conversation.id)
        .where(Vote.identity_leak.is_(False))
        .order_by(Vote.created_at, Vote.id)
    )
    rows = session.execute(query).all()
    shown: dict[int, str] = {}
    info: dict[str, ModelInfo] = {}
    hidden: set[str] = set()
    for m in models:
        preview = m.codename is not None
        name = m.codename if preview and not admin else m.name
        assert name is not None
        shown[m.id] = name
        if preview and not admin:
            hidden.add(m.name)
        family = str(getattr(m, "family", None) or "")
        info[name] = ModelInfo(
            organization=PREVIEW_ORGANIZATION if preview and not admin else m.organization or "",
            family="" if preview and not admin else family,
            active=bool(m.active),
            preview=preview,
        )
    if not rows:
        raise UserError(f"no votes in {source}: there is nothing to analyse yet")
    records = [_json(r[7]).get("pair_sampling") or {} for r in rows]
    meta = pd.DataFrame(
        {
            "tstamp": [r[4].timestamp() if r[4] is not None else np.nan for r in rows],
            "anony": [bool(r[3]) for r in rows],
            "category": [(r[6],) if r[6] else () for r in rows],
            "prompt": [r[5] for r in rows],
            "pair_probability": [_record_number(x, "pair_probability") for x in records],
            "n_pairs": [_record_number(x, "n_pairs") for x in records],
        }
    )
    outcome = pd.Categorical([r[2] for r in rows], categories=list(WINNER_LABELS)).codes
    battles = Battles.from_names(
        [shown[r[0]] for r in rows],
        [shown[r[1]] for r in rows],
        outcome.astype(np.int8),
        meta=meta,
        ordered=True,
    )
    return CampaignData(battles, info, source, frozenset(hidden))


def _safe_url(url: str | None) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    from arena.store.engine import database_url

    try:
        return make_url(database_url(url)).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL was already refused by open_engine
        return "database"


def reweighted(data: CampaignData) -> CampaignData:
    """Weight each battle by ``1 / (n_pairs * pair_probability)`` (undo the pair sampler).

    Battles without a record (files, side-by-side votes, votes before the record
    existed) keep weight 1. See :func:`arena.service.sampling.inverse_probability_weights`.

    Raises
    ------
    UserError
        The battles carry no sampling record at all (nothing to reweight), or a record
        is corrupt.
    """
    from arena.service.sampling import inverse_probability_weights

    meta = data.battles.meta
    if "pair_probability" not in meta.columns or not np.isfinite(
        meta["pair_probability"].to_numpy(np.float64)
    ).any():
        raise UserError(
            f"--reweight needs the pair-sampling records of the web app's battles; "
            f"{data.source} has none"
        )
    weights = inverse_probability_weights(
        meta["pair_probability"].to_numpy(np.float64), meta["n_pairs"].to_numpy(np.float64)
    )
    battles = replace(data.battles, weight=data.battles.weight * weights)
    return replace(data, battles=battles)
