"""A seeded synthetic market: regime-switching returns with realistic volume.

Used by the demo, the tests and the learning tests. Two regimes (calm and
volatile, with their own drift) switch by a Markov chain; assets share a
market factor; volume rises with absolute returns. ``planted_signal`` adds a
learnable pattern: asset 0's next-bar return follows the sign of a visible
slow moving average, so an agent that reads its features can beat buy-and-hold.
"""

from __future__ import annotations

import numpy as np

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.intervals import bars_per_day, interval_minutes

__all__ = ["DEFAULT_SYMBOLS", "generate_market"]

DEFAULT_SYMBOLS: tuple[str, ...] = ("BTC", "ETH", "SOL", "LTC", "XRP", "ADA", "LINK")
_START_PRICES = (30000.0, 2000.0, 40.0, 90.0, 0.5, 0.4, 7.0)


def generate_market(
    n_bars: int,
    *,
    n_assets: int = 7,
    interval: str = "1h",
    seed: int = 0,
    start: str = "2022-01-01T00:00",
    planted_signal: float = 0.0,
    halt_prob: float = 0.0,
) -> MarketData:
    """Generate ``n_bars`` aligned candles for ``n_assets`` symbols.

    Args:
        n_bars: Number of bars.
        n_assets: Number of symbols (named after the default coins, then ``A7``...).
        interval: Candle interval; volatility scales with its square root.
        seed: Seed; the same seed gives the same market.
        start: Open time of the first bar (UTC).
        planted_signal: Strength of asset 0's learnable trend pattern (0 = none).
        halt_prob: Probability that a bar is a zero-volume halt (not tradable).

    Returns:
        The generated market.
    """
    rng = np.random.default_rng(seed)
    daily = np.sqrt(1.0 / bars_per_day(interval))
    # Regimes: 0 calm, 1 volatile; persistence per bar scaled to ~1 switch / 20 days.
    p_switch = min(0.5, 1.0 / (20.0 * bars_per_day(interval)))
    switches = rng.random(n_bars) < p_switch
    regime = np.cumsum(switches) % 2
    vol = np.where(regime == 0, 0.025, 0.06) * daily
    drift = np.where(regime == 0, 0.0005, -0.0008) * daily**2
    market = rng.standard_normal(n_bars) * vol + drift
    betas = rng.uniform(0.7, 1.3, n_assets)
    idio = rng.standard_normal((n_bars, n_assets)) * (vol[:, None] * 0.6)
    rets = market[:, None] * betas[None, :] + idio
    if planted_signal > 0:
        # A slow sinusoidal trend on asset 0, visible in its past returns.
        period = max(8.0, 2.0 * bars_per_day(interval))
        phase = np.sin(2 * np.pi * np.arange(n_bars) / period)
        rets[:, 0] += planted_signal * vol * np.sign(phase)
    start_prices = np.array([_START_PRICES[i % len(_START_PRICES)] for i in range(n_assets)])
    close = start_prices * np.exp(np.cumsum(rets, axis=0))
    open_ = np.empty_like(close)
    open_[0] = start_prices
    open_[1:] = close[:-1]
    span = np.abs(rng.standard_normal((n_bars, n_assets))) * vol[:, None] * 0.5
    high = np.maximum(open_, close) * np.exp(span)
    low = np.minimum(open_, close) * np.exp(-span * rng.uniform(0.5, 1.0, (n_bars, n_assets)))
    base_volume = 1e8 / start_prices
    volume = base_volume * (bars_per_day("1d") / bars_per_day(interval))
    volume = volume * np.exp(0.3 * rng.standard_normal((n_bars, n_assets))) * (1 + 20 * np.abs(rets))
    tradable = np.ones((n_bars, n_assets), dtype=bool)
    if halt_prob > 0:
        halted = rng.random(n_bars) < halt_prob
        volume[halted] = 0.0
        flat = close[halted]
        open_[halted] = high[halted] = low[halted] = flat
        tradable[halted] = False
    step = np.timedelta64(interval_minutes(interval), "m")
    timestamps = np.datetime64(start, "ns") + np.arange(n_bars) * step
    symbols = tuple(DEFAULT_SYMBOLS[i] if i < len(DEFAULT_SYMBOLS) else f"A{i}" for i in range(n_assets))
    return MarketData(
        timestamps=timestamps,
        symbols=symbols,
        interval=interval,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        tradable=tradable,
    )
