"""A live terminal view of a search: per combination, trials done/running/failed, best so far, ETA.

:class:`SearchProgress` is a Tune ``Callback``; the table itself is built by the
pure function :func:`progress_table` so it can be tested without Ray.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ray.tune import Callback

from cappuccino_ray.ranking import combo_label

__all__ = ["ComboStatus", "SearchProgress", "progress_table"]


@dataclass
class ComboStatus:
    """Counts and best objective of one combination."""

    done: int = 0
    running: int = 0
    failed: int = 0
    best: float = -math.inf


def _fmt_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def progress_table(title: str, status: Mapping[str, ComboStatus], total: int, elapsed_s: float) -> str:
    """Render the progress view.

    The time left is ``elapsed / finished x remaining``: finished trials so far
    took ``elapsed`` seconds with the same concurrency, so the remaining ones
    should take proportionally as long.

    Args:
        title: Heading, e.g. ``"phase 1"``.
        status: Combination label -> counts.
        total: Trials planned in all.
        elapsed_s: Seconds since the search started.

    Returns:
        A multi-line string.
    """
    finished = sum(s.done + s.failed for s in status.values())
    running = sum(s.running for s in status.values())
    remaining = max(total - finished, 0)
    eta = elapsed_s / finished * remaining if finished else math.inf
    best_label, best = max(
        ((k, s.best) for k, s in status.items()), key=lambda kv: kv[1], default=("-", -math.inf)
    )
    lines = [
        f"== {title}: {finished}/{total} trials finished, {running} running, "
        f"elapsed {_fmt_duration(elapsed_s)}, left ~{_fmt_duration(eta)}",
        f"   {'combination':<12} {'done':>5} {'run':>4} {'fail':>5} {'best':>10}",
    ]
    for label in sorted(status):
        s = status[label]
        b = f"{s.best:10.4f}" if math.isfinite(s.best) else f"{'-':>10}"
        lines.append(f"   {label:<12} {s.done:>5} {s.running:>4} {s.failed:>5} {b}")
    if math.isfinite(best):
        lines.append(f"   best so far: {best_label} objective {best:.4f}")
    return "\n".join(lines)


class SearchProgress(Callback):
    """Prints :func:`progress_table` at most every ``every_s`` seconds and at the end.

    Args:
        title: Heading of the view.
        total: Trials planned.
        metric: Result key of the objective.
        every_s: Least seconds between two prints.
    """

    def __init__(
        self,
        title: str,
        total: int,
        *,
        metric: str = "objective",
        every_s: float = 10.0,
    ) -> None:
        """Start the clock."""
        self.title = title
        self.total = total
        self.metric = metric
        self.every_s = every_s
        self._start = time.monotonic()
        self._last_print = 0.0

    def status(self, trials: Sequence[Any]) -> dict[str, ComboStatus]:
        """Count trials per combination from Tune's trial list."""
        out: dict[str, ComboStatus] = {}
        for trial in trials:
            label = combo_label(trial.config)
            s = out.setdefault(label, ComboStatus())
            if trial.status == "TERMINATED":
                s.done += 1
            elif trial.status == "ERROR":
                s.failed += 1
            elif trial.status == "RUNNING":
                s.running += 1
            value = (trial.last_result or {}).get(self.metric)
            if isinstance(value, int | float) and math.isfinite(value):
                s.best = max(s.best, float(value))
        return out

    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        """Restart the clock when the experiment starts (or resumes)."""
        self._start = time.monotonic()
        self._last_print = 0.0

    def _print(self, trials: Sequence[Any]) -> None:
        text = progress_table(self.title, self.status(trials), self.total, time.monotonic() - self._start)
        print(text, file=sys.stdout, flush=True)
        self._last_print = time.monotonic()

    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        """Print the view if ``every_s`` has passed."""
        if time.monotonic() - self._last_print >= self.every_s:
            self._print(trials)

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        """Print the final view."""
        self._print(trials)
