"""Where a backtest or a paper run gets its agent and its candles.

:func:`resolve_checkpoint` turns the ``PATH`` of the commands into a checkpoint
folder: a checkpoint itself (``agent.json``), a run folder (its report's
winner) or a deployment (``current`` or an id). :func:`load_candles` reads a
folder of candle files (``BTCUSDT_1h.csv.gz``...) or a Parquet store into a
:class:`~cappuccino_ray.data.market.MarketData` of exactly the checkpoint's
symbols, in its order, at its interval (resampled from finer candles as the
search does), and refuses anything else with one line saying what differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cappuccino_ray.agents.checkpoint import AGENT_FILE
from cappuccino_ray.data.market import MarketData
from cappuccino_ray.data.readers import CANDLE_SUFFIXES as _CANDLE_SUFFIXES
from cappuccino_ray.errors import ConfigError, DataError
from cappuccino_ray.intervals import interval_minutes
from cappuccino_ray.run_files import TRAINING_REPORT_FILE, read_json

__all__ = ["bar_index", "load_candles", "parse_time", "resolve_checkpoint", "to_ns"]


def resolve_checkpoint(path: str | Path, *, deployments_dir: str | Path = "deployments") -> Path:
    """The checkpoint folder ``path`` names.

    Args:
        path: A checkpoint folder, a run folder (with the two-phase report) or a
            deployment: ``current`` or a deployment id under ``deployments_dir``.
        deployments_dir: Where deployments live.

    Returns:
        The checkpoint folder (a deployment's is re-hashed against its manifest first).

    Raises:
        ConfigError: If ``path`` is none of these.
        DeployError: If a deployment is damaged or nothing is deployed.
    """
    p = Path(path)
    if (p / AGENT_FILE).is_file():
        return p
    if (p / TRAINING_REPORT_FILE).is_file():
        report = read_json(p / TRAINING_REPORT_FILE)
        winner = report.get("winner") if isinstance(report, dict) else None
        ckpt = winner.get("checkpoint_path") if isinstance(winner, dict) else None
        if not ckpt:
            raise ConfigError(
                f"{p / TRAINING_REPORT_FILE} has no winner.checkpoint_path; the run has no winner"
            )
        src = Path(str(ckpt))
        return src if src.is_absolute() else p / src
    deps = Path(deployments_dir)
    if str(path) == "current" or (deps / str(path) / "manifest.json").is_file():
        from cappuccino_ray.ops.deploy import Deployer

        return Deployer(deps).checkpoint_dir(None if str(path) == "current" else str(path))
    raise ConfigError(
        f"{path} is not a checkpoint folder ({AGENT_FILE}), a run folder ({TRAINING_REPORT_FILE}) "
        f"nor a deployment in {deps}; pass one of these"
    )


def parse_time(text: str | None) -> np.datetime64 | None:
    """An ISO time (``2023-01-01``, ``2023-01-01T05:00Z``) as UTC-naive ``datetime64[ns]``, or None."""
    if text is None:
        return None
    try:
        t = pd.Timestamp(text)
    except ValueError as exc:
        raise ConfigError(f"time {text!r} is unreadable; write it as ISO, e.g. 2023-01-01T05:00Z") from exc
    if t.tzinfo is not None:
        t = t.tz_convert(None)
    return np.datetime64(int(t.value), "ns")


def to_ns(ts: Any) -> int:
    """A bar time as int nanoseconds since the epoch (UTC)."""
    return int(np.datetime64(ts, "ns").astype(np.int64))


def iso_ns(ns: int) -> str:
    """Int nanoseconds as ISO text, e.g. ``2023-04-30T23:00:00Z``."""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bar_index(market: MarketData, ts: np.datetime64 | None, *, side: str) -> int | None:
    """Row of the first bar at or after ``ts`` (``side='start'``) or the last at or before it (``'end'``)."""
    if ts is None:
        return None
    times = market.timestamps
    if side == "start":
        return int(np.searchsorted(times, ts, side="left"))
    return int(np.searchsorted(times, ts, side="right")) - 1


def _store_frames(folder: Path, symbols: tuple[str, ...]) -> dict[tuple[str, str], Any] | None:
    """``(symbol, interval) -> loader`` of a Parquet store's datasets, or None if ``folder`` is no store."""
    from cappuccino_ray.data.store import list_datasets, read_dataset

    infos = list_datasets(folder)
    if not infos:
        return None
    out: dict[tuple[str, str], Any] = {}
    for info in sorted(infos, key=lambda i: i.exchange):
        key = (info.symbol, info.interval)
        if key not in out and (not symbols or info.symbol in symbols):
            out[key] = lambda i=info: read_dataset(folder, i.exchange, i.symbol, i.interval)
    return out


def _file_frames(folder: Path) -> dict[tuple[str, str], Any]:
    from cappuccino_ray.data.readers import read_candles
    from cappuccino_ray.data.validate import validate_candles

    out: dict[tuple[str, str], Any] = {}
    for f in sorted(folder.iterdir()):
        if not f.is_file() or not f.name.lower().endswith(_CANDLE_SUFFIXES):
            continue
        raw = read_candles(f)

        def load(raw: Any = raw) -> pd.DataFrame:
            frame, _ = validate_candles(
                raw.frame, interval=raw.interval, source=raw.source, symbol=raw.symbol
            )
            return frame

        out.setdefault((raw.symbol, raw.interval), load)
    return out


def load_candles(folder: str | Path, symbols: tuple[str, ...], interval: str, n_assets: int) -> MarketData:
    """The checkpoint's market from a folder of candle files or a Parquet store.

    Args:
        folder: A folder of candle files (one per symbol) or a store root.
        symbols: The checkpoint's symbols in observation order (empty: every
            symbol found, sorted, which must number ``n_assets``).
        interval: The checkpoint's interval.
        n_assets: The checkpoint's asset count.

    Returns:
        The aligned market (symbols trimmed to the span they all cover).

    Raises:
        DataError: If the folder lacks a symbol, holds another interval, or the
            count of assets differs; the message says which.
    """
    from cappuccino_ray.data.align import align
    from cappuccino_ray.data.resample import resample

    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"candle folder {root} not found; pass a folder of candle files or a store")
    frames = _store_frames(root, symbols)
    if frames is None:
        frames = _file_frames(root)
    if not frames:
        raise DataError(f"{root} holds no candle files ({', '.join(_CANDLE_SUFFIXES)}) and no store")
    found = sorted({s for s, _ in frames})
    want = symbols or tuple(found)
    missing = [s for s in want if s not in found]
    if missing:
        raise DataError(
            f"{root} has candles for {', '.join(found)} but not for {', '.join(missing)}; "
            f"this checkpoint trades {', '.join(want)}"
        )
    if len(want) != n_assets:
        raise DataError(f"{root} has {len(want)} symbols; this checkpoint trades {n_assets} assets")
    source = _source_interval(frames, want, interval)
    if source is None:
        held = "; ".join(f"{s} ({', '.join(sorted(iv for t, iv in frames if t == s))})" for s in want)
        raise DataError(
            f"{root}: candles for {held} do not make {interval} bars, the checkpoint's interval; "
            f"give {interval} candles or finer ones that divide it for every symbol"
        )
    # As the search does: resampled on the epoch grid, incomplete edge bars dropped.
    return resample(align({s: frames[(s, source)]() for s in want}, source, policy="trim"), interval)


def _source_interval(
    frames: Mapping[tuple[str, str], Any], symbols: Sequence[str], interval: str
) -> str | None:
    """The coarsest interval every symbol has that ``interval`` is a whole multiple of (itself first)."""
    target = interval_minutes(interval)
    common = set.intersection(*({iv for t, iv in frames if t == s} for s in symbols))
    fits = [iv for iv in common if target % interval_minutes(iv) == 0]
    return max(fits, key=interval_minutes) if fits else None


def market_from_store(data_config: str | Path, symbols: tuple[str, ...], interval: str) -> MarketData:
    """The checkpoint's symbols at its interval from the store of ``data_config``, to their common last bar.

    Raises:
        DataError: If the store lacks a symbol (the message gives the command that fetches it).
    """
    import dataclasses

    from cappuccino_ray.config import DataConfig, load_config
    from cappuccino_ray.data import load_market

    cfg = load_config(DataConfig, data_config)
    # trim: while the downloader updates one symbol after another, the market ends
    # at the last bar every symbol has; the others' newer bars wait for the next read.
    cfg = dataclasses.replace(cfg, symbols=symbols or cfg.symbols, align_policy="trim")
    return load_market(cfg, interval)
