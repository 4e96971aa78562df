"""The CPCV trial end to end: determinism, Tune integration, divergence, checkpoints."""

from pathlib import Path

import numpy as np
import pytest

from cappuccino_ray.agents import load_agent
from cappuccino_ray.errors import TrainingError
from cappuccino_ray.search.trainable import mini_trial_config, plan_splits, run_trial

pytestmark = pytest.mark.slow


def _tiny(**overrides):
    base = {"max_splits": 1, "n_groups": 3, "n_test_groups": 1, "synthetic_bars": 1500, "train_steps": 512}
    return mini_trial_config(**(base | overrides))


def test_plan_splits_purges_and_embargoes_around_test_groups():
    plans = plan_splits(1000, 100, n_groups=3, n_test_groups=1, purge=20, embargo=10)
    assert len(plans) == 3
    middle = plans[1]
    ((gid, (a, b)),) = middle.test_groups
    assert gid == 1 and (a, b) == (400, 700)
    assert middle.train_segments == ((100, 380), (710, 1000))


@pytest.mark.parametrize("algo", ["ppo", "ddqn"])
def test_same_seed_gives_identical_test_actions(ray_session, tmp_path, algo):
    runs = []
    for name in ("a", "b"):
        run_trial(_tiny(algo=algo, seed=3), checkpoint_root=tmp_path / name)
        runs.append(tmp_path / name / "split_000")
    with np.load(runs[0] / "test_returns.npz") as a, np.load(runs[1] / "test_returns.npz") as b:
        assert a.files == b.files
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])
    obs = np.random.default_rng(0).standard_normal((64, load_agent(runs[0]).spec.obs_dim)).astype(np.float32)
    np.testing.assert_array_equal(load_agent(runs[0]).act(obs), load_agent(runs[1]).act(obs))


def _diverging() -> dict:
    """A PPO config whose huge step size and unclipped gradients blow the weights up."""
    return _tiny(
        algo="ppo",
        train_steps=4096,
        lr=0.9,
        entropy_coeff=1.0,
        grad_clip=1e30,
        train_batch_size=256,
        minibatch_size=32,
        num_epochs=10,
        num_envs=8,
    )


def test_divergence_fails_with_the_reason(ray_session):
    cfg = _diverging()
    with pytest.raises(TrainingError, match="diverged"):
        run_trial(cfg)


def test_tune_runs_the_trial_and_keeps_checkpoints(ray_session, tmp_path):
    from ray import tune

    from cappuccino_ray.data.synthetic import generate_market
    from cappuccino_ray.search.trainable import cpcv_trainable

    markets = {"1h": generate_market(1500, seed=5)}
    good = mini_trial_config(max_splits=2, n_groups=3, n_test_groups=1, train_steps=512)
    bad = _diverging()
    trainable = tune.with_parameters(cpcv_trainable, markets=markets)
    results = {}
    for name, cfg in (("good", good), ("bad", bad)):
        tuner = tune.Tuner(
            trainable,
            param_space=cfg,
            tune_config=tune.TuneConfig(num_samples=1),
            run_config=tune.RunConfig(name=name, storage_path=str(tmp_path), verbose=0),
        )
        results[name] = tuner.fit()[0]
    good_result = results["good"]
    assert good_result.error is None
    assert good_result.metrics["splits_done"] == 2
    for key in ("objective", "bot_sharpe", "bh_sharpe", "bot_return", "fees_paid", "n_forced_sales"):
        assert np.isfinite(good_result.metrics[key])
    ckpt = Path(good_result.checkpoint.path)
    with np.load(ckpt / "test_returns.npz") as data:
        assert sorted(data.files) == ["s000_g00", "s001_g01", "t_s000_g00", "t_s001_g01"]  # returns, times
    agent = load_agent(ckpt)
    assert agent.spec.algo == "ppo" and agent.spec.run["split"] == 1
    assert results["bad"].error is not None
    assert "diverged" in str(results["bad"].error)


@pytest.mark.slow
def test_a_resumed_trial_continues_after_its_last_split_with_the_same_result(tmp_path: Path) -> None:
    config = mini_trial_config(max_splits=3)
    full = run_trial(config, checkpoint_root=tmp_path / "full")
    resumed = run_trial(config, resume_from=tmp_path / "full" / "split_000")
    # The mini config's CPCV(4, 2) scores splits 0, 5, 1, ...: a resume from the first continues with 5, 1.
    assert [m["split"] for m in resumed] == [5, 1] == [m["split"] for m in full[1:]]
    assert resumed[-1]["objective"] == pytest.approx(full[-1]["objective"], abs=1e-12)
    assert resumed[-1]["splits_done"] == full[-1]["splits_done"] == 3


def test_resuming_from_a_folder_without_progress_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="not a complete trial checkpoint"):
        run_trial(mini_trial_config(max_splits=2), resume_from=tmp_path)
