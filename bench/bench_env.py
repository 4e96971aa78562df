"""Env steps per second: the vectorised core (1, 64, 1,024 copies) vs a straightforward loop.

``ReferenceAccount`` below is the same market mechanics written plainly, one
step and one asset at a time in pure Python (the tests check it against the
core). Both run in this process on the same generated market.

The single env and 1,024 copies are timed with the info dict on (the
reference builds one too) and off (what training and RLlib's runners use).
The compiled kernels are warmed up first (their cache loads, or they
compile, on first use).
The last rows time 64 copies the way RLlib steps them (wrapped in Gymnasium's
``DictInfoToList``, which splits the info into per-copy dicts) with the info
on and off (``env_config["info"]``; training turns it off), best of 3,
interleaved.

Run: ``.venv/bin/python bench/bench_env.py`` (add ``--quick`` for a short run).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np
from gymnasium.wrappers.vector import DictInfoToList

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.env import CryptoTradingEnv, CryptoTradingVectorEnv
from cappuccino_ray.env.core import CoreParams


class ReferenceAccount:
    """One account, stepped with Python floats and per-asset loops (same rules as the core).

    ``tiers`` is a list of ``(min_volume, rate, taker)``; ``progressive``
    interpolates between tiers.
    """

    def __init__(self, market, features, params: CoreParams, tiers, progressive=False):
        self.open = market.open.tolist()
        self.close = market.close.tolist()
        self.tradable = market.tradable.tolist()
        self.features = features
        self.p = params
        self.tiers = tiers
        self.progressive = progressive
        self.n = market.n_assets

    def reset(self, start, end):
        p = self.p
        self.cash = p.initial_cash
        self.units = [0.0] * self.n
        self.age = [0] * self.n
        self.bar = start
        self.end = end
        self.value = p.initial_cash
        self.window = deque([0.0] * p.window_bars, maxlen=p.window_bars)
        self.vol_sum = 0.0
        rate, _, _ = self.rates(p.starting_volume)
        self.bench_cash, self.bench_units, _, _, _ = self.fill(
            p.initial_cash, [0.0] * self.n, start + 1, [1.0 / self.n] * self.n, rate, rate, [False] * self.n
        )
        return self.observe()

    def rates(self, vol):
        k = 0
        for i, (lo, _, _) in enumerate(self.tiers):
            if vol >= lo:
                k = i
        lo, rate, taker = self.tiers[k]
        if self.progressive and k + 1 < len(self.tiers):
            hi, rate2, taker2 = self.tiers[k + 1]
            frac = (vol - lo) / (hi - lo)
            rate = rate + (rate2 - rate) * frac
            taker = taker + (taker2 - taker) * frac
        return rate, taker, k

    def fill(self, cash, units, f, target, rate, taker, forced):
        p = self.p
        units = list(units)
        price = self.open[f]
        values = [units[i] * price[i] for i in range(self.n)]
        vopen = cash
        for v in values:
            vopen += v
        fees = traded = 0.0
        n_trades = 0
        buys = []
        for i in range(self.n):
            w = values[i] / vopen
            tgt = w if target[i] is None else target[i]
            r = rate
            if forced[i]:
                tgt, r = 0.0, taker
            delta = tgt - w
            if not forced[i]:
                if not self.tradable[f][i] or abs(delta) * vopen < p.min_order_usd:
                    continue
                if abs(delta) < p.no_trade_band and tgt > 0.0:
                    continue
            if delta < 0.0:
                sold = units[i] - tgt * vopen / price[i]
                proceeds = sold * price[i] * (1.0 - p.slippage)
                fee = proceeds * r
                cash += proceeds - fee
                fees += fee
                traded += proceeds
                units[i] -= sold
                n_trades += 1
            elif delta > 0.0:
                buys.append((i, delta * vopen, r))
        cost = sum(usd * (1.0 + r) for _, usd, r in buys)
        scale = cash / cost if cost > cash else 1.0
        for i, usd, r in buys:
            usd *= scale
            if scale < 1.0 and usd < p.min_order_usd:
                continue
            fee = usd * r
            cash -= usd + fee
            fees += fee
            traded += usd
            units[i] += usd / (price[i] * (1.0 + p.slippage))
            n_trades += 1
        return max(cash, 0.0), units, fees, traded, n_trades

    def step(self, target):
        p = self.p
        f = self.bar + 1
        vol = self.vol_sum + p.starting_volume
        rate, taker, tier = self.rates(vol)
        forced = [
            self.age[i] >= p.max_hold_bars and self.units[i] > 0.0 and self.tradable[f][i]
            for i in range(self.n)
        ]
        self.cash, self.units, fees, traded, n_trades = self.fill(
            self.cash, self.units, f, target, rate, taker, forced
        )
        self.vol_sum = max(self.vol_sum + traded - self.window[0], 0.0)
        self.window.append(traded)
        self.age = [self.age[i] + 1 if self.units[i] > 0.0 else 0 for i in range(self.n)]
        value = self.cash
        for i in range(self.n):
            value += self.units[i] * self.close[f][i]
        reward = p.reward_scale * math.log(value / self.value)
        self.value = value
        self.bar = f
        bench = self.bench_cash
        for i in range(self.n):
            bench += self.bench_units[i] * self.close[f][i]
        info = {
            "portfolio_value": value,
            "benchmark_value": bench,
            "fees": fees,
            "traded_value": traded,
            "n_trades": n_trades,
            "forced_sales": sum(forced),
            "fee_tier": tier,
            "fee_rate": rate,
        }
        return self.observe(), reward, f >= self.end, info

    def observe(self):
        obs = []
        f = self.bar
        for i in range(self.n):
            obs.append(self.units[i] * self.close[f][i] / self.value)
            obs.append(min(self.age[i] / self.p.max_hold_bars, 1.0))
            obs.extend(self.features[f][i])
        return obs


def _config(market, features, episode_bars):
    return {"market": market, "features": features, "settings": {"episode_bars": episode_bars}}


def bench_vector(cfg, n_envs, n_steps, actions, *, info=True, rllib=False):
    env = CryptoTradingVectorEnv(num_envs=n_envs, env_config={**cfg, "info": info})
    if rllib:  # what RLlib's SingleAgentEnvRunner does to the vector env
        env = DictInfoToList(env)
    env.reset(seed=0)
    t0 = time.perf_counter()
    for k in range(n_steps):
        env.step(actions[k % len(actions), :n_envs])
    return n_envs * n_steps / (time.perf_counter() - t0)


def bench_single(cfg, n_steps, actions):
    env = CryptoTradingEnv(cfg)
    env.reset(seed=0)
    t0 = time.perf_counter()
    for k in range(n_steps):
        _, _, _, trunc, _ = env.step(actions[k % len(actions), 0])
        if trunc:
            env.reset()
    return n_steps / (time.perf_counter() - t0)


def bench_reference(market, features, params, n_steps, actions):
    ref = ReferenceAccount(market, features.tolist(), params, [(0.0, 0.006, 0.006)])
    ref.reset(100, 100 + 1024)
    targets = np.clip(actions[:, 0], 0, 1)
    targets = (targets / np.maximum(1, targets.sum(axis=1))[:, None]).tolist()
    t0 = time.perf_counter()
    for k in range(n_steps):
        _, _, done, _ = ref.step(targets[k % len(targets)])
        if done:
            ref.reset(100, 100 + 1024)
    return n_steps / (time.perf_counter() - t0)


def main() -> None:
    quick = "--quick" in sys.argv
    market = generate_market(20_000, seed=1)
    rng = np.random.default_rng(0)
    features = rng.standard_normal((market.n_bars, market.n_assets, 7)).astype(np.float32)
    cfg = _config(market, features, 1024)
    single = CryptoTradingEnv(cfg)
    actions = rng.uniform(-1, 1, (64, 1024, market.n_assets)).astype(np.float32)
    scale = 0.2 if quick else 1.0
    # Warm-up: the compiled kernels load from their cache (or compile) on first use, not in a timing.
    for info in (True, False):
        bench_single({**cfg, "info": info}, 50, actions)
        bench_vector(cfg, 4, 50, actions, info=info)
    rows = [
        (
            "reference (pure Python), 1 env",
            bench_reference(market, features, single.setup.params, int(20_000 * scale), actions),
        ),
        ("CryptoTradingEnv, 1 env", bench_single(cfg, int(5_000 * scale), actions)),
        (
            "CryptoTradingEnv, 1 env, info off",
            bench_single({**cfg, "info": False}, int(5_000 * scale), actions),
        ),
        ("vector env, 64 copies", bench_vector(cfg, 64, int(2_000 * scale), actions)),
        ("vector env, 1,024 copies", bench_vector(cfg, 1024, int(1_000 * scale), actions)),
        (
            "vector env, 1,024 copies, info off",
            bench_vector(cfg, 1024, int(1_000 * scale), actions, info=False),
        ),
    ]
    best = {True: 0.0, False: 0.0}
    for _ in range(3):
        for info in (True, False):
            rate = bench_vector(cfg, 64, int(2_000 * scale), actions, info=info, rllib=True)
            best[info] = max(best[info], rate)
    rows += [
        ("64 copies, RLlib wrapper, info on", best[True]),
        ("64 copies, RLlib wrapper, info off", best[False]),
    ]
    ref = rows[0][1]
    print(f"{'implementation':<38}{'env-steps/s':>14}{'x reference':>13}")
    for name, rate in rows:
        print(f"{name:<38}{rate:>14,.0f}{rate / ref:>13.1f}")
    # Share of the info-on step time that the info costs: 1 - t_off / t_on.
    info_share = 1.0 - best[True] / best[False]
    print(f"info on costs {100 * info_share:.0f} % of the RLlib-style step time at 64 copies")
    figures = {
        "reference_steps_per_s": round(ref),
        "env_steps_per_s_1": round(rows[1][1]),
        "env_steps_per_s_1_info_off": round(rows[2][1]),
        "single_vs_reference_x": round(rows[1][1] / ref, 2),
        "single_info_off_vs_reference_x": round(rows[2][1] / ref, 2),
        "env_steps_per_s_64": round(rows[3][1]),
        "env_steps_per_s_1024": round(rows[4][1]),
        "speedup_1024_vs_reference_x": round(rows[4][1] / ref, 1),
        "env_steps_per_s_1024_info_off": round(rows[5][1]),
        "speedup_1024_info_off_vs_reference_x": round(rows[5][1] / ref, 1),
        "rllib_style_steps_per_s_64_info_on": round(best[True]),
        "rllib_style_steps_per_s_64_info_off": round(best[False]),
        "info_share_of_rllib_style_step_pct": round(100 * info_share, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
