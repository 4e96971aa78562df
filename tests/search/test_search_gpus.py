"""``--gpus-per-trial`` and ``resources.gpus_per_trial``: fractions reach Tune's request and every trial."""

from __future__ import annotations

import argparse

import pytest

from cappuccino_ray.cli.search import options_from_args, register
from cappuccino_ray.config.paths import PACKAGED_CONFIG_DIR
from cappuccino_ray.config.search import load_search_configs, with_resources
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.search.phase1 import phase1_base_config
from cappuccino_ray.search.runner import _wrapped_trainable


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(list(argv))


def test_the_flag_reaches_both_phases_and_every_trial_config() -> None:
    opts = options_from_args(_parse("phase1", "--mini", "--gpus-per-trial", "0.25"))
    assert opts.gpus_per_trial == 0.25
    p1, p2 = load_search_configs(PACKAGED_CONFIG_DIR, mini=True)
    assert p1.resources.gpus_per_trial == 0.0  # the shipped files: CPU
    p1, p2 = with_resources(p1, p2, gpus_per_trial=opts.gpus_per_trial)
    assert (p1.resources.gpus_per_trial, p2.resources.gpus_per_trial) == (0.25, 0.25)
    assert p1.resources.cpus_per_trial == 1.0  # the rest of the section is kept
    assert phase1_base_config(p1)["num_gpus"] == 0.25  # the trial's learner asks RLlib for it
    wrapped = _wrapped_trainable(lambda config: None, None, p1.resources)
    # Tune's placement request per trial: a quarter of a GPU beside one CPU.
    bundle = wrapped._resources.required_resources  # type: ignore[attr-defined]
    assert bundle == {"CPU": 1.0, "GPU": 0.25}


def test_no_flag_keeps_the_files_values() -> None:
    assert options_from_args(_parse("run", "--mini")).gpus_per_trial is None
    p1, p2 = load_search_configs(PACKAGED_CONFIG_DIR)
    assert with_resources(p1, p2, gpus_per_trial=None) == (p1, p2)


@pytest.mark.parametrize(("value", "words"), [(-0.5, ">= 0"), (1.5, "fraction up to 1")])
def test_bad_values_are_refused_with_the_fix(value: float, words: str) -> None:
    p1, p2 = load_search_configs(PACKAGED_CONFIG_DIR)
    with pytest.raises(ConfigError, match="gpus_per_trial") as err:
        with_resources(p1, p2, gpus_per_trial=value, source="--gpus-per-trial")
    assert words in str(err.value) and "--gpus-per-trial" in str(err.value)
    assert with_resources(p1, p2, gpus_per_trial=2.0)[0].resources.gpus_per_trial == 2.0
