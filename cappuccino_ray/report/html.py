"""The self-contained HTML report of a run: key numbers, plots as embedded PNG, verdicts.

:func:`write_report` reads a run folder (Tune trials + the job's JSON files +
the hold-out series), builds every section it has data for, says which parts
are missing (a phase-1-only run still gets a report) and writes
``report.html`` atomically into the run folder.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cappuccino_ray import storage
from cappuccino_ray.atomic import write_bytes_atomic
from cappuccino_ray.documents import DeflatedSharpe, Pbo
from cappuccino_ray.ranking import finite_or_none
from cappuccino_ray.report import plots
from cappuccino_ray.report.analysis import (
    cells_from_json,
    cells_from_trials,
    dsr_verdict,
    param_importances,
    pbo_verdict,
)
from cappuccino_ray.report.artifacts import RunArtifacts, load_artifacts
from cappuccino_ray.report.queries import (
    TrialRecord,
    best_per_algorithm,
    best_per_combination,
    cell_text,
    failed_trials,
    load_trials,
    trial_rows,
)
from cappuccino_ray.run_files import (
    HOLDOUT_SERIES_FILE,
    HTML_REPORT_FILE,
    PHASE1_ALL_RESULTS_FILE,
    PHASE2_COMPARISON_FILE,
    TRAINING_REPORT_FILE,
)

__all__ = ["Section", "build_sections", "render_html", "write_report"]

_METRICS = (
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "turnover",
    "fees_paid",
    "n_trades",
    "n_forced_sales",
)


@dataclass
class Section:
    """One part of the report: a heading, text, tables, figures, or a note saying what is missing."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[list[list[str]]] = field(default_factory=list)
    figures: list[tuple[str, bytes]] = field(default_factory=list)
    missing: str | None = None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _figure(fig_fn: Any, *args: Any) -> tuple[str, bytes]:
    fig = fig_fn(*args)
    title = fig.get_suptitle() or fig.axes[0].get_title()
    return title, plots.figure_png(fig)


def _summary(art: RunArtifacts, trials: Sequence[TrialRecord]) -> Section:
    rep = art.training_report or {}
    winner = _dict(rep.get("winner"))
    rows = [
        ["run", art.run_dir.name],
        ["status", cell_text(rep.get("status", f"incomplete (no {TRAINING_REPORT_FILE})"))],
        ["mode", cell_text(rep.get("mode"))],
        ["started / finished", f"{cell_text(rep.get('started_at'))} / {cell_text(rep.get('finished_at'))}"],
        ["duration (s)", cell_text(rep.get("duration_s"))],
        ["trials (failed)", f"{len(trials)} ({len(failed_trials(trials))})"],
    ]
    if winner:
        rows += [
            [
                "winner",
                f"{cell_text(winner.get('algorithm'))}, hold {cell_text(winner.get('holding_days'))} d, "
                f"{cell_text(winner.get('interval'))}",
            ],
            ["winner objective (CPCV)", cell_text(winner.get("objective"))],
            ["winner checkpoint", cell_text(winner.get("checkpoint_path"))],
        ]
    pbo_doc, dsr_doc = _overfit(art)
    pbo, dsr = finite_or_none(pbo_doc.value), finite_or_none(dsr_doc.value)
    rows += [["PBO", cell_text(pbo)], ["deflated Sharpe", cell_text(dsr)]]
    holdout = _dict(rep.get("holdout"))
    bot, bh = _dict(holdout.get("bot")), _dict(holdout.get("buy_and_hold"))
    for key in ("total_return", "sharpe", "max_drawdown"):
        if key in bot or key in bh:
            rows.append(
                [
                    f"hold-out {key} (bot / buy-and-hold)",
                    f"{cell_text(bot.get(key))} / {cell_text(bh.get(key))}",
                ]
            )
    missing = _missing_parts(art, trials)
    section = Section("Key numbers", tables=[[["item", "value"], *rows]])
    if missing:
        section.paragraphs.append("Missing from this run: " + "; ".join(missing) + ".")
    return section


def _missing_parts(art: RunArtifacts, trials: Sequence[TrialRecord]) -> list[str]:
    out = []
    if not any(t.phase == 1 for t in trials) and art.phase1_all is None:
        out.append(f"phase 1 (no phase-1 trials, no {PHASE1_ALL_RESULTS_FILE})")
    if not any(t.phase == 2 for t in trials) and art.phase2_comparison is None:
        out.append(f"phase 2 (no phase-2 trials, no {PHASE2_COMPARISON_FILE})")
    if art.training_report is None:
        out.append(f"the job summary ({TRAINING_REPORT_FILE}: winner, PBO, deflated Sharpe)")
    if art.holdout is None:
        out.append(f"the hold-out series ({HOLDOUT_SERIES_FILE})")
    return out


def _phase1(art: RunArtifacts, trials: Sequence[TrialRecord]) -> Section:
    section = Section("Phase 1: holding time x interval")
    cells = cells_from_trials(trials) or cells_from_json(art.phase1_all)
    if not cells:
        section.missing = "No phase-1 results yet."
        return section
    section.figures.append(_figure(plots.plot_heatmap, cells))
    best = best_per_combination(trials)
    if best:
        section.tables.append(_table(trial_rows(best)))
    return section


def _history(trials: Sequence[TrialRecord]) -> Section:
    section = Section("Optimisation history and parameter importances")
    scored = [t for t in trials if t.objective is not None]
    if not scored:
        section.missing = "No trial has reported an objective yet."
        return section
    groups = [f"phase {t.phase} {t.algo}".strip() for t in scored]
    section.figures.append(_figure(plots.plot_history, [t.objective for t in scored], groups))
    importances, note = param_importances(scored)
    if importances:
        section.figures.append(_figure(plots.plot_importances, importances))
    if note:
        section.paragraphs.append(f"Parameter importances need more trials or variety: {note}.")
    return section


def _phase2(art: RunArtifacts, trials: Sequence[TrialRecord]) -> Section:
    section = Section("Phase 2: PPO vs double DQN")
    groups: dict[str, list[float]] = {}
    for t in trials:
        if t.phase == 2 and t.objective is not None:
            groups.setdefault(t.algo, []).append(t.objective)
    if not groups:
        section.missing = "Phase 2 has not run (or no phase-2 trial reported an objective)."
        return section
    section.figures.append(_figure(plots.plot_distributions, groups))
    section.tables.append(_table(trial_rows(best_per_algorithm(trials, phase=2))))
    return section


def _holdout(art: RunArtifacts) -> Section:
    section = Section("The winner on the hold-out period")
    holdout = art.section("holdout")
    if isinstance(holdout, dict) and (holdout.get("bot") or holdout.get("buy_and_hold")):
        bot, bh = holdout.get("bot") or {}, holdout.get("buy_and_hold") or {}
        section.paragraphs.append(
            f"Hold-out window: {cell_text(holdout.get('start'))} to {cell_text(holdout.get('end'))}."
        )
        rows = [[m, cell_text(bot.get(m)), cell_text(bh.get(m))] for m in _METRICS if m in bot or m in bh]
        section.tables.append([["metric", "bot", "buy-and-hold"], *rows])
        s_bot, s_bh = finite_or_none(bot.get("sharpe")), finite_or_none(bh.get("sharpe"))
        if s_bot is not None and s_bh is not None and s_bot <= s_bh:
            section.paragraphs.insert(
                0,
                f"No agent beat buy-and-hold: on the hold-out the winner's Sharpe ({s_bot:.3g}) is at or "
                f"below buying and holding ({s_bh:.3g}). Holding would have done as well or better.",
            )
    if art.holdout is None:
        section.missing = (
            f"No hold-out series ({HOLDOUT_SERIES_FILE}): the job stopped before the hold-out test."
        )
        return section
    for fn in (
        plots.plot_equity,
        plots.plot_drawdown,
        plots.plot_positions,
        plots.plot_forced_sales_fee_tier,
    ):
        section.figures.append(_figure(fn, art.holdout))
    return section


def _overfit(art: RunArtifacts) -> tuple[Pbo, DeflatedSharpe]:
    """Phase 2's PBO and deflated Sharpe (empty ones when phase 2 has not finished).

    The job report's top-level ``pbo`` and ``deflated_sharpe`` are copies of their values.
    """
    comparison = art.phase2_comparison
    return (comparison.pbo, comparison.deflated_sharpe) if comparison else (Pbo(), DeflatedSharpe())


def _overfitting(art: RunArtifacts, trials: Sequence[TrialRecord]) -> Section:
    section = Section("Overfitting checks: PBO and deflated Sharpe")
    pbo_doc, dsr_doc = _overfit(art)
    pbo, dsr = finite_or_none(pbo_doc.value), finite_or_none(dsr_doc.value)
    if pbo is not None:
        section.paragraphs.append(pbo_verdict(pbo))
        if pbo_doc.logits:
            section.figures.append(_figure(plots.plot_pbo_logits, list(pbo_doc.logits), pbo))
        else:
            section.paragraphs.append("The PBO logits were not saved, so their distribution is not shown.")
    elif pbo_doc.reason:
        section.paragraphs.append(f"PBO not computed: {pbo_doc.reason}.")
    if dsr is not None:
        n = dsr_doc.n_trials
        section.paragraphs.append(dsr_verdict(dsr, n if n else len(trials) or None))
        other = _other_dsr(dsr_doc)
        if other:
            section.paragraphs.append(other)
    elif dsr_doc.reason:
        section.paragraphs.append(f"Deflated Sharpe not computed: {dsr_doc.reason}.")
    comparison = art.phase2_comparison
    if comparison is not None and pbo_doc.by_paths:
        section.paragraphs.append(
            "PBO is taken over whole backtest paths (no calendar bar twice); early-stopped trials "
            "enter at the number of complete paths they reached:"
        )
        section.tables.append(
            [
                ["complete paths", "trials", "bars", "PBO"],
                *[
                    [
                        str(lv.get("n_paths")),
                        str(lv.get("n_trials")),
                        str(lv.get("n_bars")),
                        cell_text(lv.get("value")),
                    ]
                    for lv in pbo_doc.by_paths
                ],
            ]
        )
    if art.winner_paths is not None:
        section.figures.append(_figure(plots.plot_paths, *art.winner_paths))
    if pbo is None and dsr is None and not section.paragraphs:
        section.missing = "No PBO or deflated Sharpe yet: they are computed after phase 2."
    return section


def _other_dsr(doc: DeflatedSharpe) -> str:
    """The deflated Sharpe under the estimator the gate did not use (``search.paths.deflated_sharpe``)."""
    names = {"sampling": "a zero-skill Sharpe's sampling spread", "trials": "the trials' own Sharpe spread"}
    used = doc.null_variance
    if used is None and doc.value is not None:
        return "Its null variance is the trials' own Sharpe spread (the run predates dsr_variance)."
    others = [(k, v) for k, v in doc.by_variance.items() if k != used and isinstance(v, dict)]
    if used not in names or not others:
        return ""
    key, other = others[0]
    value = finite_or_none(other.get("value"))
    shown = "not computed" if value is None else f"{value:.2f}"
    return f"Its null variance is {names[used]}; with {names.get(key, key)} it would be {shown}."


def _failures(trials: Sequence[TrialRecord]) -> Section:
    failed = failed_trials(trials)
    section = Section(f"Failed trials ({len(failed)})")
    if failed:
        rows = [
            [t.experiment, t.trial_id, t.algo, t.interval, cell_text(t.max_hold_days), t.error or t.status]
            for t in failed
        ]
        section.tables.append([["experiment", "trial", "algo", "interval", "hold days", "reason"], *rows])
    else:
        section.paragraphs.append("No trial failed.")
    return section


def _table(rows: list[dict[str, Any]]) -> list[list[str]]:
    columns = [
        "phase",
        "algo",
        "interval",
        "max_hold_days",
        "objective",
        "splits_done",
        "bot_sharpe",
        "bh_sharpe",
        "trial_id",
    ]
    return [columns, *[[cell_text(r.get(c)) for c in columns] for r in rows]]


def build_sections(run_dir: str | Path) -> list[Section]:
    """Every section of the report for ``run_dir``, in order."""
    art = load_artifacts(run_dir)
    trials = load_trials(run_dir)
    return [
        _summary(art, trials),
        _phase1(art, trials),
        _history(trials),
        _phase2(art, trials),
        _holdout(art),
        _overfitting(art, trials),
        _failures(trials),
    ]


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
h1{border-bottom:2px solid #444}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f2f2f2}
figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}
img{max-width:100%;border:1px solid #eee}.missing{color:#a15c00;font-style:italic}
"""


def render_html(title: str, sections: Sequence[Section]) -> str:
    """One self-contained HTML page (CSS inline, figures as base64 PNG)."""
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>Generated {datetime.now(tz=UTC).strftime('%Y-%m-%d %H:%M UTC')}.</p>",
    ]
    for s in sections:
        out.append(f"<section><h2>{esc(s.title)}</h2>")
        out += [f"<p>{esc(p)}</p>" for p in s.paragraphs]
        if s.missing:
            out.append(f'<p class="missing">{esc(s.missing)}</p>')
        for table in s.tables:
            head, *body = table
            out.append("<table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in head) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in body]
            out.append("</table>")
        for fig_title, png in s.figures:
            data = base64.b64encode(png).decode("ascii")
            out.append(
                f"<figure><figcaption>{esc(fig_title)}</figcaption>"
                f'<img alt="{esc(fig_title)}" src="data:image/png;base64,{data}"></figure>'
            )
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out)


def write_report(run_dir: str | Path, out: str | Path | None = None) -> str | Path:
    """Build the report of ``run_dir`` and write it atomically (default ``<run_dir>/report.html``).

    A run on shared storage (``s3://...``) is read from a temporary copy without its
    checkpoints, and the report is uploaded beside it (or written to ``out``).

    Returns:
        The path (or URI) of the written file.
    """
    if storage.is_remote(run_dir):
        with storage.local_copy(run_dir, exclude=("checkpoint_*",)) as local:
            page = render_html(f"cappuccino_ray report: {local.name}", build_sections(local))
        target = str(out) if out else storage.join(str(run_dir), HTML_REPORT_FILE)
        return storage.write_bytes(storage.absolute(target), page.encode("utf-8"))
    root = Path(run_dir)
    page = render_html(f"cappuccino_ray report: {root.name}", build_sections(root))
    return write_bytes_atomic(Path(out) if out else root / HTML_REPORT_FILE, page.encode("utf-8"))
