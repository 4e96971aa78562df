"""Fixtures of the agent tests."""

import pytest


@pytest.fixture(scope="module")
def ray_session():
    """A local Ray for the module's tests (RLlib's algorithms start inside it)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()
