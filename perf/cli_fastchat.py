"""FastChat (fschat 0.2.36) on the command line: BT (point), its bootstrap, online Elo.

    python perf/cli_fastchat.py bt FILE.parquet --output out.csv
    python perf/cli_fastchat.py bootstrap FILE.parquet --rounds 100 --output out.csv
    python perf/cli_fastchat.py elo FILE.parquet --output out.csv

``fastchat/serve/monitor/elo_analysis.py``: ``compute_elo_mle_with_tie`` (scikit-learn
logistic regression on a dense one-hot design; no interval), ``get_bootstrap_result``
(rows resampled, refitted, single process; rating = bootstrap median) and
``compute_elo`` (pure-Python loop, K=4) (``perf/peers.py``).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TQDM_DISABLE", "1")  # FastChat's bootstrap draws a tqdm bar

from peer_cli import main
from peers import fastchat_bootstrap, fastchat_bt, fastchat_elo

TASKS = {"bt": fastchat_bt, "bootstrap": fastchat_bootstrap, "elo": fastchat_elo}

if __name__ == "__main__":
    sys.exit(main("fastchat", TASKS))
