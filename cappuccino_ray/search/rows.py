"""The two kinds of row a trial reports to Tune.

After each CPCV split a trial reports a *split* row: the running objective, the
split's scores and a checkpoint; ASHA, the searchers and every reader of the
results go by these. While a split trains it also reports *iteration* rows
(``tracking.curve_every_s``): the learning curve under ``train/...`` keys
(episode return, losses, env steps/s), with the scores so far repeated because
Tune requires the job's metric and ASHA's time attribute in every row.
``result_kind`` tells them apart, e.g. in ``ExperimentAnalysis`` dataframes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ITERATION_ROW", "RESULT_KIND", "SPLIT_ROW", "is_split_row"]

#: The key naming a row's kind.
RESULT_KIND = "result_kind"
#: A row reported after a split: scores and a checkpoint.
SPLIT_ROW = "split"
#: A learning-curve row reported while a split trains (no checkpoint).
ITERATION_ROW = "iteration"


def is_split_row(result: Mapping[str, Any]) -> bool:
    """Whether ``result`` is a split row (rows written before the kinds existed count as split rows)."""
    return result.get(RESULT_KIND, SPLIT_ROW) == SPLIT_ROW
