"""The two-phase search on Ray Tune.

Modules (imported on use, so ``import cappuccino_ray.search`` stays light):

* ``trainable``: the CPCV Tune trainable (one trial, a report per split);
* ``searcher``: :class:`ComboSearcher`, one Optuna study per combination, trials dealt in turn;
* ``space``: config search spaces as Optuna distributions;
* ``runner``: one Tune job (concurrency, resources, ASHA, failures, checkpoints, resume);
* ``phase1`` / ``phase2``: the two phases and their result files;
* ``markets``: loading, hold-out cut and resampling; ``holdout``: the winner on the hold-out;
* ``pipeline``: the whole job and ``two_phase_training_report.json``;
* ``progress``: the live terminal view; ``results``: reading experiments into rows;
* ``splits``: where a trial's CPCV splits lie and in which order they are scored;
* ``paths``: backtest paths, the PBO and the deflated Sharpe taken over them;
* ``warm``: the phase-2 warm start from phase 1's checkpoint of the same split.

The ranking rule lives below this package, in :mod:`cappuccino_ray.ranking`.
"""
