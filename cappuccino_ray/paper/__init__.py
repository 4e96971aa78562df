"""Backtests and paper trading of checkpoints, and the champion/challenger rule.

* :mod:`~cappuccino_ray.paper.backtest`: a checkpoint on any candles, with its own mechanics.
* :mod:`~cappuccino_ray.paper.engine`: one closed candle at a time into a durable
  :mod:`~cappuccino_ray.paper.book` (SQLite), fills through the
  :mod:`~cappuccino_ray.paper.orders` interface (the market core on paper).
* :mod:`~cappuccino_ray.paper.daemon`: ``paper run|start|stop|status``.
* :mod:`~cappuccino_ray.paper.sources`: checkpoints from runs and deployments, candles from folders.

Import the modules themselves (``from cappuccino_ray.paper.engine import PaperEngine``):
this package imports nothing, so ``paper status`` starts without torch.
"""
