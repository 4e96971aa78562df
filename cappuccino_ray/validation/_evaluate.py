"""Run a policy through the environment in evaluation mode over one segment.

:func:`evaluate_policy` takes any callable from observation to action (a
trained agent's inference object, :func:`buy_and_hold_policy`,
:func:`random_policy`), runs it deterministically from the segment's first
bar to its last, and returns the bot's and the equal-weight buy-and-hold
benchmark's :class:`~cappuccino_ray.validation.SegmentMetrics` plus the
per-bar series a report needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cappuccino_ray.errors import ConfigError, TrainingError
from cappuccino_ray.validation._metrics import SegmentMetrics, segment_metrics, simple_returns

if TYPE_CHECKING:
    from cappuccino_ray.env import CryptoTradingEnv

__all__ = ["EvaluationResult", "Policy", "buy_and_hold_policy", "evaluate_policy", "random_policy"]

#: A policy: maps one observation to one action of the env's action space.
Policy = Callable[[np.ndarray], Any]

# Weights below this count as "flat" for the buy-and-hold policy.
_FLAT = 1e-6


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """The outcome of one evaluated segment.

    Value series have ``n + 1`` entries (the value at the decision bar before
    the first step, then after each step); per-step arrays have ``n``.

    Attributes:
        bot: The policy's metrics.
        benchmark: The equal-weight buy-and-hold benchmark's metrics (its
            trading counters are 0; its entry fee is inside its values).
        segment: The ``(start, stop)`` rows actually evaluated (after the
            env's warm-up trimming).
        interval: Candle interval used for annualising.
        timestamps: Open time of the bar each value is marked on, ``(n + 1,)``.
        values: The bot's portfolio values, ``(n + 1,)``.
        benchmark_values: The benchmark's values, ``(n + 1,)``.
        bars: Market row marked by each step, ``(n,)``.
        fees: Fees paid per step, ``(n,)``.
        traded_value: USD traded per step, ``(n,)``.
        n_trades: Orders filled per step, ``(n,)``.
        forced_sales: Forced sales per step, ``(n,)``.
        fee_tier: Fee tier in force per step, ``(n,)``.
        fee_rate: Fee rate of ordinary fills per step, ``(n,)``.
        weights: Asset weights after each step, ``(n, n_assets)``.
        cash: Cash after each step, ``(n,)``.
        rewards: The env's reward per step, ``(n,)``.
    """

    bot: SegmentMetrics
    benchmark: SegmentMetrics
    segment: tuple[int, int]
    interval: str
    timestamps: np.ndarray
    values: np.ndarray
    benchmark_values: np.ndarray
    bars: np.ndarray
    fees: np.ndarray
    traded_value: np.ndarray
    n_trades: np.ndarray
    forced_sales: np.ndarray
    fee_tier: np.ndarray
    fee_rate: np.ndarray
    weights: np.ndarray
    cash: np.ndarray
    rewards: np.ndarray

    @property
    def returns(self) -> np.ndarray:
        """The bot's per-bar simple returns, ``(n,)`` (a column of a PBO matrix)."""
        return simple_returns(self.values)

    @property
    def benchmark_returns(self) -> np.ndarray:
        """The benchmark's per-bar simple returns, ``(n,)``."""
        return simple_returns(self.benchmark_values)


def evaluate_policy(
    policy: Policy,
    env_config: Mapping[str, Any],
    *,
    interval: str | None = None,
    seed: int = 0,
) -> EvaluationResult:
    """Run ``policy`` over one segment in evaluation mode and measure it.

    Args:
        policy: Callable from an observation to an action.
        env_config: The env's ``env_config`` with exactly one segment; its
            ``mode`` is set to ``"eval"``.
        interval: Interval for annualising; default the market's.
        seed: Seed passed to ``reset`` (evaluation itself is deterministic).

    Returns:
        The bot's and the benchmark's metrics and per-bar series.

    Raises:
        ConfigError: If the config is invalid or has more than one segment.
        TrainingError: If the policy returns an action the env rejects.
    """
    from cappuccino_ray.env import CryptoTradingEnv

    env = CryptoTradingEnv({**env_config, "mode": "eval"})
    market = env.setup.market
    interval = interval or market.interval
    obs, info = env.reset(seed=seed)
    steps: list[dict[str, Any]] = []
    rewards: list[float] = []
    first_bar = int(info["bar"])
    done = False
    while not done:
        action = policy(obs)
        try:
            obs, reward, terminated, truncated, info = env.step(action)
        except (ValueError, IndexError) as exc:
            raise TrainingError(f"the policy's action {action!r} was rejected by the env: {exc}") from exc
        steps.append(info)
        rewards.append(float(reward))
        done = terminated or truncated
    if not steps:
        raise ConfigError("the segment has no step to evaluate; give a segment of at least 2 bars")
    initial = float(env.setup.settings.initial_cash)

    def col(key: str, dtype: Any = np.float64) -> np.ndarray:
        return np.array([s[key] for s in steps], dtype=dtype)

    values = np.concatenate([[initial], col("portfolio_value")])
    bench = np.concatenate([[initial], col("benchmark_value")])
    bars = col("bar", np.int64)
    fees, traded = col("fees"), col("traded_value")
    trades, forced = col("n_trades", np.int64), col("forced_sales", np.int64)
    bot = segment_metrics(
        values, interval=interval, fees=fees, traded_value=traded, n_trades=trades, forced_sales=forced
    )
    return EvaluationResult(
        bot=bot,
        benchmark=segment_metrics(bench, interval=interval),
        segment=(first_bar, int(bars[-1]) + 1),
        interval=interval,
        timestamps=market.timestamps[np.concatenate([[first_bar], bars])],
        values=values,
        benchmark_values=bench,
        bars=bars,
        fees=fees,
        traded_value=traded,
        n_trades=trades,
        forced_sales=forced,
        fee_tier=col("fee_tier", np.int64),
        fee_rate=col("fee_rate"),
        weights=np.stack([np.asarray(s["weights"], dtype=np.float64) for s in steps]),
        cash=col("cash"),
        rewards=np.asarray(rewards),
    )


def buy_and_hold_policy(env: CryptoTradingEnv) -> Policy:
    """A policy that buys equal weights when flat and otherwise holds.

    It reads the current weights from the observation (the first number of
    each asset's block). Continuous actions: the current weights as targets,
    equal weights when every weight is 0 (the start, or after a forced sale);
    the continuous space has no "hold" action, so the drift between a bar's
    close and the next open trades unless it stays under ``min_order_usd`` or
    the env's ``no_trade_band`` (e.g. 0.01) skips it. Discrete
    actions: level 0 (hold) unless an asset is flat, then that asset at the
    level nearest ``1 / n_assets``, one asset per step.

    Args:
        env: A ``CryptoTradingEnv`` (for its action mode and asset count).

    Returns:
        The policy.
    """
    n = int(env.n_assets)
    settings = env.setup.settings
    levels = int(settings.discrete_levels)
    equal = np.full(n, 1.0 / n, dtype=np.float32)
    # Discrete level j >= 1 means weight (j - 1) / (levels - 2).
    level = 1 + round((levels - 2) / n)

    def weights_of(obs: np.ndarray) -> np.ndarray:
        return np.asarray(obs, dtype=np.float32).reshape(n, -1)[:, 0]

    if settings.action_mode == "continuous":

        def continuous(obs: np.ndarray) -> np.ndarray:
            w = weights_of(obs)
            return equal.copy() if float(w.sum()) < _FLAT else w.copy()

        return continuous

    def discrete(obs: np.ndarray) -> int:
        flat = np.flatnonzero(weights_of(obs) < _FLAT)
        return int(flat[0]) * levels + level if flat.size else 0

    return discrete


def random_policy(env: CryptoTradingEnv, seed: int = 0) -> Policy:
    """A policy that samples uniformly from the env's action space (seeded).

    Args:
        env: The env whose action space to sample.
        seed: Seed of the sampler; the same seed gives the same actions.

    Returns:
        The policy (it ignores the observation).
    """
    import copy

    space = copy.deepcopy(env.action_space)
    space.seed(seed)

    def sample(obs: np.ndarray) -> Any:
        del obs
        return space.sample()

    return sample
