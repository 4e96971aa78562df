from __future__ import annotations

import numpy as np
import pytest

from cappuccino_ray.config._loader import from_mapping
from cappuccino_ray.config.env import COINBASE_ADVANCED, EnvSettings, FeeSchedule, FeeTier, load_env_settings
from cappuccino_ray.env.fees import FeeModel, FlatFees, TieredFees
from cappuccino_ray.errors import ConfigError


def test_flat_fees_constant_tier_zero():
    fm = FlatFees(0.006, 0.012, liquidity="maker")
    r = fm.rates(np.array([0.0, 1e9]))
    assert isinstance(fm, FeeModel)
    assert r.rate.tolist() == [0.006, 0.006]
    assert r.taker.tolist() == [0.012, 0.012]
    assert r.tier.tolist() == [0, 0]
    assert FlatFees(0.006, 0.012, liquidity="taker").rates(np.zeros(1)).rate[0] == 0.012


def test_flat_fee_out_of_range():
    with pytest.raises(ConfigError, match="fraction"):
        FlatFees(0.6)


def test_coinbase_schedule_in_env_yaml_matches_the_published_table():
    s = load_env_settings("configs").fee_schedule
    assert [t.min_volume_usd for t in s.tiers] == [0, 10e3, 25e3, 75e3, 250e3, 500e3, 1e6, 5e6]
    assert [round(t.maker * 100, 4) for t in s.tiers] == [0.60, 0.40, 0.25, 0.125, 0.075, 0.06, 0.05, 0.04]
    assert [round(t.taker * 100, 4) for t in s.tiers] == [1.20, 0.80, 0.50, 0.25, 0.15, 0.125, 0.10, 0.085]
    assert s.window_days == 30


def test_static_tiers_by_hand():
    fm = TieredFees(COINBASE_ADVANCED, liquidity="maker", mode="static")
    vol = np.array([0.0, 9_999.99, 10_000.0, 24_999.0, 75_000.0, 4_999_999.0, 5e6, 1e12])
    r = fm.rates(vol)
    assert r.tier.tolist() == [0, 0, 1, 1, 3, 6, 7, 7]
    assert np.allclose(
        r.rate, [0.006, 0.006, 0.004, 0.004, 0.00125, 0.0005, 0.0004, 0.0004], rtol=0, atol=1e-15
    )
    assert np.allclose(
        r.taker, [0.012, 0.012, 0.008, 0.008, 0.0025, 0.001, 0.00085, 0.00085], rtol=0, atol=1e-15
    )


def test_progressive_interpolates_between_thresholds():
    fm = TieredFees(COINBASE_ADVANCED, liquidity="taker", mode="progressive")
    # Halfway from $10K (0.80 % taker) to $25K (0.50 %): 0.65 %.
    r = fm.rates(np.array([17_500.0, 0.0, 5_000.0, 1e9]))
    assert r.rate[0] == pytest.approx(0.0065, abs=1e-15)
    assert r.rate[1] == pytest.approx(0.012)
    assert r.rate[2] == pytest.approx((0.012 + 0.008) / 2)
    assert r.rate[3] == pytest.approx(0.00085)
    assert r.tier.tolist() == [1, 0, 0, 7]


def test_schedule_validation_errors():
    with pytest.raises(ConfigError, match="min_volume_usd: 0"):
        from_mapping(
            FeeSchedule, {"tiers": [{"min_volume_usd": 5, "maker": 0.01, "taker": 0.02}]}, source="t"
        )
    with pytest.raises(ConfigError, match="strictly increase"):
        FeeSchedule(tiers=(FeeTier(0, 0.01, 0.02), FeeTier(0, 0.01, 0.02))).validate()
    with pytest.raises(ConfigError, match="unknown key"):
        from_mapping(FeeSchedule, {"tierz": []}, source="t")


def test_missing_env_file(tmp_path):
    with pytest.raises(ConfigError, match=r"env\.yaml: config file not found"):
        load_env_settings(tmp_path)


def test_env_yaml_is_the_defaults_in_code():
    # One source: the dataclass defaults (library use, gym.make) are configs/env.yaml's values.
    assert load_env_settings("configs") == EnvSettings()


def test_phase_env_section_overrides_env_yaml(tmp_path):
    (tmp_path / "env.yaml").write_text("slippage_bps: 9.0\nfee_schedule: {window_days: 14}\n")
    s = load_env_settings(tmp_path, {"fee_model": "tiered", "fee_schedule": {"name": "x"}}, source="p.yaml")
    assert (s.slippage_bps, s.fee_model, s.fee_schedule.name, s.fee_schedule.window_days) == (
        9.0,
        "tiered",
        "x",
        14.0,
    )
    assert s.fee_schedule.tiers == COINBASE_ADVANCED.tiers
    with pytest.raises(
        ConfigError, match=r"p.yaml env:: unknown key 'slipage_bps'; did you mean 'slippage_bps'"
    ):
        load_env_settings(tmp_path, {"slipage_bps": 1.0}, source="p.yaml")


@pytest.mark.parametrize("mode", ["static", "progressive"])
@pytest.mark.parametrize("liquidity", ["maker", "taker"])
def test_compiled_tier_lookup_is_numpys_searchsorted_and_interp(mode, liquidity):
    """The core's compiled lookup equals numpy's formulas bit for bit, thresholds and their neighbours too."""
    fm = TieredFees(COINBASE_ADVANCED, liquidity=liquidity, mode=mode)
    rng = np.random.default_rng(3)
    edges = np.concatenate([fm.thresholds, np.nextafter(fm.thresholds, -np.inf), fm.thresholds + 0.5])
    vol = np.concatenate([rng.uniform(0, 6e6, 500), 10 ** rng.uniform(0, 9, 500), edges[edges >= 0]])
    got = fm.rates(vol)
    rate = fm.maker if liquidity == "maker" else fm.taker
    tier = np.searchsorted(fm.thresholds, vol, side="right") - 1
    assert np.array_equal(got.tier, tier)
    if mode == "static":
        assert np.array_equal(got.rate, rate[tier]) and np.array_equal(got.taker, fm.taker[tier])
    else:
        assert np.array_equal(got.rate, np.interp(vol, fm.thresholds, rate))
        assert np.array_equal(got.taker, np.interp(vol, fm.thresholds, fm.taker))


def test_flat_fees_are_one_tier_for_the_core():
    fm = FlatFees(0.004, 0.009, liquidity="maker")
    assert fm.table.tolist() == [[0.0], [0.004], [0.009]] and not fm.progressive
    r = fm.rates(np.array([0.0, 5e6]))
    assert r.rate.tolist() == [0.004, 0.004] and r.taker.tolist() == [0.009, 0.009]
    assert r.tier.tolist() == [0, 0]
