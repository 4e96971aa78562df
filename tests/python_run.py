"""One way for tests to run Python in a child process with this checkout importable."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment, the checkout on ``PYTHONPATH`` and no inherited ``RAY_ADDRESS``."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra or {})
    return env


def run_python(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` to the end and keep its text output; the caller asserts on it.

    Args:
        *args: The interpreter's arguments (``-m cappuccino_ray ...`` or a script and its own).
        cwd: The working folder (default: this one).
        env: The full environment (default: :func:`child_env`).
        timeout: Seconds before the child is killed and the test fails.
    """
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=dict(env) if env is not None else child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m cappuccino_ray ARGS`` (keywords as :func:`run_python`)."""
    return run_python("-m", "cappuccino_ray", *args, cwd=cwd, env=env, timeout=timeout)
