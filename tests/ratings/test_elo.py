"""Online Elo: the C loop equals the numba one, refuses bad calls, and has a fallback."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from arena.ratings import elo


def _c_loop() -> Any:
    loop = elo.c_kernel()
    assert loop is not None, "the C extension arena.ratings._elo is not built (pip install -e .)"
    return loop


elo_loop = _c_loop()


def battles(n: int, models: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, models, n).astype(np.int64)
    b = (a + rng.integers(1, models, n)) % models
    score = np.array([1.0, 0.0, 0.5, 0.5])[rng.integers(0, 4, n)]
    kw = rng.uniform(0.5, 8.0, n)
    return a, b.astype(np.int64), score, kw


@pytest.mark.parametrize(("scale", "base"), [(400.0, 10.0), (173.7, np.e), (1.0, 2.0)])
def test_the_c_loop_gives_the_numba_loop_s_ratings(scale: float, base: float) -> None:
    a, b, score, kw = battles(200_000, 57)
    ours, theirs = np.full(57, 1000.0), np.full(57, 1000.0)
    elo_loop(a, b, score, kw, ours, scale, base)
    elo.numba_kernel()(a, b, score, kw, theirs, scale, base)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    assert np.ptp(ours) > 1  # the loop did move the ratings


def test_online_elo_uses_the_c_loop() -> None:
    assert elo.kernel() is elo_loop
    a, b, score, _ = battles(1000, 5)
    outcome = np.select([score == 1.0, score == 0.0], [0, 1], 2)
    ratings = elo.online_elo(5, a, b, outcome)
    assert ratings.shape == (5,) and abs(ratings.mean() - 1000.0) < 1e-9  # zero-sum


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"a": np.zeros(10, np.int32)}, "a must be a 1-D int64 array"),
        ({"score": np.zeros(10, np.float32)}, "score must be a 1-D float64 array"),
        ({"kw": np.zeros((5, 2))}, "kw must be a 1-D float64 array"),
        ({"b": np.zeros(9, np.int64)}, "differ in length"),
        ({"a": np.full(10, 7, np.int64)}, "battle 0 names model 7 or 1; there are 3"),
        ({"b": np.full(10, -1, np.int64)}, "names model 0 or -1"),
        ({"scale": 0.0}, "scale must be > 0 and base > 1"),
        ({"base": float("nan")}, "scale must be > 0 and base > 1"),
        ({"a": [0] * 10}, "a must be a contiguous array"),
        ({"a": np.zeros(20, np.int64)[::2]}, "a must be a contiguous array"),
    ],
)
def test_a_bad_call_raises_instead_of_writing_past_the_ratings(
    change: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {
        "a": np.zeros(10, np.int64),
        "b": np.ones(10, np.int64),
        "score": np.ones(10),
        "kw": np.ones(10),
        "ratings": np.full(3, 1000.0),
        "scale": 400.0,
        "base": 10.0,
    }
    args.update(change)
    before = np.array(args["ratings"], copy=True)
    with pytest.raises((TypeError, ValueError), match=message):
        elo_loop(*args.values())
    np.testing.assert_array_equal(args["ratings"], before)  # nothing half-updated


def test_read_only_ratings_are_refused() -> None:
    ratings = np.full(3, 1000.0)
    ratings.setflags(write=False)
    one = np.zeros(1, np.int64)
    with pytest.raises(TypeError, match="ratings must be a contiguous writable array"):
        elo_loop(one, one + 1, np.ones(1), np.ones(1), ratings, 400.0, 10.0)


def test_without_the_c_extension_the_numba_kernel_runs() -> None:
    # a fresh process where the extension cannot be imported (as after an install
    # without a C compiler)
    probe = (
        "import sys, numpy as np\n"
        "sys.modules['arena.ratings._elo'] = None\n"
        "from arena.ratings import elo\n"
        "r = elo.online_elo(3, np.array([0, 1]), np.array([1, 2]), np.array([0, 2]))\n"
        "print('numba' in sys.modules, ' '.join(f'{x:.6f}' for x in r))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    )
    used_numba, *ratings = done.stdout.split()
    assert used_numba == "True"
    expected = elo.online_elo(3, np.array([0, 1]), np.array([1, 2]), np.array([0, 2]))
    np.testing.assert_allclose([float(x) for x in ratings], expected, atol=1e-6)
