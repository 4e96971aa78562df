"""Tiny checkpoints and candle folders for the paper-trading tests (no training)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cappuccino_ray.agents.checkpoint import AgentSpec, save_agent
from cappuccino_ray.agents.networks import PolicyNet
from cappuccino_ray.config._loader import from_mapping
from cappuccino_ray.config.env import EnvSettings
from cappuccino_ray.env.spaces import observation_size

SHARED_1H = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "crypto_1h"
COINS = ("BTC", "ETH", "SOL", "LTC", "XRP", "ADA", "LINK")


def make_checkpoint(
    folder: Path,
    symbols: Sequence[str],
    settings: Mapping[str, Any],
    *,
    interval: str = "1h",
    constant: Sequence[float] | None = None,
    seed: int = 0,
    hidden: int = 16,
) -> Path:
    """A PPO checkpoint: a seeded random policy, or one whose action is ``constant`` on every bar.

    A constant policy has zero weights and the action as the output bias, so its
    Gaussian mean is the same whatever the observation.
    """
    n = len(symbols)
    n_features = 11 if settings.get("rolling_features") else 7
    obs_dim = observation_size(n, n_features, int(settings.get("lookback", 1)))
    torch.manual_seed(seed)
    net = PolicyNet(obs_dim, n, hidden, 2)
    if constant is not None:
        with torch.no_grad():
            for p in net.mean.parameters():
                p.zero_()
            net.mean[-1].bias.copy_(torch.tensor(list(constant), dtype=torch.float32))
    else:
        with torch.no_grad():  # a livelier random policy than the 0.01-gain output layer
            net.mean[-1].weight.mul_(100.0)
    spec = AgentSpec(
        algo="ppo",
        obs_dim=obs_dim,
        n_actions=n,
        n_assets=n,
        hidden_size=hidden,
        n_layers=2,
        interval=interval,
        symbols=tuple(symbols),
        env_settings=from_mapping(EnvSettings, dict(settings), source="test settings"),
        features={"rolling": bool(settings.get("rolling_features", False))},
    )
    return save_agent(folder, spec, {f"pi.{k}": v for k, v in net.state_dict().items()})


def write_candles(folder: Path, symbol_file: str, times: np.ndarray, ohlcv: np.ndarray) -> Path:
    """Write one symbol's candles as ``<symbol_file>.csv`` (header, ISO open times)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["timestamp,open,high,low,close,volume"]
    for t, (o, h, lo, c, v) in zip(times, ohlcv, strict=True):
        vals = ",".join(repr(float(x)) for x in (o, h, lo, c, v))
        lines.append(f"{np.datetime_as_string(t, unit='s')}Z,{vals}")
    path = folder / f"{symbol_file}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def real_folder(dest: Path, n_bars: int, coins: Sequence[str] = COINS) -> Path:
    """The last ``n_bars`` hours of the shared 1h candles, one CSV per coin, in ``dest``."""
    import pandas as pd

    dest.mkdir(parents=True, exist_ok=True)
    for c in coins:
        frame = pd.read_csv(SHARED_1H / f"{c}USDT_1h.csv.gz")
        frame.tail(n_bars).to_csv(dest / f"{c}USDT_1h.csv", index=False)
    return dest


def make_ddqn_checkpoint(
    folder: Path, symbols: Sequence[str], settings: Mapping[str, Any], *, seed: int = 0
) -> Path:
    """A seeded random double-DQN checkpoint (discrete actions: level 0 holds, NaN targets)."""
    from cappuccino_ray.agents.networks import QNet

    n = len(symbols)
    levels = int(settings.get("discrete_levels", 10))
    obs_dim = observation_size(n, 7, int(settings.get("lookback", 1)))
    torch.manual_seed(seed)
    net = QNet(obs_dim, n * levels, 16, 2, False)
    spec = AgentSpec(
        algo="ddqn",
        obs_dim=obs_dim,
        n_actions=n * levels,
        n_assets=n,
        hidden_size=16,
        n_layers=2,
        interval="1h",
        symbols=tuple(symbols),
        env_settings=from_mapping(
            EnvSettings, {**settings, "action_mode": "discrete"}, source="test settings"
        ),
    )
    return save_agent(folder, spec, {f"q.{k}": v for k, v in net.state_dict().items()})


def hand_candles(folder: Path, symbol_file: str = "AAAUSD_1h", step: str = "h") -> Path:
    """40 hourly candles of one asset: flat at 100, then rising, flat and falling on bars 35..39."""
    n = 40
    times = np.datetime64("2024-01-01T00:00", "ns") + np.arange(n) * np.timedelta64(1, step)
    opens = np.full(n, 100.0)
    closes = np.full(n, 100.0)
    opens[35:40] = [100.0, 110.0, 120.0, 100.0, 100.0]
    closes[35:40] = [110.0, 120.0, 120.0, 100.0, 100.0]
    ohlcv = np.column_stack(
        [opens, np.maximum(opens, closes) + 1, np.minimum(opens, closes) - 1, closes, np.ones(n)]
    )
    write_candles(folder, symbol_file, times, ohlcv)
    return folder
