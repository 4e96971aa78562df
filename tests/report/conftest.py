"""Fixtures of the report tests (helpers live in report_helpers.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from report_helpers import RUN_NAME, make_tune_run, write_job_files


@pytest.fixture(scope="session")
def tune_results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A results folder with one finished run: real Tune trials plus the job's files."""
    root = tmp_path_factory.mktemp("results")
    run_dir = root / RUN_NAME
    make_tune_run(run_dir)
    write_job_files(run_dir)
    yield root
