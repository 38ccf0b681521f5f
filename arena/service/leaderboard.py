"""The live leaderboard of the web app: computed from the store, cached, refreshed behind.

Page views never compute it. A background thread reads the vote counts (one
``GROUP BY`` query: :func:`arena.store.vote_counts`), fits Bradley–Terry with
sandwich intervals for every category and their win-rate matrices, and swaps the new
snapshot in; page views read the newest snapshot (charts are drawn by the browser from
:meth:`BoardView.ratings` and :meth:`BoardView.winrate_pairs`). The refresh starts when a page asks
and the snapshot is older than the TTL (stale-while-revalidate), or at once after an
admin change. Only the first view after start-up can find no snapshot (``None``); the
caller may wait for it.

The style-controlled board needs every answer (style features are per vote), so it is
read vote by vote in chunks, in its own background thread and with a longer TTL. Below
:func:`arena.report.notes.style_control_minimum` votes it is not fitted at all: the page
says why instead of showing scores the style terms alone can explain.

Battles imported with ``arena db import`` (public logs and pair counts) are read as
counts with the live votes, and every board exists for three sources (the page's source
switch, :data:`arena.battles.sources.SOURCE_CHOICES`): live votes only, imported battles
only, and both, where :func:`arena.battles.sources.combine_sources` says when no model
bridges the live models to the imported ones. Imported battles carry no category and no
answers: the category boards and the style-controlled board are of live votes.

A vote recorded by this process (:meth:`LiveLeaderboard.note_vote`) makes a board with
no votes stale at once: the first page view after the first votes waits for the refresh
instead of saying "No votes yet" until the TTL runs out.

Only anonymous votes count, and votes with an identity leak are left out (LMArena's
rules). Every table, chart and download uses public names: preview models appear under
their codename until the admin reveals them, with their organization hidden.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from arena.battles.matrices import win_rate_matrix
from arena.battles.sources import SOURCE_CHOICES, combine_sources
from arena.battles.style import STYLE_FEATURES, features_for_texts
from arena.battles.table import WINNER_LABELS, Battles
from arena.errors import UserError
from arena.leaderboard import compute_leaderboard
from arena.records import Leaderboard
from arena.report.notes import rank_note, style_control_refusal
from arena.service.catalog import PublicNames
from arena.store import Session, SessionFactory, list_models, vote_counts

__all__ = ["DISPLAY_COLUMNS", "BoardView", "LiveLeaderboard", "PublicNames", "display_table"]

log = logging.getLogger(__name__)

#: Columns of :attr:`BoardView.table`, what the leaderboard page shows.
DISPLAY_COLUMNS: tuple[str, ...] = (
    "Rank (UB)",
    "Model",
    "Organization",
    "Score",
    "95% CI",
    "Votes",
)
#: The win-rate heatmap shows at most this many models (the best rated).
HEATMAP_MODELS = 15
#: The style-controlled board is refreshed at most this often (seconds), at least the TTL.
STYLE_MIN_TTL_S = 300.0


@dataclass(frozen=True)
class BoardView:
    """One computed leaderboard, ready to show.

    Attributes
    ----------
    category:
        The category it covers (None: all).
    style_control:
        Whether ratings are style-controlled.
    leaderboard:
        The full record with public model names (what the downloads hold); None when
        there is nothing to rate yet (see ``message``).
    table:
        The table to show, columns :data:`DISPLAY_COLUMNS`.
    winrate:
        Observed win rates among the best rated models (public names), or None.
    n_votes:
        Votes counted.
    computed_at:
        When it was computed (seconds since the epoch).
    message:
        Why there is no leaderboard (no votes yet, one model only, too few votes for
        style control, ...), else None.
    source:
        Which battles it rates: ``live``, ``imported`` or ``all``.
    notes:
        Plain-language notes to show under the table: how many votes, why ranks are
        shared and roughly how many votes until they mean something, whether the live
        models are on the imported battles' scale.
    n_imported:
        Of ``n_votes``, the imported battles.
    """

    category: str | None
    style_control: bool
    leaderboard: Leaderboard | None
    table: pd.DataFrame
    winrate: pd.DataFrame | None
    n_votes: int
    computed_at: float
    message: str | None = None
    source: str = "live"
    notes: tuple[str, ...] = ()
    n_imported: int = 0
    _cache: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def download(self, fmt: str) -> bytes:
        """The leaderboard as ``csv`` or ``json`` (or any export format) bytes."""
        from arena.report import render_bytes

        lb = self.leaderboard
        if lb is None:
            raise UserError(self.message or "there is no leaderboard yet")
        return self._memo(f"download.{fmt}", lambda: render_bytes(lb, fmt))

    def ratings(self) -> pd.DataFrame:
        """``model, rating, ci_lower, ci_upper`` per model, best first (for the CI chart)."""
        if self.leaderboard is None:
            return pd.DataFrame(columns=["model", "rating", "ci_lower", "ci_upper"])
        return self.leaderboard.table[["model", "rating", "ci_lower", "ci_upper"]].copy()

    def winrate_pairs(self) -> pd.DataFrame:
        """``model, opponent, win_rate`` for every pair that met (for the heatmap)."""
        if self.winrate is None:
            return pd.DataFrame(columns=["model", "opponent", "win_rate"])
        cells = self.winrate.stack().dropna()
        return pd.DataFrame(
            {
                "model": cells.index.get_level_values(0),
                "opponent": cells.index.get_level_values(1),
                "win_rate": cells.to_numpy(np.float64),
            }
        )

    def _memo(self, key: str, make: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]


def _empty(
    category: str | None, style: bool, n_votes: int, message: str, source: str = "live"
) -> BoardView:
    table = pd.DataFrame({c: pd.Series(dtype=object) for c in DISPLAY_COLUMNS})
    return BoardView(
        category, style, None, table, None, n_votes, time.time(), message, source=source
    )


_NO_VOTES = {
    "live": "No votes yet: be the first to vote!",
    "imported": "No imported battles: load public ones with `arena db import FILE --source NAME`.",
    "all": "No votes yet and no imported battles.",
}


def display_table(
    lb: Leaderboard,
    *,
    organizations: Sequence[str] | None = None,
    count_label: str = "Votes",
) -> pd.DataFrame:
    """The table a board shows, one row per model of ``lb`` in its order.

    The one formatter of the human boards (columns :data:`DISPLAY_COLUMNS`, with
    ``organizations``) and the judge boards (no organization, ``count_label``
    ``Battles``): rank, name, the score and the interval as ``+up / -down`` points
    rounded to whole points (blank where the data do not bound it), the battles.
    """
    table = lb.table
    rating = table["rating"].to_numpy(np.float64)
    lower = table["ci_lower"].to_numpy(np.float64)
    upper = table["ci_upper"].to_numpy(np.float64)
    ci = [
        f"+{u - r:.0f} / -{r - lo:.0f}" if np.isfinite(lo) and np.isfinite(u) else ""
        for r, lo, u in zip(rating, lower, upper, strict=True)
    ]
    columns: dict[str, Any] = {
        "Rank (UB)": table["rank_ub"].astype(np.int64).to_numpy(),
        "Model": table["model"].to_numpy(object),
    }
    if organizations is not None:
        columns["Organization"] = list(organizations)
    columns["Score"] = np.rint(rating).astype(np.int64)
    columns["95% CI"] = ci
    columns[count_label] = table["battles"].astype(np.int64).to_numpy()
    return pd.DataFrame(columns, columns=list(columns))


def build_board(
    battles: Battles | None,
    names: PublicNames,
    *,
    category: str | None = None,
    style_control: bool = False,
    source: str = "live",
    imported: Battles | None = None,
) -> BoardView:
    """Fit and package one leaderboard (public names) from battles with store names.

    ``battles`` are the live votes; ``imported`` the imported battles rated with them
    (``source`` says which of the two the board is of, for its messages and notes).
    """
    check = combine_sources(battles, imported)
    n_votes = check.n_live + check.n_imported
    if check.battles is None or n_votes == 0:
        return _empty(category, style_control, 0, _NO_VOTES.get(source, _NO_VOTES["live"]), source)
    if style_control and battles is not None:
        refusal = style_control_refusal(n_votes, battles.n_models, len(STYLE_FEATURES))
        if refusal is not None:
            return _empty(category, style_control, n_votes, refusal, source)
    notes = [] if check.message() is None else [names.relabel_text(str(check.message()))]
    battles = check.battles
    filters: dict[str, Any] = {
        "category": category or "all",
        "anonymous_only": True,
        "identity_leaks": "excluded",
    }
    try:
        lb = compute_leaderboard(
            battles, method="bt", ci="sandwich", style_control=style_control, filters=filters
        )
    except UserError as error:
        return _empty(category, style_control, n_votes, names.relabel_text(str(error)), source)
    internal = lb.table
    public_table = internal.assign(model=[names.of(m) for m in internal["model"]])
    public = dataclasses.replace(
        lb, columns=public_table, warnings=tuple(names.relabel_text(w) for w in lb.warnings)
    )
    relabelled = dataclasses.replace(battles, models=tuple(names.of(m) for m in battles.models))
    order = list(public_table["model"][:HEATMAP_MODELS])
    winrate = win_rate_matrix(relabelled, order=order)
    noun = "votes" if source == "live" else "battles"
    notes.insert(0, rank_note(public, n_votes, noun=noun))
    return BoardView(
        category,
        style_control,
        public,
        display_table(
            public, organizations=[names.organization.get(m, "") for m in internal["model"]]
        ),
        winrate,
        n_votes,
        time.time(),
        source=source,
        notes=tuple(notes),
        n_imported=check.n_imported,
    )


def count_battles(counts: pd.DataFrame, category: str | None) -> Battles | None:
    """Anonymous, leak-free vote counts of one category (None: all) as aggregated battles."""
    keep = counts["anony"].to_numpy(bool) & ~counts["identity_leak"].to_numpy(bool)
    if category is not None:
        keep &= (counts["category"] == category).to_numpy(bool)
    rows = counts[keep]
    if rows.empty:
        return None
    outcome = pd.Categorical(rows["winner"], categories=list(WINNER_LABELS)).codes
    return Battles.from_names(
        rows["model_a"].to_numpy(object),
        rows["model_b"].to_numpy(object),
        outcome.astype(np.int8),
        count=rows["count"].to_numpy(np.int64),
        ordered=False,
    )


def _assistant_text(conversation: Any) -> str:
    return "\n\n".join(m["content"] for m in conversation if m.get("role") == "assistant")


def style_battles(session: Session) -> tuple[Battles | None, np.ndarray[Any, Any]]:
    """Every anonymous, leak-free vote with the style features of both answers.

    Read in chunks of votes (bounded memory): only the two names, the outcome, the
    stored category (the one the counts board reads, :func:`arena.store.vote_counts`)
    and eight numbers stay per vote. Returns the battles and each row's category.
    """
    from arena.store import iter_votes

    parts: dict[str, list[Any]] = {k: [] for k in ("a", "b", "o", "cat", "sa", "sb")}
    chunks = iter_votes(
        session, conversations=True, include_identity_leaks=False, categories=True
    )
    for chunk in chunks:
        chunk = chunk[chunk["anony"].to_numpy(bool)]
        if chunk.empty:
            continue
        parts["a"].append(chunk["model_a"].to_numpy(object))
        parts["b"].append(chunk["model_b"].to_numpy(object))
        parts["o"].append(pd.Categorical(chunk["winner"], categories=list(WINNER_LABELS)).codes)
        conv_a = chunk["conversation_a"].tolist()
        conv_b = chunk["conversation_b"].tolist()
        parts["cat"].append(chunk["category"].to_numpy(object))
        parts["sa"].append(features_for_texts(_assistant_text(c) for c in conv_a))
        parts["sb"].append(features_for_texts(_assistant_text(c) for c in conv_b))
    if not parts["a"]:
        return None, np.empty(0, dtype=object)
    battles = Battles.from_names(
        np.concatenate(parts["a"]),
        np.concatenate(parts["b"]),
        np.concatenate(parts["o"]).astype(np.int8),
        style_a=np.vstack(parts["sa"]),
        style_b=np.vstack(parts["sb"]),
        style_names=STYLE_FEATURES,
    )
    return battles, np.concatenate(parts["cat"])


def _vote_counts(session: Session) -> pd.DataFrame:
    """The store's vote counts (one seam, so tests can count or slow the reads)."""
    return vote_counts(session)


def _imported(session: Session) -> Battles | None:
    """The anonymous imported battles (None when there are none)."""
    from arena.store.imports import imported_battles

    return imported_battles(session)


@dataclass
class _Snapshot:
    views: dict[tuple[str, str | None], BoardView]
    categories: tuple[str, ...]
    taken_at: float
    version: int
    n_live_votes: int = 0
    votes_noted: int = 0  # LiveLeaderboard._votes_noted when the refresh started


class LiveLeaderboard:
    """Cached leaderboards of the store, refreshed in the background (module docstring).

    Parameters
    ----------
    read_sessions:
        Read-only session factory of the vote store.
    ttl_s:
        Age after which a page view starts a background refresh.
    clock:
        Monotonic clock (tests).
    """

    def __init__(
        self,
        read_sessions: SessionFactory,
        ttl_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = read_sessions
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._plain: _Snapshot | None = None
        self._style: _Snapshot | None = None
        self._plain_ready = threading.Event()
        self._style_ready = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
        self._stale = {"plain": False, "style": False}
        self._closed = False
        self._version = 0
        self._votes_noted = 0  # votes recorded by this process (note_vote)
        self._start("plain")

    # -- reading ---------------------------------------------------------------------

    def board(
        self,
        category: str | None = None,
        *,
        style_control: bool = False,
        wait: float = 0.0,
        source: str = "live",
    ) -> BoardView | None:
        """The newest board of ``category`` (None: all), or None if none is computed yet.

        ``source`` is ``live``, ``imported`` or ``all`` (:data:`SOURCE_CHOICES`).
        Starts a background refresh when the snapshot is older than the TTL; waits up
        to ``wait`` seconds for the first snapshot, and for the refresh that follows the
        first votes noted by :meth:`note_vote` while the board has none.
        """
        if source not in SOURCE_CHOICES:
            expected = ", ".join(SOURCE_CHOICES)
            raise UserError(f"unknown source {source!r}; expected one of {expected}")
        kind = "style" if style_control else "plain"
        ready = self._style_ready if style_control else self._plain_ready
        self._maybe_refresh(kind)
        if not ready.is_set() and wait > 0:
            ready.wait(wait)
        with self._lock:
            snapshot = self._style if style_control else self._plain
        if snapshot is None:
            return None
        if wait > 0 and self._behind(snapshot):
            snapshot = self._wait_for_newer(kind, snapshot, wait)
        if style_control:
            source = "live"  # imported battles carry no answers: style control is of live votes
        view = snapshot.views.get((source, category))
        if view is None and category is not None and source != "live":
            return _empty(
                category,
                style_control,
                0,
                "Imported battles carry no category: choose the category All, or live votes.",
                source,
            )
        if view is None:
            return _empty(
                category, style_control, 0, f"No votes in the category {category!r} yet.", source
            )
        return view

    def note_vote(self) -> None:
        """A vote was just recorded: a board that shows no votes is stale from now on."""
        with self._lock:
            self._votes_noted += 1
            for kind, snapshot in (("plain", self._plain), ("style", self._style)):
                if snapshot is not None and snapshot.n_live_votes == 0:
                    self._stale[kind] = True

    def _behind(self, snapshot: _Snapshot) -> bool:
        """Whether votes were noted that the snapshot, showing none, cannot contain."""
        with self._lock:
            return snapshot.n_live_votes == 0 and snapshot.votes_noted < self._votes_noted

    def _wait_for_newer(self, kind: str, snapshot: _Snapshot, wait: float) -> _Snapshot:
        """Start a refresh and wait (up to ``wait`` s) for a snapshot newer than ``snapshot``."""
        self._start(kind)
        deadline = self._clock() + wait
        step = 0.02
        while True:
            with self._lock:
                newest = self._style if kind == "style" else self._plain
            if newest is not None and newest.version != snapshot.version:
                return newest
            if self._clock() >= deadline:
                return snapshot
            time.sleep(step)

    def has_imported(self) -> bool:
        """Whether the newest snapshot has imported battles (the page shows the switch)."""
        with self._lock:
            snapshot = self._plain
        if snapshot is None:
            return False
        view = snapshot.views.get(("imported", None))
        return view is not None and view.n_votes > 0

    def categories(self) -> tuple[str, ...]:
        """Categories that have counted votes, in the newest snapshot."""
        with self._lock:
            return self._plain.categories if self._plain is not None else ()

    def age(self) -> float | None:
        """Seconds since the newest plain snapshot was taken (None: none yet)."""
        with self._lock:
            return None if self._plain is None else self._clock() - self._plain.taken_at

    # -- refreshing ------------------------------------------------------------------

    def _ttl(self, kind: str) -> float:
        return self.ttl_s if kind == "plain" else max(self.ttl_s, STYLE_MIN_TTL_S)

    def _maybe_refresh(self, kind: str) -> None:
        with self._lock:
            snapshot = self._plain if kind == "plain" else self._style
            stale = self._stale[kind] or (
                snapshot is not None and self._clock() - snapshot.taken_at >= self._ttl(kind)
            )
        if snapshot is None or stale:
            self._start(kind)

    def _start(self, kind: str) -> None:
        with self._lock:
            if self._closed:
                return
            running = self._threads.get(kind)
            if running is not None and running.is_alive():
                return
            self._stale[kind] = False
            thread = threading.Thread(
                target=self._run, args=(kind,), name=f"leaderboard-{kind}", daemon=True
            )
            self._threads[kind] = thread
        thread.start()

    def _run(self, kind: str) -> None:
        try:
            self.refresh(style_control=kind == "style")
        except Exception:  # keep serving the previous snapshot; try again next TTL
            log.exception("refreshing the %s leaderboard failed", kind)
            with self._lock:
                snapshot = self._plain if kind == "plain" else self._style
                if snapshot is not None:
                    snapshot.taken_at = self._clock()

    def refresh(self, *, style_control: bool = False) -> None:
        """Recompute now, in the calling thread, and publish the new snapshot."""
        started = self._clock()
        with self._lock:
            noted = self._votes_noted
        imported: Battles | None = None
        with self._sessions() as session:
            names = PublicNames.from_models(list_models(session))
            if style_control:
                battles, row_categories = style_battles(session)
            else:
                counts = _vote_counts(session)
                imported = _imported(session)
        views: dict[tuple[str, str | None], BoardView] = {}
        if style_control:
            cats = sorted({c for c in row_categories.tolist() if isinstance(c, str)})
            n_live = 0 if battles is None else battles.n_battles
            views["live", None] = build_board(battles, names, style_control=True)
            for cat in cats:
                sub = None if battles is None else battles.take(row_categories == cat)
                views["live", cat] = build_board(sub, names, category=cat, style_control=True)
        else:
            counted = counts[counts["anony"] & ~counts["identity_leak"]]
            cats = sorted({c for c in counted["category"] if isinstance(c, str)})
            live_all = count_battles(counts, None)
            n_live = 0 if live_all is None else live_all.n_battles
            views["live", None] = build_board(live_all, names)
            views["imported", None] = build_board(
                None, names, source="imported", imported=imported
            )
            views["all", None] = (  # nothing imported: the live board (no second fit)
                build_board(live_all, names, source="all", imported=imported)
                if imported is not None
                else dataclasses.replace(views["live", None], source="all")
            )
            for cat in cats:
                views["live", cat] = build_board(count_battles(counts, cat), names, category=cat)
        with self._lock:
            self._version += 1
            snapshot = _Snapshot(views, tuple(cats), started, self._version, n_live, noted)
            if style_control:
                self._style = snapshot
            else:
                self._plain = snapshot
        (self._style_ready if style_control else self._plain_ready).set()

    def invalidate(self) -> None:
        """Names or votes changed outside the TTL's rhythm: refresh both boards now."""
        with self._lock:
            self._stale = {"plain": True, "style": True}
        self._start("plain")
        if self._style is not None:
            self._start("style")

    def close(self) -> None:
        """Start no more refreshes (running ones finish in their daemon threads)."""
        with self._lock:
            self._closed = True
