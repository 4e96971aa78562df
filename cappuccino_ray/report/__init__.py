"""Results people can look at: run and trial queries, the HTML report, tracking callbacks.

Heavy libraries (Ray, matplotlib, Optuna) are imported by the submodules that
need them: ``queries`` and ``tracking`` stay cheap to import.
"""

from cappuccino_ray.report.queries import (
    RunSummary,
    TrialRecord,
    best_per_algorithm,
    best_per_combination,
    failed_trials,
    list_runs,
    load_trials,
    resolve_run,
)
from cappuccino_ray.report.tracking import tracking_callbacks

__all__ = [
    "RunSummary",
    "TrialRecord",
    "best_per_algorithm",
    "best_per_combination",
    "failed_trials",
    "list_runs",
    "load_trials",
    "resolve_run",
    "tracking_callbacks",
]
