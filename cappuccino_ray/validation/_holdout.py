"""The final hold-out period: the last bars, cut off before any search.

The hold-out is seen only by the deploy gate and the final report; every
search phase works on ``search_range`` alone.
"""

from __future__ import annotations

import math

from cappuccino_ray.errors import ConfigError

__all__ = ["holdout_split"]


def holdout_split(n_bars: int, fraction: float = 0.15, *, purge: int = 0) -> tuple[range, range]:
    """Split ``n_bars`` bars into a search range and a final hold-out range.

    The hold-out is the last ``ceil(fraction * n_bars)`` bars (at least one
    bar when ``fraction > 0``); the search range is everything before it,
    less ``purge`` bars at its end, whose label horizon would otherwise reach
    into the hold-out.

    Args:
        n_bars: Number of bars in the whole series.
        fraction: Share of bars held out, in ``[0, 1)``; 0 means no hold-out.
        purge: Bars dropped between the search range and the hold-out.

    Returns:
        ``(search_range, holdout_range)`` as ``range`` objects of bar indices.

    Raises:
        ConfigError: If an argument is out of range or nothing is left to search.

    Example:
        >>> holdout_split(100, 0.15)
        (range(0, 85), range(85, 100))
    """
    if isinstance(n_bars, bool) or not isinstance(n_bars, int) or n_bars < 1:
        raise ConfigError(f"n_bars must be a positive whole number, got {n_bars!r}")
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"holdout fraction is {fraction}; use a value in [0, 1), e.g. 0.15")
    if isinstance(purge, bool) or not isinstance(purge, int) or purge < 0:
        raise ConfigError(f"purge must be a whole number of bars >= 0, got {purge!r}")
    # The tolerance keeps e.g. 0.15 * 100 = 15.000000000000002 at 15 bars.
    n_holdout = math.ceil(fraction * n_bars - 1e-9) if fraction > 0 else 0
    n_search = n_bars - n_holdout - purge
    if n_search < 1:
        raise ConfigError(
            f"a hold-out of {n_holdout} bars and a purge of {purge} bars leave nothing of "
            f"{n_bars} bars to search; use more data or a smaller holdout_fraction"
        )
    return range(0, n_search), range(n_bars - n_holdout, n_bars)
