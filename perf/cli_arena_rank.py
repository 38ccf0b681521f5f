"""arena-rank 0.1.1 on the command line: BT + sandwich, BT + bootstrap, style control.

    python perf/cli_arena_rank.py bt-sandwich FILE.parquet --output out.csv
    python perf/cli_arena_rank.py bootstrap FILE.parquet --rounds 100 --output out.csv
    python perf/cli_arena_rank.py style FILE.parquet --output out.csv

``bt-sandwich``: ``BradleyTerry.compute_ratings_and_cis(ci_method="sandwich")``;
``bootstrap``: the same with ``ci_method="bootstrap"`` (a multiprocessing pool of every
CPU, started with ``spawn``: see perf/README.md); ``style``: ``ContextualBradleyTerry``
point fit on the four style features, unweighted, no penalty, ``(a - b) / (a + b + 1)``
like ours (``perf/peers.py``).
"""

from __future__ import annotations

import sys
from functools import partial

from peer_cli import main
from peers import arena_rank_bt, arena_rank_style_bt

TASKS = {
    "bt-sandwich": partial(arena_rank_bt, ci="sandwich"),
    "bootstrap": partial(arena_rank_bt, ci="bootstrap"),
    "style": partial(arena_rank_style_bt, offset=1.0, reg=0.0),
}

if __name__ == "__main__":
    sys.exit(main("arena-rank", TASKS))
