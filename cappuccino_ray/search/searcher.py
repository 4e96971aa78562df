"""A Tune ``Searcher`` that keeps one Optuna (TPE) study per combination and deals trials in turn.

Why not one ``OptunaSearch`` over the whole space:

* Optuna's samplers cannot take a grid dimension: Ray Tune rejects
  ``tune.grid_search`` inside an ``OptunaSearch`` space.
* Making the combination a ``tune.choice`` lets TPE pick it like any other
  parameter; it then favours early lucky cells and covers the grid unevenly
  (one ``choice`` over 25 combinations reached only 20 of them in 40 samples).
* The combinations differ in kind (a 5-minute and a 4-hour agent want
  different learning rates), so one shared TPE history would mix unrelated
  evidence.

So :class:`ComboSearcher` holds one seeded :class:`OptunaSearch` per
combination, hands trials out round-robin (each combination gets exactly
``trials_per_combo``), forwards each result to the study that proposed the
trial, and pickles all of it in ``save`` so ``Tuner.restore`` resumes every
study where it stopped.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from typing import Any

from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from cappuccino_ray.config.search import ParamSpec
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.ranking import combo_label
from cappuccino_ray.search.rows import is_split_row
from cappuccino_ray.search.space import fit_point, to_optuna

__all__ = ["ComboSearcher", "combo_label"]


class ComboSearcher(Searcher):
    """One seeded Optuna study per combination; trials dealt round-robin, exactly N each.

    Args:
        combos: The fixed keys of each combination (e.g. ``{"max_hold_days": 7, "interval": "1h"}``).
        spaces: The searched space of each combination (same length as ``combos``).
        trials_per_combo: Trials each combination gets.
        metric: Result key to optimise.
        mode: ``"max"`` or ``"min"``.
        seed: Base seed; combination ``i``'s sampler uses ``seed + i``, trial ``k`` gets
            ``config["seed"] = seed * 100_000 + k``.
        base_config: Keys every trial gets (budget, phase, ...).
        points_to_evaluate: Per combination, configurations evaluated first (fitted into its space).
        storage: SQLAlchemy URL (e.g. ``sqlite:///run/optuna.db``) where the studies are kept, so
            ``optuna-dashboard URL`` shows them live; ``None`` keeps them in memory. Either way the
            pickle of :meth:`save` holds them for ``Tuner.restore`` (an RDB study reconnects, and
            ``load_if_exists`` picks up the stored trials).
        study_prefix: Prepended to each study's name, the combination's label (e.g. ``phase1/``).
    """

    def __init__(
        self,
        combos: Sequence[Mapping[str, Any]],
        spaces: Sequence[Mapping[str, ParamSpec]],
        *,
        trials_per_combo: int,
        metric: str = "objective",
        mode: str = "max",
        seed: int = 0,
        base_config: Mapping[str, Any] | None = None,
        points_to_evaluate: Sequence[Sequence[Mapping[str, Any]]] | None = None,
        storage: str | None = None,
        study_prefix: str = "",
    ) -> None:
        """Build one ``OptunaSearch`` per combination."""
        super().__init__(metric=metric, mode=mode)
        if not combos or len(combos) != len(spaces):
            raise ConfigError("ComboSearcher needs one search space per combination (and at least one)")
        if trials_per_combo < 1:
            raise ConfigError(f"trials_per_combo must be >= 1, got {trials_per_combo}")
        points = points_to_evaluate or [[] for _ in combos]
        self.combos = [dict(c) for c in combos]
        self.trials_per_combo = trials_per_combo
        self.base_config = dict(base_config or {})
        self.seed = seed
        rdb = _rdb_storage(storage) if storage else None
        self.searchers = [
            OptunaSearch(
                space=to_optuna(space),
                metric=metric,
                mode=mode,
                seed=seed + i,
                points_to_evaluate=[fit_point(p, space) for p in pts] or None,
                storage=rdb,
                study_name=f"{study_prefix}{combo_label(combo)}" if rdb is not None else None,
            )
            for i, (combo, space, pts) in enumerate(zip(self.combos, spaces, points, strict=True))
        ]
        self.issued = [0] * len(combos)
        self.completed = [0] * len(combos)
        self.trial_combo: dict[str, int] = {}
        self._next = 0

    @property
    def total_trials(self) -> int:
        """Trials this searcher will hand out in all."""
        return self.trials_per_combo * len(self.combos)

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        """Accept Tune's metric/mode only where none was given; the spaces are our own."""
        if self._metric is None and metric:
            self._metric = metric
        if self._mode is None and mode:
            self._mode = mode
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """The next combination with trials left, round-robin; ``FINISHED`` when all are dealt."""
        n = len(self.combos)
        for k in range(n):
            i = (self._next + k) % n
            if self.issued[i] < self.trials_per_combo:
                break
        else:
            finished: Any = Searcher.FINISHED  # Tune's sentinel string: no more trials
            return finished
        params = self.searchers[i].suggest(trial_id)
        if params is None:
            return None
        index = sum(self.issued)
        self.issued[i] += 1
        self._next = (i + 1) % n
        self.trial_combo[trial_id] = i
        return {
            **self.base_config,
            **self.combos[i],
            **params,
            "seed": self.seed * 100_000 + index,
            "trial_index": index,
        }

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Forward an intermediate (per-split) result to the trial's study; curve rows are not scores."""
        i = self.trial_combo.get(trial_id)
        if i is not None and self._metric in result and is_split_row(result):
            self.searchers[i].on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Tell the trial's study the final objective (or the failure)."""
        i = self.trial_combo.get(trial_id)
        if i is None:
            return
        self.searchers[i].on_trial_complete(trial_id, result, error)
        self.completed[i] += 1

    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue: every study, the counters and the trial map."""
        return dict(self.__dict__)

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`get_state`."""
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        """Pickle the state (Tune writes to a temp name and renames it into place)."""
        with open(checkpoint_path, "wb") as fh:
            pickle.dump(self.get_state(), fh)

    def restore(self, checkpoint_path: str) -> None:
        """Load the state written by :meth:`save`."""
        with open(checkpoint_path, "rb") as fh:
            self.set_state(pickle.load(fh))

    def study_trials(self, combo_index: int) -> int:
        """Number of trials the combination's Optuna study has recorded."""
        study = self.searchers[combo_index]._ot_study
        return len(study.trials) if study is not None else 0


def _rdb_storage(url: str) -> Any:
    """Optuna's RDB storage at ``url`` (its tables are created on first use)."""
    import optuna

    try:
        return optuna.storages.RDBStorage(url)
    except Exception as exc:  # SQLAlchemy raises several types for a bad URL or an unreachable server
        raise ConfigError(f"--optuna-storage {url!r}: cannot open it ({exc}); use a SQLAlchemy URL") from exc
