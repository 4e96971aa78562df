"""The CPCV trial: one hyperparameter set, a fresh agent per split, a report after each split.

:func:`cpcv_trainable` is the Tune function trainable both search phases run.
For one config it computes features once, cuts the usable bars into CPCV
splits (purge = episode horizon + lookback, embargo after each test group),
and for each split trains a fresh PPO or double-DQN agent on the split's
training runs (each contiguous run is one env segment), evaluates it
deterministically on every test group separately, and reports the running
objective, per-split metrics and a checkpoint (the split's agent, its env
settings and feature scaling, and the per-bar returns of every test group so
far in ``test_returns.npz``, and the per-group metrics so far in
``trial_progress.json``). Tune's ASHA scheduler can stop a weak trial after
any split. A diverging (NaN) or crashing trial raises :class:`TrainingError`.
A trial restored by Tune (``--resume``, a lost node) continues after the last
split of its latest checkpoint instead of starting again from split 0, or after
the splits it finished that Tune never recorded (:mod:`.recovery`).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from cappuccino_ray.config._loader import to_dict
from cappuccino_ray.config.agents import DDQNParams, PPOParams, TrialConfig, parse_trial_config
from cappuccino_ray.config.env import EnvSettings
from cappuccino_ray.data.market import MarketData
from cappuccino_ray.errors import CappuccinoError, ConfigError, TrainingError
from cappuccino_ray.run_files import SPLIT_ROW_FILE, TEST_RETURNS_FILE, TRIAL_PROGRESS_FILE, read_json
from cappuccino_ray.search.recovery import unrecorded_splits
from cappuccino_ray.search.rows import ITERATION_ROW, RESULT_KIND, SPLIT_ROW
from cappuccino_ray.search.splits import PURGE_BARS, SplitPlan, default_embargo, partition_start, plan_splits
from cappuccino_ray.search.warm import WarmPlan, phase1_split_checkpoints, plan_warm_start
from cappuccino_ray.validation import CombinatorialPurgedCV

if TYPE_CHECKING:
    from cappuccino_ray.agents.checkpoint import AgentSpec
    from cappuccino_ray.agents.training import IterationHook, TrainOutcome

__all__ = ["SplitPlan", "cpcv_trainable", "mini_trial_config", "plan_splits", "run_trial"]


#: A callback receiving each split's metrics and checkpoint folder (Tune's ``report`` in a trial).
Reporter = Callable[[dict[str, Any], Path], None]
#: A callback receiving the learning-curve rows reported while a split trains.
CurveSink = Callable[[dict[str, Any]], None]


def mini_trial_config(**overrides: Any) -> dict[str, Any]:
    """A small, valid trial config (synthetic market, short training) for tests and benches.

    Args:
        **overrides: Keys replacing or adding to the defaults: run keys, hyperparameters, or
            :class:`~cappuccino_ray.config.env.EnvSettings` fields (``max_hold_days``,
            ``no_trade_band``...), which go into the config's ``env``; ``lookback`` stays a
            hyperparameter.

    Returns:
        A flat config dict that :func:`cpcv_trainable` accepts.
    """
    algo = overrides.get("algo", "ppo")
    env: dict[str, Any] = {"max_hold_days": 3.0}
    cfg: dict[str, Any] = {
        "algo": algo,
        "interval": "1h",
        "phase": 1,
        "seed": 0,
        "train_steps": 2048,
        "n_groups": 4,
        "n_test_groups": 2,
        "max_splits": 6,
        "synthetic_bars": 2500,
        "hidden_size": 32,
    }
    if algo == "ppo":
        cfg |= {"train_batch_size": 1024, "minibatch_size": 512, "num_epochs": 2, "num_envs": 32}
    else:
        cfg |= {"train_batch_size": 128, "learning_starts": 256, "target_update_freq": 500}
    for key, value in overrides.items():
        if key in _ENV_KEYS:
            env[key] = value
        elif key == "env":
            env |= dict(value)
        else:
            cfg[key] = value
    return {**cfg, "env": env}


#: EnvSettings fields a trial config takes inside ``env`` (lookback is searched with the agent).
_ENV_KEYS = frozenset(f.name for f in fields(EnvSettings)) - {"lookback", "action_mode"}


@dataclass
class _Running:
    """Per-group results accumulated over the splits of a trial."""

    bot: list[Any] = field(default_factory=list)
    bench: list[Any] = field(default_factory=list)
    returns: dict[str, np.ndarray] = field(default_factory=dict)
    splits_done: int = 0

    def save(self, directory: Path) -> None:
        """Write the per-group metrics (the returns are in ``test_returns.npz``)."""
        from cappuccino_ray.atomic import write_json_atomic

        doc = {
            "splits_done": self.splits_done,
            "bot": [asdict(m) for m in self.bot],
            "bench": [asdict(m) for m in self.bench],
        }
        write_json_atomic(directory / TRIAL_PROGRESS_FILE, doc)

    @classmethod
    def load(cls, directory: Path) -> _Running:
        """The state saved in a split's checkpoint folder.

        Raises:
            TrainingError: If the folder lacks the progress or returns file.
            DataError: If the progress file is not valid JSON.
        """
        from cappuccino_ray.validation import SegmentMetrics

        progress, returns = directory / TRIAL_PROGRESS_FILE, directory / TEST_RETURNS_FILE
        if not progress.is_file() or not returns.is_file():
            raise TrainingError(f"{directory}: not a complete trial checkpoint (no {TRIAL_PROGRESS_FILE})")
        doc = read_json(progress)
        with np.load(returns) as data:
            saved = {k: np.asarray(data[k]) for k in data.files}
        return cls(
            bot=[SegmentMetrics(**m) for m in doc["bot"]],
            bench=[SegmentMetrics(**m) for m in doc["bench"]],
            returns=saved,
            splits_done=int(doc["splits_done"]),
        )


class _Trial:
    """Everything fixed for one trial: market, features, env settings, splits, objective."""

    def __init__(self, trial: TrialConfig, params: PPOParams | DDQNParams, market: MarketData) -> None:
        from cappuccino_ray.env import register_envs
        from cappuccino_ray.features import CLIP, compute_features, feature_windows
        from cappuccino_ray.validation import get_objective

        self.trial, self.params, self.market = trial, params, market
        # The phase's settings, completed once for this trial; every env of the trial gets this object.
        self.settings = trial.env_settings(params)
        rolling = self.settings.rolling_features
        self.features = compute_features(market, rolling=rolling)
        self.episode_bars = self.settings.episode_length(market.interval)
        # Checkpoint parts that are the same for every split, serialised once.
        self.run_doc = {"trial": to_dict(trial), "params": to_dict(params)}
        self.objective = get_objective(trial.objective)
        self.feature_info = {
            "names": list(self.features.names),
            "warmup": int(self.features.warmup),
            "windows": asdict(feature_windows(market.interval)),
            "clip": float(CLIP),
            "rolling": rolling,
        }
        # One partition for the run, a one-bar purge and an embargo over the features'
        # memory: the reasons are in cappuccino_ray.search.splits.
        lookback = self.settings.lookback
        first_bar = partition_start(market.interval, max(lookback, trial.max_lookback or 1))
        self.purge = PURGE_BARS
        embargo = default_embargo(self.features.warmup, lookback, market.n_bars - first_bar)
        self.embargo = embargo if trial.embargo_bars is None else trial.embargo_bars
        self.plans = plan_splits(
            market.n_bars,
            first_bar,
            n_groups=trial.n_groups,
            n_test_groups=trial.n_test_groups,
            purge=self.purge,
            embargo=self.embargo,
        )
        if trial.max_splits is not None:
            self.plans = self.plans[: trial.max_splits]
        self.warm_checkpoints = (
            phase1_split_checkpoints(trial.warm_start_checkpoint)
            if trial.warm_start_checkpoint and trial.algo == "ppo"
            else {}
        )
        self.cv = CombinatorialPurgedCV(trial.n_groups, trial.n_test_groups)
        register_envs()

    def warm_plan(self, plan: SplitPlan) -> WarmPlan:
        """The warm start of ``plan``'s split (``none`` without a phase-1 checkpoint)."""
        if not self.warm_checkpoints:
            return WarmPlan(None, "none")
        return plan_warm_start(
            self.warm_checkpoints,
            plan.index,
            plan.test_groups,
            n_assets=self.market.n_assets,
            hidden_size=self.params.hidden_size,
            n_layers=self.params.n_layers,
            n_features=self.features.n_features,
            lookback=self.settings.lookback,
        )

    def env_config(self, segments: list[tuple[int, int]], mode: str) -> dict[str, Any]:
        return {
            "market": self.market,
            "features": self.features,
            "segments": segments,
            "mode": mode,
            "settings": self.settings,
        }


def _market_for(trial: TrialConfig, markets: Mapping[str, MarketData] | None) -> MarketData:
    if markets is None:
        from cappuccino_ray.data.synthetic import generate_market

        return generate_market(
            trial.synthetic_bars,
            interval=trial.interval,
            seed=trial.seed,
            planted_signal=trial.planted_signal,
        )
    if trial.interval not in markets:
        raise ConfigError(
            f"no market for interval {trial.interval!r}; the trial got {', '.join(markets) or 'none'}"
        )
    return markets[trial.interval]


def run_trial(
    config: Mapping[str, Any],
    markets: Mapping[str, MarketData] | None = None,
    *,
    report: Reporter | None = None,
    curve: CurveSink | None = None,
    checkpoint_root: str | Path | None = None,
    resume_from: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Run one CPCV trial outside or inside Tune.

    Args:
        config: The flat trial config (see :mod:`cappuccino_ray.config.agents`).
        markets: Interval -> market (hold-out already removed); ``None`` generates one.
        report: Called after each split with the metrics and the checkpoint folder.
        curve: Called with a learning-curve row at most every ``curve_every_s`` seconds
            while a split trains (never when that key is 0).
        checkpoint_root: Keep each split's checkpoint under this folder
            (``split_000``...); ``None`` uses temporary folders.
        resume_from: A split's checkpoint folder of this same trial: continue after that split.

    Returns:
        The metrics reported after each split.

    Raises:
        ConfigError: If the config is invalid.
        TrainingError: If training diverges or crashes.
    """
    trial, params = parse_trial_config(config)
    torch.set_num_threads(max(1, int(trial.num_cpus)))
    setup = _Trial(trial, params, _market_for(trial, markets))
    running = _Running.load(Path(resume_from)) if resume_from is not None else _Running()
    history: list[dict[str, Any]] = []
    for plan in setup.plans[running.splits_done :]:
        with _checkpoint_dir(checkpoint_root, plan.index) as ckpt:
            hook = _curve_hook(setup, plan, running, curve) if curve is not None else None
            metrics = _run_split(setup, plan, running, ckpt, hook)
            history.append(metrics)
            if report is not None:
                report(metrics, ckpt)
    return history


class _checkpoint_dir:
    """A split's checkpoint folder: kept under ``root`` or a temporary one."""

    def __init__(self, root: str | Path | None, split: int) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"split_{split:03d}_")
            self.path = Path(self._tmp.name)
        else:
            self.path = Path(root) / f"split_{split:03d}"
            self.path.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def _curve_hook(setup: _Trial, plan: SplitPlan, running: _Running, sink: CurveSink) -> IterationHook | None:
    """Learning-curve rows of ``plan``'s training, at most one per ``curve_every_s`` seconds.

    Every Tune row must carry the job's metric and ASHA's time attribute, so a
    curve row repeats the scores so far: ``objective`` of the splits already done
    (NaN in the first) and ``splits_done``, a rung ASHA has already judged.
    """
    every = setup.trial.curve_every_s
    if every <= 0:
        return None
    last = time.monotonic()
    done = running.splits_done
    scores = {  # the same in every row of this split
        RESULT_KIND: ITERATION_ROW,
        "objective": float(setup.objective(running.bot, running.bench)) if running.bot else float("nan"),
        "splits_done": done,
        "paths_complete": setup.cv.complete_paths(done),
    }

    def hook(env_steps: int, point: Mapping[str, float]) -> None:
        nonlocal last
        if time.monotonic() - last < every:
            return
        sink({**scores, "train": {"split": plan.index, "env_steps": env_steps, **point}})
        last = time.monotonic()

    return hook


def _run_split(
    setup: _Trial, plan: SplitPlan, running: _Running, ckpt: Path, on_iteration: IterationHook | None = None
) -> dict[str, Any]:
    from cappuccino_ray.agents.checkpoint import save_agent, save_test_returns
    from cappuccino_ray.agents.inference import load_agent
    from cappuccino_ray.agents.training import train_agent
    from cappuccino_ray.validation import evaluate_policy

    trial = setup.trial
    if not plan.train_segments:
        raise ConfigError(f"split {plan.index} has no training bars left after purge and embargo")
    seed = trial.seed * 1000 + plan.index
    warm = setup.warm_plan(plan)
    t0 = time.perf_counter()
    try:
        outcome = train_agent(
            trial,
            setup.params,
            env_config=setup.env_config(list(plan.train_segments), "train"),
            seed=seed,
            warm_start=warm.start,
            on_iteration=on_iteration,
        )
    except CappuccinoError:
        raise
    except Exception as exc:
        raise TrainingError(f"split {plan.index}: training crashed: {type(exc).__name__}: {exc}") from exc
    train_s = time.perf_counter() - t0  # build + train; train_agent has checked every loss
    save_agent(ckpt, _agent_spec(setup, plan, outcome), outcome.state)
    agent = load_agent(ckpt)
    split_bot, split_bench = [], []
    for group, segment in plan.test_groups:
        result = evaluate_policy(agent.act, setup.env_config([segment], "eval"), seed=seed)
        if not np.all(np.isfinite(result.values)):
            raise TrainingError(f"split {plan.index}: non-finite portfolio values on test group {group}")
        split_bot.append(result.bot)
        split_bench.append(result.benchmark)
        key = f"s{plan.index:03d}_g{group:02d}"
        running.returns[key] = result.returns
        running.returns[f"t_{key}"] = result.timestamps[1:].astype("datetime64[ns]").astype(np.int64)
    running.bot += split_bot
    running.bench += split_bench
    running.splits_done = plan.position + 1
    save_test_returns(ckpt, running.returns)
    running.save(ckpt)
    objective = setup.objective(running.bot, running.bench)
    return {
        RESULT_KIND: SPLIT_ROW,
        "objective": float(objective),
        "split": plan.index,
        "splits_done": plan.position + 1,
        "bot_sharpe": float(np.mean([m.sharpe for m in split_bot])),
        "bh_sharpe": float(np.mean([m.sharpe for m in split_bench])),
        "bot_return": float(np.mean([m.total_return for m in split_bot])),
        "bh_return": float(np.mean([m.total_return for m in split_bench])),
        "fees_paid": float(sum(m.fees_paid for m in split_bot)),
        "n_trades": int(sum(m.n_trades for m in split_bot)),
        "n_forced_sales": int(sum(m.n_forced_sales for m in split_bot)),
        "env_steps": outcome.env_steps,
        "warm_started": int(warm.start is not None),
        "warm_start": warm.note,
        "test_groups": [g for g, _ in plan.test_groups],
        "paths_complete": setup.cv.complete_paths(plan.position + 1),
        "train_forced_sales": outcome.forced_sales,
        "train_s": train_s,
        "build_s": outcome.build_s,
        "env_steps_per_s": outcome.env_steps / max(outcome.train_s, 1e-9),
        **{f"loss_{k}": v for k, v in outcome.losses.items()},
    }


def _agent_spec(setup: _Trial, plan: SplitPlan, outcome: TrainOutcome) -> AgentSpec:
    from cappuccino_ray.agents.checkpoint import AgentSpec

    trial, md = setup.trial, setup.market
    return AgentSpec(
        algo=trial.algo,
        obs_dim=outcome.obs_dim,
        n_assets=md.n_assets,
        n_actions=outcome.n_actions,
        hidden_size=setup.params.hidden_size,
        n_layers=setup.params.n_layers,
        dueling=bool(getattr(setup.params, "dueling", False)),
        interval=md.interval,
        symbols=tuple(md.symbols),
        env_settings=setup.settings,
        features=setup.feature_info,
        run={
            **setup.run_doc,
            "split": plan.index,
            "train_segments": [list(s) for s in plan.train_segments],
            "test_groups": [[g, list(s)] for g, s in plan.test_groups],
            "purge": setup.purge,
            "embargo": setup.embargo,
        },
    )


def cpcv_trainable(config: dict[str, Any], markets: Mapping[str, MarketData] | None = None) -> None:
    """Tune function trainable: run :func:`run_trial` and report after each split.

    Wrap it with ``tune.with_parameters(cpcv_trainable, markets=...)`` to ship
    the markets through the object store once.

    Args:
        config: The flat trial config from the searcher.
        markets: Interval -> market; ``None`` generates a synthetic one.
    """
    from ray import tune

    from cappuccino_ray.atomic import write_json_atomic

    def report(metrics: dict[str, Any], ckpt: Path) -> None:
        write_json_atomic(ckpt / SPLIT_ROW_FILE, metrics, allow_nan=True)  # reported again if Tune loses it
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(ckpt)))

    checkpoint = tune.get_checkpoint()
    with checkpoint.as_directory() if checkpoint is not None else contextlib.nullcontext() as last:
        # A restored trial continues after the last split Tune recorded, or after the
        # splits it finished but Tune never recorded (cappuccino_ray.search.recovery).
        done = int(read_json(Path(last) / TRIAL_PROGRESS_FILE)["splits_done"]) if last else 0
        resume_from = last
        for folder, row in unrecorded_splits(done):
            with tempfile.TemporaryDirectory(prefix="split_") as copy:  # Tune writes into its own folders
                shutil.copytree(folder, copy, dirs_exist_ok=True)
                tune.report(row, checkpoint=tune.Checkpoint.from_directory(copy))
            resume_from = folder
        run_trial(config, markets, report=report, curve=tune.report, resume_from=resume_from)
