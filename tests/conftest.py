"""Shared fixtures: the real pairwise data in ../shared (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena.battles.table import Battles

PAIRWISE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pairwise"
ARENA_COUNTS = PAIRWISE / "chatbotarena_20240814_paircounts.csv"
LLMFAO = PAIRWISE / "llmfao_crowd_comparisons.csv"
LLMFAO_GOLDEN = PAIRWISE / "llmfao_golden_evalica.csv"


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"shared data file {path} is absent (the ../shared folder is not laid out)")
    return path


@pytest.fixture(scope="session")
def arena_counts_frame() -> pd.DataFrame:
    return pd.read_csv(_need(ARENA_COUNTS))


@pytest.fixture(scope="session")
def arena_counts(arena_counts_frame: pd.DataFrame) -> Battles:
    df = arena_counts_frame
    counts = df[["wins_a", "wins_b", "tie", "tie_bothbad"]].to_numpy().ravel()
    b = Battles.from_names(
        np.repeat(df.model_a.to_numpy(), 4),
        np.repeat(df.model_b.to_numpy(), 4),
        np.tile([0, 1, 2, 3], len(df)),
        count=counts,
        ordered=False,
    )
    return b.take(b.count > 0)


@pytest.fixture(scope="session")
def llmfao_frame() -> pd.DataFrame:
    return pd.read_csv(_need(LLMFAO))


@pytest.fixture(scope="session")
def llmfao(llmfao_frame: pd.DataFrame) -> Battles:
    df = llmfao_frame
    outcome = df.winner.map({"left": 0, "right": 1, "tie": 2}).to_numpy()
    return Battles.from_names(df.left.to_numpy(), df.right.to_numpy(), outcome)


@pytest.fixture(scope="session")
def llmfao_golden() -> pd.DataFrame:
    return pd.read_csv(_need(LLMFAO_GOLDEN))
