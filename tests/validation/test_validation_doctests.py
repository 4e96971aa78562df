"""The validation modules' docstring examples run as written (doctests)."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["_cpcv", "_holdout", "_metrics", "_objective"])
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(f"cappuccino_ray.validation.{module}")
    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0
