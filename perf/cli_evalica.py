"""evalica 0.4.2 on the command line: Bradley–Terry (point) and online Elo.

    python perf/cli_evalica.py bt FILE.parquet --output out.csv
    python perf/cli_evalica.py elo FILE.parquet --output out.csv

``bt``: ``evalica.bradley_terry`` (Rust MM iterations, its default tolerance; no
interval); ``elo``: ``evalica.elo(k=4)`` in file order (``perf/peers.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from peer_cli import main
from peers import evalica_bt, evalica_elo

TASKS: dict[str, Callable[..., Any]] = {"bt": evalica_bt, "elo": evalica_elo}

if __name__ == "__main__":
    sys.exit(main("evalica", TASKS))
