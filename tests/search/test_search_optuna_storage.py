"""Optuna studies in an RDB (SQLite here): one per combination, readable by optuna-dashboard, resumable."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from cappuccino_ray.errors import ConfigError
from cappuccino_ray.search.searcher import ComboSearcher
from tests.search.test_search_searcher import COMBOS, drain, make


def _complete(s: ComboSearcher, ids: list[str], value: float) -> None:
    for k, tid in enumerate(ids):
        s.on_trial_complete(tid, {"objective": value + k})


def test_studies_are_written_to_the_database_and_resume_after_a_restore(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    s = make(trials=2, storage=url, study_prefix="phase1/")
    ids = [f"t{k}" for k in range(len(COMBOS))]
    first = [s.suggest(t) for t in ids]  # one trial per combination, in turn
    _complete(s, ids[:3], 0.5)
    # What optuna-dashboard lists: one study per combination, named by its label.
    names = sorted(st.study_name for st in optuna.get_all_study_summaries(url))
    assert names == sorted(f"phase1/{d}d/{i}" for d in (3, 7) for i in ("1h", "4h", "30m"))
    study = optuna.load_study(study_name="phase1/3d/1h", storage=url)
    assert [t.state.name for t in study.trials] == ["COMPLETE"]
    assert study.trials[0].value == 0.5
    assert study.trials[0].params["hidden_size"] == first[0]["hidden_size"]  # type: ignore[index]

    s.save(str(tmp_path / "searcher.pkl"))  # what Tune does; the driver then dies
    restored = make(trials=9, seed=42)  # other settings: the pickle replaces them all
    restored.restore(str(tmp_path / "searcher.pkl"))
    _complete(restored, ids[3:], 2.0)  # trials proposed before the save report to their stored study
    rest = drain(restored, prefix="u")
    assert len(rest) == len(COMBOS)  # the second trial of each combination, and then FINISHED
    _complete(restored, [f"u{k}" for k in range(len(rest))], 5.0)
    counts = {st.study_name: st.n_trials for st in optuna.get_all_study_summaries(url)}
    assert set(counts.values()) == {2}  # both trials of every combination are in the database
    study = optuna.load_study(study_name="phase1/7d/30m", storage=url)
    assert sorted(t.value for t in study.trials) == [4.0, 10.0]  # type: ignore[type-var]


def test_without_storage_the_studies_stay_in_memory() -> None:
    s = make(trials=1)
    assert s.searchers[0]._ot_study is not None
    assert isinstance(s.searchers[0]._ot_study._storage, optuna.storages.InMemoryStorage)


def test_a_bad_url_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open it"):
        make(trials=1, storage="nosuchdriver://x")


def test_the_flags_reach_the_run_settings(tmp_path: Path) -> None:
    from cappuccino_ray.cli.search import options_from_args
    from cappuccino_ray.search.pipeline import _optuna_storage
    from tests.search.test_search_gpus import _parse

    opts = options_from_args(_parse("run", "--mini"))
    assert opts.run.trial_logs is None and opts.run.optuna_storage is None
    # Default: a SQLite file in a local run folder; none for a run folder on a bucket.
    assert _optuna_storage(opts, tmp_path) == f"sqlite:///{tmp_path}/optuna.db"
    assert _optuna_storage(opts, "s3://bucket/runs/r1") is None
    opts = options_from_args(_parse("run", "--no-trial-logs", "--optuna-storage", "postgresql://db/optuna"))
    assert opts.run.trial_logs is False
    assert _optuna_storage(opts, tmp_path) == "postgresql://db/optuna"
    assert options_from_args(_parse("phase1", "--trial-logs")).run.trial_logs is True
