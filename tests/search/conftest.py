"""Fixtures of the search tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def own_ray() -> Iterator[None]:
    """A local Ray for the module, shut down after it.

    RLlib starts a Ray of its own when a test trains outside Tune, and leaves it up for
    the next module, which then lacks whatever runtime env it would have started with.
    """
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()
