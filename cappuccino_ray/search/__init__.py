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
* ``ranking``: combination labels and the one rule that picks the best trial (no Ray import).
"""
