"""Shared fixtures: the real pairwise data, found by :mod:`arena.data`.

The Chatbot Arena counts come from the ``leaderbot`` package (``make install`` installs it)
or ``../shared``; the LLMFAO files only from ``../shared`` (no package ships them). A test
skips, with the reason, only when no copy exists.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena.battles.table import Battles
from arena.data import DatasetMissing, locate, pair_counts_frame


def data_file(name: str) -> Path:
    """The file of a data set of :data:`arena.data.DATASETS`; skips when no copy exists."""
    try:
        return locate(name)
    except DatasetMissing as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="session")
def arena_counts_frame() -> pd.DataFrame:
    data_file("chatbotarena_20240814")
    return pair_counts_frame("chatbotarena_20240814")


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
    return pd.read_csv(data_file("llmfao_crowd_comparisons"))


@pytest.fixture(scope="session")
def llmfao(llmfao_frame: pd.DataFrame) -> Battles:
    df = llmfao_frame
    outcome = df.winner.map({"left": 0, "right": 1, "tie": 2}).to_numpy()
    return Battles.from_names(df.left.to_numpy(), df.right.to_numpy(), outcome)


@pytest.fixture(scope="session")
def llmfao_golden() -> pd.DataFrame:
    return pd.read_csv(data_file("llmfao_golden_evalica"))
