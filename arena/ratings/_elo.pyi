"""Type stub of the compiled online Elo loop (arena/ratings/_elo.c)."""

import numpy as np
from numpy.typing import NDArray

def elo_loop(
    a: NDArray[np.int64],
    b: NDArray[np.int64],
    score: NDArray[np.float64],
    kw: NDArray[np.float64],
    ratings: NDArray[np.float64],
    scale: float,
    base: float,
    /,
) -> None: ...
