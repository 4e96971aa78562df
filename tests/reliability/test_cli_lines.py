"""The CLI's errors: a user error is one line (a traceback only with --debug); a bug keeps its traceback."""

from __future__ import annotations

import argparse

import pytest

from cappuccino_ray import cli
from cappuccino_ray.errors import ConfigError
from cappuccino_ray.search.interrupt import JobInterrupted


def _with_command(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def command(args: argparse.Namespace) -> int:
        raise exc

    monkeypatch.setattr("cappuccino_ray.cli.report._results", command)


def test_debug_adds_the_traceback_of_a_user_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_command(monkeypatch, ConfigError("phase1.yaml: seed must be a whole number"))
    assert cli.main(["--debug", "results"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().endswith("error: phase1.yaml: seed must be a whole number")
    assert cli.main(["results"]) == 2
    assert capsys.readouterr().err == "error: phase1.yaml: seed must be a whole number\n"


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_command(monkeypatch, KeyError("oops"))
    with pytest.raises(KeyError):
        cli.main(["results"])


@pytest.mark.parametrize(("signum", "code", "name"), [(2, 130, "SIGINT"), (15, 143, "SIGTERM")])
def test_an_interrupted_job_exits_128_plus_the_signal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], signum: int, code: int, name: str
) -> None:
    _with_command(monkeypatch, JobInterrupted(signum))
    assert cli.main(["results"]) == code
    assert capsys.readouterr().err == f"interrupted ({name}); continue with the same command and --resume\n"
