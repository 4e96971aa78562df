"""Honest evaluation: hold-out, combinatorial purged CV, trading metrics, PBO, PSR/DSR.

Everything a search phase and the deploy gate need to score a policy:

* :func:`holdout_split` cuts the final hold-out period before any search;
* :class:`CombinatorialPurgedCV` splits the rest into purged, embargoed splits
  and reassembles backtest paths;
* :func:`segment_metrics` and the named :data:`OBJECTIVES` score test groups;
* :func:`probability_of_backtest_overfitting`, :func:`probabilistic_sharpe_ratio`,
  :func:`expected_max_sharpe` and :func:`deflated_sharpe_ratio` judge a phase's winner;
* :func:`evaluate_policy` runs any observation-to-action callable over one segment.
"""

from cappuccino_ray.validation._cpcv import CombinatorialPurgedCV, balanced_order, index_segments
from cappuccino_ray.validation._evaluate import (
    EvaluationResult,
    Policy,
    buy_and_hold_policy,
    evaluate_policy,
    random_policy,
)
from cappuccino_ray.validation._holdout import holdout_split
from cappuccino_ray.validation._metrics import (
    SegmentMetrics,
    annualised_sharpe,
    per_bar_sharpe,
    segment_metrics,
    simple_returns,
)
from cappuccino_ray.validation._objective import (
    OBJECTIVES,
    Objective,
    get_objective,
    objective,
    sharpe_excess,
    sharpe_stable,
)
from cappuccino_ray.validation._pbo import PBOResult, probability_of_backtest_overfitting
from cappuccino_ray.validation._sharpe import (
    SharpeStats,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    sharpe_stats,
)

__all__ = [
    "OBJECTIVES",
    "CombinatorialPurgedCV",
    "EvaluationResult",
    "Objective",
    "PBOResult",
    "Policy",
    "SegmentMetrics",
    "SharpeStats",
    "annualised_sharpe",
    "balanced_order",
    "buy_and_hold_policy",
    "deflated_sharpe_ratio",
    "evaluate_policy",
    "expected_max_sharpe",
    "get_objective",
    "holdout_split",
    "index_segments",
    "objective",
    "per_bar_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "random_policy",
    "segment_metrics",
    "sharpe_excess",
    "sharpe_stable",
    "sharpe_stats",
    "simple_returns",
]
