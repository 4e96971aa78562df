"""``cappuccino-ray data ...``: import, download, list and show stored candles.

Commands are thin: they load the data config, apply flags on top, call the
data layer (imported lazily, it pulls in pandas, pyarrow and ccxt) and print.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cappuccino_ray.config.data import DataConfig

DEFAULT_CONFIG = "configs/data.yaml"


def _config(args: argparse.Namespace) -> DataConfig:
    from pathlib import Path

    from cappuccino_ray.config import DataConfig, from_mapping, load_yaml, override
    from cappuccino_ray.config._loader import resolve_paths
    from cappuccino_ray.config.paths import find_config_dir

    # No --config: ./configs/data.yaml, else the packaged one (see cappuccino_ray.config.paths).
    path = Path(args.config) if args.config is not None else find_config_dir() / "data.yaml"
    data = load_yaml(path) if path.is_file() or args.config is not None else {}
    cfg = resolve_paths(from_mapping(DataConfig, data, source=str(path)), path)
    changes = {"store_dir": getattr(args, "store", None), "exchange": getattr(args, "exchange", None)}
    return override(cfg, **changes)


def _cmd_import(args: argparse.Namespace) -> int:
    from cappuccino_ray.data import import_files

    cfg = _config(args)
    for res in import_files(args.paths, cfg, symbol=args.symbol, interval=args.interval):
        print(res.report.summary())
        extra = f", {res.replaced} stored candles replaced" if res.replaced else ""
        print(f"  stored: {res.stored.path} ({res.stored.rows} rows{extra})")
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    from cappuccino_ray.data.download import download, make_exchange

    cfg = _config(args)
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()] if args.symbols else list(cfg.symbols)
    exchange = make_exchange(cfg.exchange, api_url=args.api_url)
    results = download(
        exchange,
        symbols,
        args.interval or cfg.base_interval,
        store_dir=cfg.store_dir,
        since=args.since,
        gap_policy=cfg.gap_policy,
        max_gap_bars=cfg.max_gap_bars,
        max_retries=args.max_retries,
    )
    for r in results:
        where = f" -> {r.stored.stored.path} ({r.stored.stored.rows} rows)" if r.stored else " (up to date)"
        print(f"{r.symbol}: {r.fetched} new candles, {r.requests} requests, {r.retries} retries{where}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from cappuccino_ray.data import list_datasets

    cfg = _config(args)
    infos = list_datasets(cfg.store_dir)
    if not infos:
        print(f"no datasets under {cfg.store_dir}; add some with `cappuccino-ray data import` or `download`")
        return 0
    print(
        f"{'exchange':<10} {'symbol':<12} {'interval':<8} {'rows':>8}  {'first':<20} {'last':<20} gaps halts"
    )
    for i in infos:
        print(
            f"{i.exchange:<10} {i.symbol:<12} {i.interval:<8} {i.rows:>8}  {i.first:<20} {i.last:<20} "
            f"{len(i.gaps):>4} {len(i.halts):>5}"
        )
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    import json

    from cappuccino_ray.data import read_dataset, read_info
    from cappuccino_ray.data.readers import normalise_symbol

    cfg = _config(args)
    symbol = normalise_symbol(args.symbol)
    interval = args.interval or cfg.base_interval
    info = read_info(cfg.store_dir, cfg.exchange, symbol, interval)
    print(json.dumps(info.to_dict(), indent=2))
    frame = read_dataset(cfg.store_dir, cfg.exchange, symbol, interval)
    print(frame.head(args.rows).to_string(index=False))
    print("...")
    print(frame.tail(args.rows).to_string(index=False, header=False))
    return 0


def register(sub: Any) -> None:
    """Add the ``data`` command group (import, download, list, show)."""
    p: argparse.ArgumentParser = sub.add_parser("data", help="import, download and inspect candles")
    p.set_defaults(func=lambda a: p.print_help())
    cmds = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")

    def common(q: argparse.ArgumentParser) -> None:
        help_text = f"data config file (default: {DEFAULT_CONFIG}, else the packaged one)"
        q.add_argument("--config", default=None, help=help_text)
        q.add_argument("--store", help="store folder (overrides store_dir)")
        q.add_argument("--exchange", help="exchange id (overrides exchange; e.g. coinbase, binance)")

    q = cmds.add_parser("import", help="import candle files (CSV, CSV.gz, Parquet, feather) into the store")
    q.add_argument("paths", nargs="+", metavar="PATH", help="candle files or folders of them")
    q.add_argument("--symbol", help="symbol, e.g. BTC/USDT (default: from the file name)")
    q.add_argument("--interval", help="interval, e.g. 1h (default: from the name or the timestamps)")
    common(q)
    q.set_defaults(func=_cmd_import)

    q = cmds.add_parser("download", help="download missing candles with ccxt and append them to the store")
    q.add_argument("--symbols", help="comma-separated symbols, e.g. BTC/USD,ETH/USD (default: config)")
    q.add_argument("--interval", help="interval, e.g. 5m (default: base_interval)")
    q.add_argument("--since", help="first day for a new dataset, YYYY-MM-DD (UTC)")
    q.add_argument("--max-retries", type=int, default=5, help="retries per request (default: %(default)s)")
    q.add_argument("--api-url", help="send requests to this base URL instead (a proxy or a test server)")
    common(q)
    q.set_defaults(func=_cmd_download)

    q = cmds.add_parser("list", help="list the datasets in the store with their metadata")
    common(q)
    q.set_defaults(func=_cmd_list)

    q = cmds.add_parser("show", help="show one dataset's metadata and first and last candles")
    q.add_argument("symbol", help="symbol, e.g. BTC/USDT")
    q.add_argument("--interval", help="interval (default: base_interval)")
    q.add_argument("--rows", type=int, default=5, help="candles shown at each end (default: %(default)s)")
    common(q)
    q.set_defaults(func=_cmd_show)
