"""The ``cappuccino-ray`` command line: thin commands that import heavy modules lazily.

Each domain adds its sub-commands in its own module (``cli/data.py``, ...),
listed in :data:`_COMMAND_MODULES`. A :class:`CappuccinoError` becomes one
readable line on stderr and exit code 2; anything else keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

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


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every domain's sub-commands registered."""
    parser = argparse.ArgumentParser(
        prog="cappuccino-ray",
        description="Two-phase Ray Tune search for crypto trading agents.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except CappuccinoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
