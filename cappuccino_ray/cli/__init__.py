"""The ``cappuccino-ray`` command line: thin commands that import heavy modules lazily.

Each domain adds its sub-commands in its own module (``cli/data.py``, ...),
listed in :data:`_COMMAND_MODULES`. A :class:`CappuccinoError` becomes one
readable line on stderr and exit code 2 (3 for a run whose trials mostly
failed); anything else is a bug and keeps its traceback. ``--debug`` shows the
traceback of a user error too.

Exit codes: 0 done; 1 a bug (traceback); 2 a user error, refused with one line
(usually before Ray starts and before any file is written); 3 the run started
but most trials of a phase failed; 130 stopped by SIGINT (Ctrl-C); 143 stopped
by SIGTERM. After 3, 130 or 143, ``--resume`` continues the run.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from cappuccino_ray import __version__
from cappuccino_ray.errors import CappuccinoError

__all__ = ["main"]

_COMMAND_MODULES: tuple[str, ...] = (
    "cappuccino_ray.cli.data",
    "cappuccino_ray.cli.search",
    "cappuccino_ray.cli.ops",
    "cappuccino_ray.cli.report",
    "cappuccino_ray.cli.paper",
)
EXIT_USER_ERROR = 2
EXIT_RUN_FAILED = 3
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
_INTERRUPTED = "interrupted ({}); continue with the same command and --resume"


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (with where to find the usage)."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: <prog>: <message>; see <prog> --help`` and exit 2."""
        self.exit(EXIT_USER_ERROR, f"error: {self.prog}: {message}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every domain's sub-commands registered."""
    parser = _OneLineParser(
        prog="cappuccino-ray",
        description="Two-phase Ray Tune search for crypto trading agents.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a user error too")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _sigterm(signum: int, frame: object) -> None:
    from cappuccino_ray.search.interrupt import JobInterrupted

    raise JobInterrupted(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (see the module docstring for their meaning)."""
    from cappuccino_ray.search.interrupt import JobInterrupted
    from cappuccino_ray.search.run_folder import RunFailedError

    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    previous = signal.signal(signal.SIGTERM, _sigterm) if _main_thread() else None
    try:
        code = args.func(args)
    except CappuccinoError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED if isinstance(exc, RunFailedError) else EXIT_USER_ERROR
    except JobInterrupted as exc:
        print(_INTERRUPTED.format(exc.signal_name), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(_INTERRUPTED.format("SIGINT"), file=sys.stderr)
        return EXIT_SIGINT
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return int(code or 0)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
