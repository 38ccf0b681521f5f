"""Battles in, leaderboard out: what a fit is asked (:class:`FitSpec`) and the fit itself.

:func:`compute_leaderboard` chooses the model (Bradley–Terry, Davidson or online Elo),
fits it, computes intervals, anchors the scale and assembles a
:class:`~arena.records.Leaderboard` record with everything needed to reproduce it. The
package is one module per job:

* :mod:`~arena.leaderboard.spec`: :class:`FitSpec`, its defaults and its checks;
* :mod:`~arena.leaderboard.estimate`: one estimator per method (Bradley–Terry and
  Davidson on pair cells, style control, online Elo);
* :mod:`~arena.leaderboard.widening`: the intervals the data cannot bound, and the
  ``ci_flag`` column (:data:`CI_FLAGS`);
* :mod:`~arena.leaderboard.assemble`: :func:`compute_leaderboard`, the rating scale, the
  anchor and the table.

The maths lives in :mod:`arena.ratings` (arrays in, arrays out).
"""

from arena.leaderboard.assemble import ArenaWarning, compute_leaderboard
from arena.leaderboard.spec import PRIOR_SD_POINTS, TOLERANCE, FitSpec
from arena.leaderboard.widening import CI_FLAGS
from arena.records import CI_KINDS, METHODS

__all__ = [
    "CI_FLAGS",
    "CI_KINDS",
    "METHODS",
    "PRIOR_SD_POINTS",
    "TOLERANCE",
    "ArenaWarning",
    "FitSpec",
    "compute_leaderboard",
]
