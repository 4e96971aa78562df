"""``cappuccino-ray`` commands of the ops domain."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Add this domain's commands (none yet)."""
