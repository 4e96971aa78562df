"""Learning test: on a market with a planted trend pattern the agents beat buy-and-hold and chance."""

import pytest

from cappuccino_ray.search.trainable import mini_trial_config, run_trial

pytestmark = [pytest.mark.slow, pytest.mark.learning]

SIGNAL = 3.0
BARS = 3000


def _random_return(segment, seed, discrete, band):
    from cappuccino_ray.data.synthetic import generate_market
    from cappuccino_ray.env import CryptoTradingEnv
    from cappuccino_ray.validation._evaluate import evaluate_policy, random_policy

    md = generate_market(BARS, seed=seed, planted_signal=SIGNAL)
    cfg = {
        "market": md,
        "segments": [tuple(segment)],
        "mode": "eval",
        "settings": {
            "max_hold_days": 3.0,
            "action_mode": "discrete" if discrete else "continuous",
            "episode_bars": 72,
            "no_trade_band": band,
        },
    }
    return evaluate_policy(random_policy(CryptoTradingEnv(cfg), seed=1), cfg).bot.total_return


# PPO: its deterministic policy is the Gaussian mean, which drifts a little every bar; a 0.1
# no-trade band (below the 1/7 equal weight, so buy-and-hold still trades) stops that churn,
# and 40k steps with 4 epochs at lr 1e-3 learn the pattern in about 10 s.
PPO_EXTRA = {"no_trade_band": 0.1, "train_steps": 40_000, "num_epochs": 4, "lr": 1e-3}


# DDQN: the pattern flips every 24 bars, so a short horizon (gamma 0.9) and 60k steps (~6 s
# with the flat replay buffer) learn it; gamma 0.99 at 20k steps passes or fails by seed.
# With the CPCV partition starting after the 30-day feature warm-up, seed 0's test group is a
# +70 % one-way run that no 24-bar timing beats; seeds 1-3 test the pattern. One seed's run
# still wins or loses by chance (about 1 in 4 lost to buy-and-hold when this was written), so
# the double-DQN must win in a majority of three seeds.
DDQN_EXTRA = {"train_steps": 60_000, "gamma": 0.9}
DDQN_SEEDS = (1, 2, 3)


def _wins(tmp_path, algo, extra, seed):
    from cappuccino_ray.agents import load_agent

    cfg = mini_trial_config(
        algo=algo,
        max_splits=1,
        n_groups=3,
        n_test_groups=1,
        synthetic_bars=BARS,
        planted_signal=SIGNAL,
        hidden_size=64,
        **({"train_steps": 20_000} | extra | ({} if seed is None else {"seed": seed})),
    )
    root = tmp_path / f"seed_{seed}"
    (metrics,) = run_trial(cfg, checkpoint_root=root)
    spec = load_agent(root / "split_000").spec
    ((_, segment),) = spec.run["test_groups"]
    band = cfg.get("no_trade_band", 0.02)
    chance = _random_return(segment, cfg["seed"], discrete=algo == "ddqn", band=band)
    print(
        f"{algo} seed {cfg['seed']}: bot {metrics['bot_return']:+.3f}, "
        f"buy-and-hold {metrics['bh_return']:+.3f}, random {chance:+.3f}"
    )
    return metrics["bot_return"] > metrics["bh_return"] and metrics["bot_return"] > chance


def test_ppo_learns_the_planted_pattern(ray_session, tmp_path):
    assert _wins(tmp_path, "ppo", PPO_EXTRA, None)


def test_ddqn_learns_the_planted_pattern_in_most_seeds(ray_session, tmp_path):
    wins = sum(_wins(tmp_path, "ddqn", DDQN_EXTRA, seed) for seed in DDQN_SEEDS)
    assert wins >= 2, f"the double-DQN beat buy-and-hold and chance in {wins} of {len(DDQN_SEEDS)} seeds"
