"""Validate one symbol's candles: clear errors for bad data, explicit reported repairs for the rest.

Errors (a :class:`DataError` naming the file, symbol, row and timestamp):
empty file, NaN values, non-positive prices, negative volume, ``high < low``,
timestamps off the interval grid, duplicated timestamps with different values,
a gap longer than ``max_gap_bars``, and any gap when ``gap_policy`` is ``refuse``.

Repairs (each reported in :attr:`ValidationReport.repairs`):
rows out of time order are sorted; exact duplicate rows are dropped; an open or
close outside ``[low, high]`` widens ``high``/``low`` to contain it; gaps (under
``ffill``) are filled with flat bars at the previous close, zero volume,
``tradable=False``. Zero-volume bars in the data are trading halts: kept, and
flagged not tradable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cappuccino_ray.data.readers import OHLCV
from cappuccino_ray.errors import DataError
from cappuccino_ray.intervals import interval_ns

__all__ = ["Gap", "ValidationReport", "iso", "validate_candles"]

_MAX_LISTED = 5


def iso(ts: Any, *, seconds: bool = False) -> str:
    """A timestamp (numpy, pandas, datetime or int ns) as ISO-8601 UTC, e.g. ``2021-08-13T01:00Z``.

    Seconds are shown when not 0, or always with ``seconds=True`` (the store's metadata).
    """
    t = pd.Timestamp(ts)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ" if seconds or t.second else "%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True)
class Gap:
    """Missing bars: ``missing`` bars are absent right after the bar opened at ``after``."""

    after: pd.Timestamp
    missing: int

    def __str__(self) -> str:
        """E.g. ``4 bars missing after 2021-08-13T01:00Z``."""
        return f"{self.missing} bar{'s' if self.missing != 1 else ''} missing after {iso(self.after)}"


@dataclass(frozen=True)
class ValidationReport:
    """What validation found and repaired in one symbol's candles.

    Attributes:
        source: The file or exchange the candles came from.
        symbol: Unified symbol.
        interval: Candle interval.
        rows: Rows read.
        rows_out: Rows after repairs (gap fills added, duplicates dropped).
        first: Open time of the first bar.
        last: Open time of the last bar.
        gaps: Each gap in the data, in time order.
        halts: Open times of zero-volume (halted, not tradable) bars.
        repairs: One line per kind of repair made.
    """

    source: str
    symbol: str
    interval: str
    rows: int
    rows_out: int
    first: pd.Timestamp
    last: pd.Timestamp
    gaps: tuple[Gap, ...] = ()
    halts: tuple[pd.Timestamp, ...] = ()
    repairs: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (timestamps as ISO strings)."""
        return {
            "source": self.source,
            "symbol": self.symbol,
            "interval": self.interval,
            "rows": self.rows,
            "rows_out": self.rows_out,
            "first": iso(self.first),
            "last": iso(self.last),
            "gaps": [{"after": iso(g.after), "missing": g.missing} for g in self.gaps],
            "halts": [iso(h) for h in self.halts],
            "repairs": list(self.repairs),
        }

    def summary(self) -> str:
        """A few human-readable lines for the CLI."""
        lines = [
            f"{self.symbol} {self.interval} from {self.source}: {self.rows} rows, "
            f"{iso(self.first)} .. {iso(self.last)}",
            f"  gaps: {len(self.gaps)}" + "".join(f"\n    {g}" for g in self.gaps),
            f"  halts (zero volume, not tradable): {len(self.halts)}"
            + (f" ({_listing([iso(h) for h in self.halts])})" if self.halts else ""),
            f"  repairs: {len(self.repairs)}" + "".join(f"\n    {r}" for r in self.repairs),
        ]
        return "\n".join(lines)


def _listing(items: list[str]) -> str:
    head = ", ".join(items[:_MAX_LISTED])
    return head + (f", ... ({len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else "")


def _where(ts_ns: np.ndarray, order: np.ndarray, i: int) -> str:
    """``row N (timestamp)`` of the i-th sorted element, N counted in file order from 1."""
    return f"row {int(order[i]) + 1} ({iso(int(ts_ns[i]))})"


def _check_values(frame: pd.DataFrame, where: str) -> None:
    """NaN, inf, non-positive prices, negative volume, high < low: errors naming the first bad row."""
    vals = {c: frame[c].to_numpy(dtype=np.float64) for c in OHLCV}
    ts = frame["timestamp"].to_numpy().astype(np.int64)
    rows = np.arange(len(frame))
    checks = [
        *((f"{c} is missing (NaN)", np.isnan(vals[c])) for c in OHLCV),
        *((f"{c} is infinite", np.isinf(vals[c])) for c in OHLCV),
        *((f"{c} is not positive", vals[c] <= 0) for c in ("open", "high", "low", "close")),
        ("volume is negative", vals["volume"] < 0),
        ("high is below low", vals["high"] < vals["low"]),
    ]
    for what, bad in checks:
        if bad.any():
            idx = np.flatnonzero(bad)
            i = int(idx[0])
            extra = f" and {len(idx) - 1} more rows" if len(idx) > 1 else ""
            raise DataError(
                f"{where}: {_where(ts, rows, i)}: {what}{extra}; fix or delete these rows in the source"
            )


def validate_candles(
    frame: pd.DataFrame,
    *,
    interval: str,
    source: str,
    symbol: str,
    gap_policy: str = "ffill",
    max_gap_bars: int = 48,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Check and repair one symbol's candles.

    Args:
        frame: Columns ``timestamp`` (datetime64[ns], UTC-naive open times) and OHLCV, any order.
        interval: The candles' interval; every timestamp must lie on its grid.
        source: The file or exchange, for messages.
        symbol: The symbol, for messages.
        gap_policy: ``ffill`` fills gaps with flat zero-volume not-tradable bars; ``refuse`` raises.
        max_gap_bars: A gap of more missing bars than this always raises.

    Returns:
        The repaired frame (time order, on a gap-free grid under ``ffill``) with extra
        bool columns ``tradable`` and ``filled``, and the report.

    Raises:
        DataError: On data that cannot be repaired without inventing values; the message
            names the file, symbol, row and timestamp and says how to fix it.
    """
    where = f"{source} ({symbol} {interval})"
    if len(frame) == 0:
        raise DataError(f"{where}: no candles; pick a file or date range that has data")
    _check_values(frame, where)
    repairs: list[str] = []
    step = interval_ns(interval)
    ts = frame["timestamp"].to_numpy().astype(np.int64)
    off = ts % step != 0
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise DataError(
            f"{where}: row {i + 1} ({iso(ts[i])}) is off the {interval} grid ({int(off.sum())} rows are); "
            "check --interval, or resample the source to whole bars"
        )
    order = np.argsort(ts, kind="stable")
    if np.any(order != np.arange(len(ts))):
        repairs.append(f"sorted {len(ts)} rows into time order (the file was not sorted)")
    ts = ts[order]
    vals = np.column_stack([frame[c].to_numpy(dtype=np.float64)[order] for c in OHLCV])
    dup = np.flatnonzero(np.diff(ts) == 0) + 1
    if len(dup):
        same = np.all(vals[dup] == vals[dup - 1], axis=1)
        if not same.all():
            i = int(dup[~same][0])
            raise DataError(
                f"{where}: rows {int(order[i - 1]) + 1} and {int(order[i]) + 1} share the timestamp "
                f"{iso(ts[i])} with different values; keep one of them in the source"
            )
        repairs.append(f"dropped {len(dup)} exact duplicate rows (first at {iso(ts[dup[0]])})")
        keep = np.ones(len(ts), dtype=bool)
        keep[dup] = False
        ts, vals, order = ts[keep], vals[keep], order[keep]
    _widen_envelope(vals, ts, repairs)
    halts_mask = vals[:, 4] == 0.0
    gaps = _find_gaps(ts, step)
    _check_gaps(gaps, where, gap_policy, max_gap_bars)
    out = _fill(ts, vals, step, halts_mask)
    if gaps:
        n_missing = sum(g.missing for g in gaps)
        repairs.append(
            f"filled {n_missing} missing bars in {len(gaps)} gaps with flat zero-volume bars "
            "at the previous close (not tradable)"
        )
    halts = tuple(pd.Timestamp(int(t)) for t in ts[halts_mask])
    report = ValidationReport(
        source=source,
        symbol=symbol,
        interval=interval,
        rows=len(frame),
        rows_out=len(out),
        first=pd.Timestamp(int(ts[0])),
        last=pd.Timestamp(int(ts[-1])),
        gaps=tuple(gaps),
        halts=halts,
        repairs=tuple(repairs),
    )
    return out, report


def _widen_envelope(vals: np.ndarray, ts: np.ndarray, repairs: list[str]) -> None:
    """Raise ``high``/lower ``low`` in place where open or close lies outside them."""
    top = np.maximum(vals[:, 0], vals[:, 3])
    bottom = np.minimum(vals[:, 0], vals[:, 3])
    bad = (top > vals[:, 1]) | (bottom < vals[:, 2])
    if bad.any():
        vals[:, 1] = np.maximum(vals[:, 1], top)
        vals[:, 2] = np.minimum(vals[:, 2], bottom)
        first = int(np.flatnonzero(bad)[0])
        repairs.append(
            f"widened high/low on {int(bad.sum())} bars whose open or close lay outside "
            f"[low, high] (first at {iso(ts[first])})"
        )


def _find_gaps(ts: np.ndarray, step: int) -> list[Gap]:
    jumps = np.diff(ts)
    idx = np.flatnonzero(jumps > step)
    return [Gap(after=pd.Timestamp(int(ts[i])), missing=int(jumps[i] // step - 1)) for i in idx]


def _check_gaps(gaps: list[Gap], where: str, gap_policy: str, max_gap_bars: int) -> None:
    if not gaps:
        return
    too_long = [g for g in gaps if g.missing > max_gap_bars]
    if too_long:
        g = too_long[0]
        raise DataError(
            f"{where}: gap of {g} is longer than max_gap_bars={max_gap_bars}; "
            "raise max_gap_bars in configs/data.yaml or import data that covers it"
        )
    if gap_policy == "refuse":
        listed = _listing([str(g) for g in gaps])
        raise DataError(
            f"{where}: {len(gaps)} gaps ({listed}) and gap_policy is refuse; "
            "set gap_policy: ffill in configs/data.yaml or import data that covers them"
        )


def _fill(ts: np.ndarray, vals: np.ndarray, step: int, halts: np.ndarray) -> pd.DataFrame:
    """Place rows on the full grid; missing bars become flat at the previous close, volume 0."""
    pos = (ts - ts[0]) // step
    n = int(pos[-1]) + 1
    present = np.zeros(n, dtype=bool)
    present[pos] = True
    src = np.zeros(n, dtype=np.int64)
    src[pos] = np.arange(len(ts))
    src = np.maximum.accumulate(np.where(present, src, 0))
    full = vals[src]
    if n != len(ts):
        prev_close = full[~present, 3]
        full[~present, 0:4] = prev_close[:, None]
        full[~present, 4] = 0.0
    tradable = present.copy()
    tradable[pos[halts]] = False
    frame = pd.DataFrame(
        {"timestamp": (ts[0] + np.arange(n, dtype=np.int64) * step).astype("datetime64[ns]")}
    )
    for j, c in enumerate(OHLCV):
        frame[c] = full[:, j]
    frame["tradable"] = tradable
    frame["filled"] = ~present
    return frame
