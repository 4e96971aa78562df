"""Run the real CLI with the cheap stand-in trainable, for the interruption tests.

Usage: ``python standin_driver.py SLEEP_S CLI_ARGS...``. Each split of a trial
sleeps ``SLEEP_S`` seconds, so a test can stop the job mid-phase; the hold-out
step gets a stand-in result (the stand-in's checkpoints hold no agent). Ray is
started by the CLI itself, as in a real run; the workers find the stand-in
through ``PYTHONPATH``, which they inherit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEARCH_TESTS = HERE.parent / "search"


def slow_trainable(config: dict[str, Any], markets: Mapping[str, Any] | None = None) -> None:
    """The stand-in trainable, each split slowed by STANDIN_SLEEP_S seconds; STANDIN_FAIL makes it fail."""
    from search_standin import standin_trainable

    if os.environ.get("STANDIN_FAIL"):
        raise ValueError(f"planted failure: {os.environ['STANDIN_FAIL']}")
    standin_trainable({**config, "sleep_s": float(os.environ.get("STANDIN_SLEEP_S", "0"))}, markets)


def fake_holdout(winner: Mapping[str, Any], market: Any, holdout_row: int, **_: Any) -> dict[str, Any]:
    """A hold-out result without loading an agent."""
    return {"checkpoint_path": winner.checkpoint_path, "n_bars": int(len(market.close) - holdout_row)}


def main() -> int:
    """Patch in the stand-ins and run the CLI."""
    sys.path[:0] = [str(SEARCH_TESTS), str(HERE)]
    sleep_s, argv = sys.argv[1], sys.argv[2:]
    os.environ["STANDIN_SLEEP_S"] = sleep_s
    from cappuccino_ray import cli
    from cappuccino_ray.search import holdout, phase1

    phase1.default_trainable = lambda: slow_trainable  # type: ignore[assignment]
    holdout.evaluate_holdout = fake_holdout  # type: ignore[assignment]
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(SEARCH_TESTS), str(HERE), os.environ.get("PYTHONPATH", "")]
    )
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
