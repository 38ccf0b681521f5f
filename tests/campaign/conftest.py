"""Constructed battles with known answers, and votes databases built from them."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from arena.battles import Battles

PPN = 400 / math.log(10)


def expected_battles(
    ratings: dict[str, float],
    per_pair: int | dict[tuple[str, str], int],
    *,
    tie_share: float = 0.0,
    pairs: Iterable[tuple[str, str]] | None = None,
) -> Battles:
    """Battles whose outcome counts are the Bradley-Terry expectation (fits hit the truth).

    Ties (``tie_share`` of each pair, capped so probabilities stay valid) are split so
    that the half-tie score equals the true win probability.
    """
    names = list(ratings)
    chosen = list(pairs) if pairs is not None else [
        (a, b) for i, a in enumerate(names) for b in names[i + 1 :]
    ]
    rows_a, rows_b, outcome, count = [], [], [], []
    for a, b in chosen:
        n = per_pair if isinstance(per_pair, int) else per_pair.get((a, b), 0)
        if n <= 0:
            continue
        p = 1 / (1 + math.exp((ratings[b] - ratings[a]) / PPN))
        tau = min(tie_share, 2 * min(p, 1 - p))
        for code, share in ((0, p - tau / 2), (1, 1 - p - tau / 2), (2, tau)):
            c = round(n * share)
            if c > 0:
                rows_a.append(a)
                rows_b.append(b)
                outcome.append(code)
                count.append(c)
    return Battles.from_names(
        np.array(rows_a, dtype=object),
        np.array(rows_b, dtype=object),
        np.array(outcome, dtype=np.int8),
        count=np.array(count, dtype=np.int64),
        ordered=False,
    )


def sampled_battles(
    ratings: dict[str, float],
    per_pair: int,
    rng: np.random.Generator,
    *,
    prompts: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Single battles drawn from the truth, FastChat style (for files and databases)."""
    names = list(ratings)
    rows: list[dict[str, Any]] = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            p = 1 / (1 + math.exp((ratings[b] - ratings[a]) / PPN))
            for _ in range(per_pair):
                winner = "model_a" if rng.random() < p else "model_b"
                prompt = prompts[len(rows) % len(prompts)] if prompts else f"prompt {len(rows)}"
                rows.append({"model_a": a, "model_b": b, "winner": winner, "prompt": prompt})
    return rows


@pytest.fixture(scope="session")
def votes_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from arena.store import upgrade

    path = tmp_path_factory.mktemp("campaign-template") / "arena.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def make_votes_db(
    tmp_path: Path, votes_template: Path
) -> Callable[[list[dict[str, Any]], list[dict[str, Any]]], str]:
    """Build a migrated SQLite votes database holding ``models`` and ``battles``.

    Each battle is ``{"model_a", "model_b", "winner", "prompt"}`` plus optional
    ``"category"``, ``"params"`` (the battle's params) and ``"anonymous"``.
    """
    counter = iter(range(1_000_000))

    def make(models: list[dict[str, Any]], battles: list[dict[str, Any]]) -> str:
        from arena.store import (
            create_battle,
            make_sessionmaker,
            open_engine,
            record_vote,
            set_answers,
            start_generation,
            upsert_models,
        )

        path = tmp_path / f"votes{next(counter)}.db"
        shutil.copy(votes_template, path)
        url = f"sqlite:///{path}"
        engine = open_engine(url)
        try:
            with make_sessionmaker(engine).begin() as session:
                upsert_models(session, models)
                for i, row in enumerate(battles):
                    battle = create_battle(
                        session,
                        row["model_a"],
                        row["model_b"],
                        row["prompt"],
                        category=row.get("category"),
                        params=row.get("params", {}),
                        anonymous=row.get("anonymous", True),
                        voter=f"voter-{i % 7}",
                    )
                    start_generation(session, battle.id)
                    set_answers(session, battle.id, "answer a", "answer b")
                    record_vote(session, battle.id, row["winner"], f"voter-{i % 7}")
        finally:
            engine.dispose()
        return url

    return make
