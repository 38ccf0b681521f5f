"""Where the public data sets are found: the installed package first, ``../shared`` second."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from arena.data import DATASETS, PAIRWISE_ENV, DatasetMissing, locate, pair_counts_frame


def test_arena_counts_come_from_the_leaderbot_package_without_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PAIRWISE_ENV, str(tmp_path))  # an empty shared folder
    path = locate("chatbotarena_20240814")
    assert path.name == "chatbotarena_20240814.json" and "leaderbot" in path.parts
    frame = pair_counts_frame("chatbotarena_20240814")
    assert len(frame) == 3460
    totals = frame[["wins_a", "wins_b", "tie", "tie_bothbad"]].sum().tolist()
    assert totals == [595_570, 498_305, 281_121, 295_254]  # the shared CSV's README figures


def test_a_data_set_no_package_ships_falls_back_to_the_shared_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "llmfao_golden_evalica.csv").write_text("algorithm,item,score\nelo,a,1\n")
    monkeypatch.setenv(PAIRWISE_ENV, str(tmp_path))
    assert locate("llmfao_golden_evalica") == tmp_path / "llmfao_golden_evalica.csv"


def test_a_missing_data_set_says_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PAIRWISE_ENV, str(tmp_path))
    with pytest.raises(DatasetMissing) as missing:
        locate("llmfao_crowd_comparisons")
    assert str(tmp_path) in str(missing.value) and PAIRWISE_ENV in str(missing.value)
    with pytest.raises(Exception, match="unknown data set 'nope'"):
        locate("nope")


def test_module_prints_the_path_for_the_makefile(tmp_path: Path) -> None:
    env_run = subprocess.run(
        [sys.executable, "-m", "arena.data", "chatbotarena_20240814"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(env_run.stdout.strip()).is_file()
    listing = subprocess.run(
        [sys.executable, "-m", "arena.data"], capture_output=True, text=True, check=True
    )
    assert all(name in listing.stdout for name in DATASETS)
