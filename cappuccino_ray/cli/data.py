"""``cappuccino-ray data ...`` commands."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``data`` command group."""
    p: argparse.ArgumentParser = sub.add_parser("data", help="import, download and inspect candles")
    p.set_defaults(func=lambda a: p.print_help())
