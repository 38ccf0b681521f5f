"""Pure maths over arrays: Bradley–Terry, Davidson, online Elo, intervals, style control.

Every function here takes numpy arrays (or the small records defined alongside) and
returns arrays; no file I/O, no printing, no pandas (``make lint`` checks it). Ratings are
fitted on the natural-log scale (``theta``) and converted to the arena scale by
:class:`RatingScale`. The functions are exported here, as choix does
(``from arena.ratings import fit_bt, sandwich_bt``); the modules say what each is for:

* :mod:`~arena.ratings.pairs`: battles binned into (pair, outcome) cells and tallies;
* :mod:`~arena.ratings.bt`, :mod:`~arena.ratings.davidson`: the maximum-likelihood fits
  and their sandwich covariances; :mod:`~arena.ratings.newton` the optimiser;
* :mod:`~arena.ratings.graph`: whether the MLE exists, and which models keep it from;
* :mod:`~arena.ratings.elo`: online Elo (a compiled loop);
* :mod:`~arena.ratings.intervals`: normal and percentile intervals, the bootstrap, ranks;
* :mod:`~arena.ratings.style`: Bradley–Terry with style covariates;
* :mod:`~arena.ratings.scale`, :mod:`~arena.ratings.special`: the rating scale, and the
  few special functions (numpy and the standard library, no scipy).
"""

from arena.ratings.bt import Fit, centred_covariance, fit_bt, sandwich_bt
from arena.ratings.davidson import fit_davidson, sandwich_davidson, tie_totals
from arena.ratings.elo import online_elo, online_elo_bootstrap
from arena.ratings.graph import (
    GraphDiagnosis,
    diagnose,
    diagnose_davidson,
    laplacian,
    strong_components,
    weak_components,
)
from arena.ratings.intervals import (
    multinomial_resamples,
    normal_interval,
    percentile_interval,
    rank_upper_bound,
)
from arena.ratings.newton import NewtonResult, maximise
from arena.ratings.pairs import PairCells, PairStats, cells_from_arrays, model_tallies
from arena.ratings.scale import RatingScale
from arena.ratings.special import expit, log_expit, logsumexp, ndtr, ndtri
from arena.ratings.style import (
    StyleDesign,
    StyleRows,
    fit_style_bt,
    sandwich_style,
    style_design,
)

__all__ = [
    "Fit",
    "GraphDiagnosis",
    "NewtonResult",
    "PairCells",
    "PairStats",
    "RatingScale",
    "StyleDesign",
    "StyleRows",
    "cells_from_arrays",
    "centred_covariance",
    "diagnose",
    "diagnose_davidson",
    "expit",
    "fit_bt",
    "fit_davidson",
    "fit_style_bt",
    "laplacian",
    "log_expit",
    "logsumexp",
    "maximise",
    "model_tallies",
    "multinomial_resamples",
    "ndtr",
    "ndtri",
    "normal_interval",
    "online_elo",
    "online_elo_bootstrap",
    "percentile_interval",
    "rank_upper_bound",
    "sandwich_bt",
    "sandwich_davidson",
    "sandwich_style",
    "strong_components",
    "style_design",
    "tie_totals",
    "weak_components",
]
