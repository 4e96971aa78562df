"""The CLI turns project errors into one readable line and a non-zero exit."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from cappuccino_ray import cli
from cappuccino_ray.cli import EXIT_USER_ERROR, main
from cappuccino_ray.errors import DataError


def test_version_prints(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ex:
        main(["--version"])
    assert ex.value.code == 0
    assert "cappuccino-ray" in capsys.readouterr().out


def test_user_error_is_one_line_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(args: argparse.Namespace) -> int:
        raise DataError("file x.csv: column close missing; add it")

    def parser() -> argparse.ArgumentParser:
        p = argparse.ArgumentParser()
        p.set_defaults(func=boom)
        return p

    monkeypatch.setattr(cli, "build_parser", parser)
    assert cli.main([]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err == "error: file x.csv: column close missing; add it\n"


def test_unknown_command_exits_non_zero() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cappuccino_ray", "no-such-command"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "invalid choice" in proc.stderr


def test_out_of_range_holdout_fraction_is_rejected_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cappuccino_ray.search import pipeline

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the job started despite an invalid --holdout-fraction")

    monkeypatch.setattr(pipeline, "run_pipeline", must_not_run)
    assert main(["run", "--holdout-fraction", "0.7"]) == EXIT_USER_ERROR
    assert capsys.readouterr().err == "error: command line: holdout_fraction is 0.7; it must be < 0.5\n"
