"""Results of ``arena eval`` runs in the database, beside the arena votes.

``arena eval`` stores every finished run with :func:`store_eval_results`: one
``eval_runs`` row (suite, suite hash, run directory, times, options, package versions)
and one ``eval_results`` row per model, task and metric (value, 95 % interval, counts).
A run is identified by its directory and its suite's hash, so storing it again (after
``--resume``, or a re-run into the same directory) replaces its rows, in one transaction,
instead of adding a copy. Reading back::

    from arena.store import eval_results_frame, list_eval_runs, make_sessionmaker, open_engine

    engine = open_engine()                      # the same database as the votes
    with make_sessionmaker(engine, read_only=True)() as session:
        runs = list_eval_runs(session, suite="mmlu")       # newest first
        frame = eval_results_frame(session, runs[0].id)    # one row per model/task/metric

The caller owns the session: store inside ``Session.begin()``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

import pandas as pd
from sqlalchemy import Engine, Table, delete, func, insert, select
from sqlalchemy.orm import Session

from arena.store._sql import upsert_insert
from arena.store.errors import StoreError, UnknownEvalRun
from arena.store.schema import EvalResult, EvalRun, utcnow


class StoredMetric(Protocol):
    """What is stored of one metric: its value, 95 % interval, standard error and count."""

    @property
    def value(self) -> float:
        """The value (NaN stored as NULL)."""
        ...
    @property
    def ci_lower(self) -> float:
        """Lower end of the 95 % interval."""
        ...
    @property
    def ci_upper(self) -> float:
        """Upper end of the 95 % interval."""
        ...
    @property
    def stderr(self) -> float:
        """Standard error."""
        ...
    @property
    def method(self) -> str:
        """How the interval was computed."""
        ...
    @property
    def n(self) -> int:
        """Samples the value rests on."""
        ...


class StoredTaskResult(Protocol):
    """What is stored of one model on one task."""

    @property
    def model(self) -> str:
        """The model's name."""
        ...
    @property
    def task(self) -> str:
        """The task's name."""
        ...
    @property
    def n_failed(self) -> int:
        """Samples whose requests failed."""
        ...
    @property
    def metrics(self) -> Mapping[str, StoredMetric]:
        """Metric name -> value with interval."""
        ...


class StoredRun(Protocol):
    """What :func:`store_eval_results` reads of a run: the store's own view of one.

    ``arena.harness.EvalResults`` has this shape (and so does anything else that does):
    the store depends on no harness type.
    """

    @property
    def suite(self) -> str:
        """The suite's name."""
        ...
    @property
    def provenance(self) -> Mapping[str, Any]:
        """How the run was made (suite_sha256, options, packages, times)."""
        ...
    @property
    def results(self) -> Sequence[StoredTaskResult]:
        """One record per model and task."""
        ...

__all__ = [
    "EVAL_RESULT_COLUMNS",
    "EvalRunRecord",
    "EvalStore",
    "StoredMetric",
    "StoredRun",
    "StoredTaskResult",
    "eval_results_frame",
    "eval_run_key",
    "list_eval_runs",
    "open_results_engine",
    "store_eval_results",
]

#: Columns of :func:`eval_results_frame`, in order.
EVAL_RESULT_COLUMNS: tuple[str, ...] = (
    "run_id",
    "model",
    "task",
    "metric",
    "value",
    "ci_lower",
    "ci_upper",
    "stderr",
    "ci_method",
    "n",
    "n_failed",
)


@dataclass(frozen=True)
class EvalRunRecord:
    """A stored evaluation run, as :func:`list_eval_runs` reads it.

    Attributes
    ----------
    id:
        The run's id in the database (what :func:`eval_results_frame` takes).
    suite, suite_sha256:
        The suite's name and the hash of its file at run time.
    run_dir:
        The run directory (absolute) holding ``results.json`` and the sample logs.
    started_at, finished_at:
        When the run's last session started and finished (UTC), when known.
    options:
        The run's options (``RunOptions``: limit, tasks, seed, chat template, ...).
    packages:
        Versions of Python and of the packages that shape results.
    models:
        The models of the run, sorted.
    n_results:
        Stored rows (model x task x metric).
    stored_at:
        When the run was last stored (UTC).
    """

    id: int
    suite: str
    suite_sha256: str
    run_dir: str
    started_at: datetime | None
    finished_at: datetime | None
    options: dict[str, Any]
    packages: dict[str, Any]
    models: tuple[str, ...]
    n_results: int
    stored_at: datetime


def eval_run_key(run_dir: str | Path, suite_sha256: str) -> str:
    """The identity of a run: SHA-256 of its absolute directory and its suite's hash."""
    directory = str(Path(run_dir).expanduser().resolve())
    return hashlib.sha256(f"{directory}\x1f{suite_sha256}".encode()).hexdigest()


def _finite(value: float) -> float | None:
    """A metric value for the database: NaN (no sample answered) becomes NULL."""
    return float(value) if value is not None and math.isfinite(value) else None


def _utc(value: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _run_times(provenance: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """Start and end of a run from its provenance: ``created`` is the end, ``seconds`` long."""
    created = provenance.get("created")
    if not isinstance(created, str):
        return None, None
    try:
        finished = _utc(datetime.fromisoformat(created))
    except ValueError:
        return None, None
    assert finished is not None
    seconds = provenance.get("seconds")
    if not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return None, finished
    return finished - timedelta(seconds=float(seconds)), finished


def _json(value: Any) -> Any:
    """A JSON document the database accepts (tuples as lists, odd objects as strings)."""
    return json.loads(json.dumps(value, default=str))


def store_eval_results(
    session: Session,
    results: StoredRun,
    run_dir: str | Path,
    *,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
) -> EvalRunRecord:
    """Store a run's results, replacing those stored before for the same run.

    Parameters
    ----------
    session:
        A session inside a transaction (``Session.begin()``); nothing is committed here.
    results:
        What :func:`arena.harness.evaluate` returned (or :func:`arena.harness.read_results`
        read); its provenance gives the suite hash, options, package versions and times.
    run_dir:
        The run directory; with the suite hash it identifies the run.
    started_at, finished_at:
        When the run started and finished; default from the provenance (``created``
        minus ``seconds``, and ``created``).

    Raises
    ------
    StoreError
        The results carry no suite hash (not written by ``arena eval``).
    """
    provenance = results.provenance
    suite_sha256 = provenance.get("suite_sha256")
    if not isinstance(suite_sha256, str) or not suite_sha256:
        raise StoreError(
            f"the results of suite '{results.suite}' carry no suite hash "
            "(provenance.suite_sha256): only results written by `arena eval` can be stored"
        )
    default_start, default_end = _run_times(provenance)
    now = utcnow()
    values: dict[str, Any] = {
        "run_key": eval_run_key(run_dir, suite_sha256),
        "run_dir": str(Path(run_dir).expanduser().resolve()),
        "suite": results.suite,
        "suite_sha256": suite_sha256,
        "started_at": started_at or default_start,
        "finished_at": finished_at or default_end,
        "options": _json(provenance.get("options", {})),
        "packages": _json(provenance.get("packages", {})),
        "updated_at": now,
    }
    table = cast(Table, EvalRun.__table__)
    upsert = upsert_insert(session, table).values(created_at=now, **values)
    statement = upsert.on_conflict_do_update(index_elements=["run_key"], set_=values).returning(
        table.c.id
    )
    run_id = int(session.execute(statement).scalar_one())
    session.execute(delete(EvalResult).where(EvalResult.run_id == run_id))
    rows = [
        {
            "run_id": run_id,
            "model": r.model,
            "task": r.task,
            "metric": name,
            "value": _finite(m.value),
            "ci_lower": _finite(m.ci_lower),
            "ci_upper": _finite(m.ci_upper),
            "stderr": _finite(m.stderr),
            "ci_method": m.method,
            "n": int(m.n),
            "n_failed": int(r.n_failed),
        }
        for r in results.results
        for name, m in r.metrics.items()
    ]
    if rows:
        session.execute(insert(EvalResult), rows)
    (record,) = _records(session, [run_id])
    return record


def _records(
    session: Session, run_ids: Sequence[int] | None, suite: str | None = None
) -> list[EvalRunRecord]:
    query = select(EvalRun).order_by(EvalRun.updated_at.desc(), EvalRun.id.desc())
    if run_ids is not None:
        query = query.where(EvalRun.id.in_(run_ids))
    if suite is not None:
        query = query.where(EvalRun.suite == suite)
    runs = list(session.scalars(query))
    ids = [r.id for r in runs]
    models: dict[int, list[str]] = {i: [] for i in ids}
    counts: dict[int, int] = dict.fromkeys(ids, 0)
    if ids:
        pairs = session.execute(
            select(EvalResult.run_id, EvalResult.model, func.count())
            .where(EvalResult.run_id.in_(ids))
            .group_by(EvalResult.run_id, EvalResult.model)
        )
        for run_id, model, n in pairs:
            models[run_id].append(model)
            counts[run_id] += int(n)
    return [
        EvalRunRecord(
            id=r.id,
            suite=r.suite,
            suite_sha256=r.suite_sha256,
            run_dir=r.run_dir,
            started_at=_utc(r.started_at),
            finished_at=_utc(r.finished_at),
            options=dict(r.options),
            packages=dict(r.packages),
            models=tuple(sorted(models[r.id])),
            n_results=counts[r.id],
            stored_at=cast(datetime, _utc(r.updated_at)),
        )
        for r in runs
    ]


def list_eval_runs(session: Session, *, suite: str | None = None) -> list[EvalRunRecord]:
    """The stored runs, most recently stored first; only those of ``suite`` when given."""
    return _records(session, None, suite)


def eval_results_frame(session: Session, run_id: int | None = None) -> pd.DataFrame:
    """The stored results of one run (every run when None) as a long table.

    Columns are :data:`EVAL_RESULT_COLUMNS`, one row per model, task and metric in the
    order they were stored (the run's order); missing values are NaN.

    Raises
    ------
    UnknownEvalRun
        No run has id ``run_id``.
    """
    if run_id is not None and session.get(EvalRun, run_id) is None:
        raise UnknownEvalRun(
            f"no stored evaluation run with id {run_id}; list_eval_runs() gives the stored runs"
        )
    columns = [getattr(EvalResult, c) for c in EVAL_RESULT_COLUMNS]
    query = select(*columns).order_by(EvalResult.run_id, EvalResult.id)
    if run_id is not None:
        query = query.where(EvalResult.run_id == run_id)
    frame = pd.DataFrame(session.execute(query).all(), columns=list(EVAL_RESULT_COLUMNS))
    for name in ("value", "ci_lower", "ci_upper", "stderr"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    for name in ("run_id", "n", "n_failed"):
        frame[name] = frame[name].astype("int64")
    return frame


def open_results_engine(url: str | None, *, skip_hint: str = "--no-store") -> Engine:
    """Migrate the database at ``url`` to the newest schema and open it (fail fast).

    Alembic, under a lock, a no-op when the schema is current; so a run fails at its
    start, not after hours, when the database cannot take its results, and a first
    ``arena eval`` or ``arena judge`` on a fresh checkout needs no ``arena db upgrade``.
    ``skip_hint`` names the flag that runs without storing, for the message.
    """
    from arena.store.engine import open_engine
    from arena.store.errors import SchemaNotCurrent
    from arena.store.migrate import upgrade

    try:
        upgrade(url)
        return open_engine(url)
    except SchemaNotCurrent as exc:
        raise SchemaNotCurrent(
            f"{exc}; or add {skip_hint} to run without storing the results"
        ) from None


class EvalStore:
    """A results sink (``arena.harness.ResultsSink``): runs stored beside the votes.

    :meth:`open` migrates the database first (:func:`open_results_engine`). Each
    :meth:`put` is one transaction.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str | None) -> EvalStore:
        """Migrate and open the database at ``url`` (None: the default one)."""
        return cls(open_results_engine(url))

    def put(self, results: StoredRun, run_dir: Path, started: datetime) -> str:
        """Store the run (replacing an earlier store of it); one line saying where."""
        from arena.store.engine import display_url, make_sessionmaker

        with make_sessionmaker(self.engine).begin() as session:
            record = store_eval_results(
                session, results, run_dir, started_at=started, finished_at=datetime.now(UTC)
            )
        return (
            f"stored as evaluation run {record.id} ({record.n_results} results) in "
            f"{display_url(self.engine.url)}"
        )

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()
