"""Honest scores: one partition, an embargo over the features' memory, whole backtest paths,
PBO and deflated Sharpe over them, a leak-free warm start, forced sales inside training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cappuccino_ray.agents.checkpoint import save_test_returns
from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.errors import DataError
from cappuccino_ray.features import compute_features
from cappuccino_ray.search.paths import TrialPaths, deflated_sharpe, path_matrix, phase_pbo, read_trial_paths
from cappuccino_ray.search.splits import default_embargo, partition_start, plan_splits
from cappuccino_ray.validation import CombinatorialPurgedCV

HOUR_NS = 3_600 * 10**9


def _write_trial(folder: Path, n: int, k: int, bars_per_group: int, returns_of, splits: int) -> None:
    """A checkpoint's test_returns.npz as the trainable writes it, for the first ``splits`` scored splits."""
    cv = CombinatorialPurgedCV(n, k)
    arrays = {}
    for s in cv.scoring_order()[:splits]:
        for g in cv.test_group_ids[s]:
            times = (np.arange(bars_per_group) + g * bars_per_group) * HOUR_NS
            arrays[f"s{s:03d}_g{g:02d}"] = returns_of(s, g, times)
            arrays[f"t_s{s:03d}_g{g:02d}"] = times
    folder.mkdir(parents=True)
    save_test_returns(folder, arrays)


def test_paths_complete_in_scoring_order_and_cover_each_bar_once(tmp_path: Path) -> None:
    _write_trial(tmp_path / "t", 6, 2, 10, lambda s, g, t: np.full(t.size, 0.001 * (s + 1)), splits=6)
    paths = read_trial_paths(tmp_path / "t", "t", "1h", 6, 2)
    assert paths is not None and paths.n_paths == 2  # 6 splits x 2 groups = 2 x 6 groups
    assert paths.times.size == 60 and np.unique(paths.times).size == 60
    matrix, _, repeated = path_matrix([paths], 2)
    assert matrix.shape == (60, 1) and repeated == 0
    # Five splits are not two paths: the second path is incomplete and left out.
    _write_trial(tmp_path / "u", 6, 2, 10, lambda s, g, t: np.zeros(t.size), splits=5)
    assert read_trial_paths(tmp_path / "u", "u", "1h", 6, 2).n_paths == 1  # type: ignore[union-attr]


def _phase(tmp_path: Path, skill: float, n_trials: int = 10, seed: int = 0) -> list[TrialPaths]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_trials):
        drift = skill if i == 0 else 0.0

        def returns_of(s, g, t, drift=drift):
            return rng.normal(drift, 0.01, t.size)

        _write_trial(tmp_path / f"{skill}_{i}", 4, 2, 200, returns_of, splits=6)
        paths = read_trial_paths(tmp_path / f"{skill}_{i}", f"t{i}", "1h", 4, 2)
        assert paths is not None
        out.append(paths)
    return out


def test_pbo_is_low_with_planted_skill_and_high_on_noise(tmp_path: Path) -> None:
    skilled = phase_pbo(_phase(tmp_path, 0.004), 8)
    noise = [phase_pbo(_phase(tmp_path / str(seed), 0.0, seed=seed), 8).value for seed in range(4)]
    assert skilled.value is not None and skilled.value <= 0.05
    # Noise: the in-sample best is a coin flip out of sample (PBO about 0.5 on average).
    assert all(v is not None for v in noise) and float(np.mean(noise)) >= 0.3
    assert skilled.repeated_bars == 0 and skilled.n_bars == 800 and skilled.n_trials == 10
    assert [lv["n_paths"] for lv in skilled.by_paths] == [1, 2, 3]


def test_a_path_covering_a_bar_twice_is_counted_and_refused(tmp_path: Path) -> None:
    # A path assembled wrong (a group's bars twice) must not slip into the PBO matrix.
    times = np.r_[np.arange(40), np.arange(30, 70)] * HOUR_NS
    bad = TrialPaths("bad", "1h", times, np.full((1, 80), 0.001))
    good = [TrialPaths(f"g{i}", "1h", np.arange(80) * HOUR_NS, np.full((1, 80), 0.001 * i)) for i in range(3)]
    _, _, repeated = path_matrix([bad, *good], 1)
    assert repeated == 10
    pbo = phase_pbo([bad, *good], 4)
    assert pbo.value is None and pbo.repeated_bars == 10 and "more than once" in (pbo.reason or "")
    # Paths of one trial over different bars (a test group cut differently in one split) are refused.
    cv = CombinatorialPurgedCV(3, 2)
    last = cv.scoring_order()[-1]
    arrays = {}
    for s, ids in enumerate(cv.test_group_ids):
        for g in ids:
            arrays[f"s{s:03d}_g{g:02d}"] = np.zeros(5)
            arrays[f"t_s{s:03d}_g{g:02d}"] = (np.arange(5) + 5 * g + (s == last)) * HOUR_NS
    (tmp_path / "shifted").mkdir()
    save_test_returns(tmp_path / "shifted", arrays)
    with pytest.raises(DataError, match="cover different bars"):
        read_trial_paths(tmp_path / "shifted", "x", "1h", 3, 2)


def test_trials_at_other_intervals_meet_on_the_coarsest_bars(tmp_path: Path) -> None:
    fine = TrialPaths("a", "1h", np.arange(8) * HOUR_NS, np.full((1, 8), 0.01))
    coarse = TrialPaths("b", "4h", np.arange(2) * 4 * HOUR_NS, np.full((1, 2), 0.02))
    matrix, _, repeated = path_matrix([fine, coarse], 1)
    assert matrix.shape == (2, 2) and repeated == 0
    np.testing.assert_allclose(matrix[:, 0], 1.01**4 - 1)  # four 1h bars compounded into one 4h bar


def _series(returns: np.ndarray) -> TrialPaths:
    return TrialPaths("w", "1h", np.arange(returns.size) * HOUR_NS, returns[None, :])


def test_deflated_sharpe_null_variance_is_the_sampling_spread_and_reports_both() -> None:
    from scipy.stats import norm

    rng = np.random.default_rng(3)
    bars = 2000
    winner = _series(rng.normal(0.0012, 0.01, bars))  # per-bar Sharpe ~0.12: ~11 a year
    # A search whose trials churn fees: annualised Sharpes far below zero are cost, not luck.
    sharpes = [-25.0, -20.0, -15.0, -11.0, -8.0, -5.0, -3.0, -1.0, 0.0, 1.0, 2.0, 9.0]
    dsr = deflated_sharpe(winner, "w", sharpes, n_trials=24)
    assert dsr.null_variance == "sampling" and dsr.n_trials == 24 and dsr.n_obs == bars
    assert dsr.sharpe_variance == pytest.approx(1.0 / (bars - 1))
    # Hand-computed: PSR against the expected best of 24 zero-skill estimates over 2,000 bars.
    r = winner.paths[0]
    d = r - r.mean()
    sr = r.mean() / r.std(ddof=1)
    skew, kurt = (d**3).mean() / (d**2).mean() ** 1.5, (d**4).mean() / (d**2).mean() ** 2
    g = np.euler_gamma
    sr0 = np.sqrt(1.0 / (bars - 1)) * ((1 - g) * norm.ppf(1 - 1 / 24) + g * norm.ppf(1 - 1 / (24 * np.e)))
    z = (sr - sr0) * np.sqrt(bars - 1) / np.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert dsr.value == pytest.approx(norm.cdf(z), abs=1e-9) and dsr.value >= 0.95
    # The trials' spread (Sharpe sd ~10 a year) would put the bar at ~20 a year: real skill refused.
    trials = dsr.by_variance["trials"]
    assert trials["sharpe_variance"] == pytest.approx(np.var(sharpes, ddof=1) / 8760)
    assert trials["value"] < 0.5 and dsr.by_variance["sampling"]["value"] == dsr.value
    picked = deflated_sharpe(winner, "w", sharpes, n_trials=24, null_variance="trials")
    assert picked.value == trials["value"] and picked.null_variance == "trials"


def test_deflated_sharpe_says_why_it_is_missing_instead_of_raising() -> None:
    # Fewer than 2 trial Sharpes: the trials' estimate cannot be taken, the sampling one still is.
    winner = _series(np.random.default_rng(0).normal(0.001, 0.01, 500))
    few = deflated_sharpe(winner, "w", [1.0], n_trials=3, null_variance="trials")
    assert few.value is None and "fewer than 2 trials" in (few.reason or "")
    assert few.null_variance == "trials" and set(few.by_variance) == {"sampling"}
    # A path with a NaN bar is a reason in the document, not an error after every trial has run.
    broken = deflated_sharpe(_series(np.array([0.01, np.nan, 0.02])), "w", [0.0, 1.0], n_trials=3)
    assert broken.value is None and "the winner's paths" in (broken.reason or "")


def test_deflated_sharpe_refuses_the_best_of_unskilled_trials() -> None:
    # The winner of 24 zero-skill trials passes DSR >= 0.95 in at most 2 of 200 draws (1 %).
    rng = np.random.default_rng(11)
    passed = 0
    for _ in range(200):
        noise = rng.normal(0.0, 0.01, (24, 1000))
        best = noise[np.argmax(noise.mean(axis=1) / noise.std(axis=1, ddof=1))]
        dsr = deflated_sharpe(_series(best), "w", [0.0, 1.0], n_trials=24)
        passed += bool(dsr.value is not None and dsr.value >= 0.95)
    assert passed <= 2


def test_one_partition_whatever_the_lookback_and_phase() -> None:
    a = plan_splits(5000, partition_start("1h", 8), n_groups=4, n_test_groups=2, purge=1, embargo=800)
    b = plan_splits(5000, partition_start("1h", 8), n_groups=4, n_test_groups=2, purge=1, embargo=30)
    assert [p.test_groups for p in a] == [p.test_groups for p in b]
    assert [p.index for p in a] == [0, 5, 1, 4, 2, 3]  # scoring order: a whole path first


def test_the_embargo_keeps_every_training_observation_off_the_test_group() -> None:
    # Scale only one test group's candles: no training bar's observation window may change.
    md = generate_market(6000, n_assets=2, interval="1h", seed=4)
    feats = compute_features(md, rolling=True)
    lookback = 3
    first = partition_start("1h", lookback)
    embargo = default_embargo(feats.warmup, lookback, md.n_bars - first)
    plan = plan_splits(md.n_bars, first, n_groups=4, n_test_groups=1, purge=1, embargo=embargo)[1]
    ((_, (a, b)),) = plan.test_groups
    scaled = md.__class__(**{**md.__dict__})
    for name in ("open", "high", "low", "close", "volume"):
        arr = getattr(md, name).copy()
        arr[a:b] *= 1.7
        object.__setattr__(scaled, name, arr)
    # Rolling sums are running sums: far-away bars differ by float rounding (~1e-10), not information.
    diff = np.abs(compute_features(scaled, rolling=True).values - feats.values)
    changed = np.any(diff > 1e-6, axis=(1, 2))
    for s, e in plan.train_segments:
        for t in range(s, e):
            assert not changed[t - lookback + 1 : t + 1].any(), f"training bar {t} reads the test group"
    # Without the embargo over the features' 30-day memory, training bars would read it.
    assert changed[b : b + feats.warmup].any()


@pytest.mark.slow
def test_training_meets_forced_sales_and_the_warm_start_never_saw_its_test_bars(tmp_path: Path) -> None:
    from cappuccino_ray.search.trainable import mini_trial_config, run_trial
    from cappuccino_ray.search.warm import phase1_split_checkpoints, plan_warm_start

    common = {
        "max_splits": 2,
        "max_lookback": 4,
        "train_steps": 2048,
        "max_hold_days": 0.25,
        "seed": 2,
        "num_envs": 8,
        "synthetic_bars": 5000,
    }
    p1 = run_trial(mini_trial_config(**common), checkpoint_root=tmp_path / "p1")
    assert all(m["train_forced_sales"] > 0 for m in p1)  # positions reach their limit inside training
    first = [m["split"] for m in p1]
    p2 = run_trial(
        mini_trial_config(
            **common,
            phase=2,
            env={"fee_model": "tiered", "rolling_features": True},
            warm_start_checkpoint=str(tmp_path / "p1" / f"split_{first[-1]:03d}"),
        ),
        checkpoint_root=tmp_path / "p2",
    )
    assert [m["split"] for m in p2] == first  # both phases score the same splits, in the same order
    assert all(m["warm_start"].startswith(f"split {m['split']} of ") for m in p2)
    for s in first:
        trained = json.loads((tmp_path / "p1" / f"split_{s:03d}" / "agent.json").read_text())["run"]
        tested = json.loads((tmp_path / "p2" / f"split_{s:03d}" / "agent.json").read_text())["run"]
        overlap = sum(
            max(0, min(b, d) - max(a, c))
            for a, b in trained["train_segments"]
            for _, (c, d) in tested["test_groups"]
        )
        assert overlap == 0
    # The weights of another split did train on this split's test bars: refused with the reason.
    checkpoints = phase1_split_checkpoints(tmp_path / "p1" / f"split_{first[0]:03d}")
    wrong = {first[1]: checkpoints[first[0]]}
    tested = json.loads((tmp_path / "p2" / f"split_{first[1]:03d}" / "agent.json").read_text())["run"]
    groups = tuple((g, tuple(seg)) for g, seg in tested["test_groups"])
    plan = plan_warm_start(
        wrong, first[1], groups, n_assets=7, hidden_size=32, n_layers=2, n_features=11, lookback=1
    )
    assert plan.start is None and "trained on" in plan.note


def test_every_phase2_ppo_trial_keeps_phase1_network_so_the_warm_start_applies() -> None:
    import dataclasses

    from cappuccino_ray.config.agents import PPOParams
    from cappuccino_ray.config.search import load_search_configs
    from cappuccino_ray.documents import Phase1Winner
    from cappuccino_ray.search.phase2 import phase2_combos, phase2_spaces

    _, p2 = load_search_configs(Path(__file__).resolve().parents[2] / "configs", preset="small")
    winner = Phase1Winner(
        holding_days=3.0,
        interval="1h",
        hyperparameters={"lr": 3e-4, "hidden_size": 64, "n_layers": 2, "lookback": 1},
        checkpoint_path="/runs/p1/trial_a/checkpoint_000002",
    )
    combos = phase2_combos(p2, winner)
    spaces = phase2_spaces(p2, combos)
    ppo, ddqn = combos[p2.algos.index("ppo")], combos[p2.algos.index("ddqn")]
    assert (ppo["hidden_size"], ppo["n_layers"]) == (64, 2) and ppo["warm_start_checkpoint"]
    ppo_space, ddqn_space = spaces[p2.algos.index("ppo")], spaces[p2.algos.index("ddqn")]
    assert "hidden_size" in p2.spaces["ppo"] and "n_layers" in p2.spaces["ppo"]
    assert not {"hidden_size", "n_layers"} & set(ppo_space) and "lr" in ppo_space
    assert ddqn_space == dict(p2.spaces["ddqn"]) and "hidden_size" not in ddqn
    # A width under fixed.ppo is the user's choice and wins; the depth still comes from phase 1.
    own = dataclasses.replace(p2, fixed={**p2.fixed, "ppo": {"hidden_size": 32}})
    mine = phase2_combos(own, winner)[0]
    assert (mine["hidden_size"], mine["n_layers"]) == (32, 2)
    # Searched again when asked, or when there is nothing to warm-start from.
    searched = dataclasses.replace(p2, keep_phase1_network=False)
    assert phase2_spaces(searched, phase2_combos(searched, winner)) == [dict(p2.spaces[a]) for a in p2.algos]
    cold = dataclasses.replace(winner, checkpoint_path=None)
    assert "hidden_size" not in phase2_combos(p2, cold)[0]
    # A phase 1 that neither searched nor fixed the depth trained PPO's default one.
    shallow = dataclasses.replace(winner, hyperparameters={"hidden_size": 64})
    assert phase2_combos(p2, shallow)[0]["n_layers"] == PPOParams().n_layers


def test_a_ppo_space_of_only_the_kept_network_is_refused_at_load(tmp_path: Path) -> None:
    import shutil

    from cappuccino_ray.config.search import load_search_configs
    from cappuccino_ray.errors import ConfigError

    configs = tmp_path / "configs"
    shutil.copytree(Path(__file__).resolve().parents[2] / "configs", configs)
    text = (configs / "phase2.yaml").read_text()
    start, end = text.index("  ppo:\n    lr:"), text.index("  ddqn:\n")
    only_network = "  ppo:\n    hidden_size: {type: categorical, choices: [64, 128]}\n"
    (configs / "phase2.yaml").write_text(text[:start] + only_network + text[end:])
    with pytest.raises(ConfigError, match=r"spaces\.ppo searches only hidden_size and n_layers"):
        load_search_configs(configs)
    keep_off = (
        (configs / "phase2.yaml")
        .read_text()
        .replace("keep_phase1_network: true", "keep_phase1_network: false")
    )
    (configs / "phase2.yaml").write_text(keep_off)
    assert set(load_search_configs(configs)[1].spaces["ppo"]) == {"hidden_size"}
