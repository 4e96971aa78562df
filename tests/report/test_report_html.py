"""Plots and the HTML report from plain inputs and from run folders without Tune trials."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from report_helpers import PBO_LOGITS, holdout_series, write_job_files

from cappuccino_ray.report import plots
from cappuccino_ray.report.analysis import HeatmapCell
from cappuccino_ray.report.html import Section, render_html, write_report
from cappuccino_ray.run_files import HTML_REPORT_FILE


def _is_drawn(png: bytes) -> bool:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    return pixels.shape[0] > 100 and pixels.std() > 5


def test_drawdown_hand_computed() -> None:
    np.testing.assert_allclose(plots.drawdown(np.array([100, 120, 90, 130, 65])), [0, 0, -0.25, 0, -0.5])


@pytest.mark.parametrize(
    ("key", "make"),
    [
        (
            "heatmap",
            lambda: plots.plot_heatmap([HeatmapCell(3, "1h", 0.2, 4), HeatmapCell(7, "4h", None, 2)]),
        ),
        ("history", lambda: plots.plot_history([0.1, 0.3, 0.2], ["ppo", "ppo", "ddqn"])),
        ("importances", lambda: plots.plot_importances({"ppo": {"lr": 0.7, "gamma": 0.3}})),
        ("distributions", lambda: plots.plot_distributions({"ppo": [0.1, 0.2], "ddqn": [0.3]})),
        ("equity", lambda: plots.plot_equity(holdout_series())),
        ("drawdown", lambda: plots.plot_drawdown(holdout_series())),
        ("positions", lambda: plots.plot_positions(holdout_series())),
        ("forced", lambda: plots.plot_forced_sales_fee_tier(holdout_series())),
        ("pbo", lambda: plots.plot_pbo_logits(PBO_LOGITS, 0.3)),
        ("paths", lambda: plots.plot_paths(np.arange(50) * 3_600 * 10**9, np.full((2, 50), 0.001))),
    ],
)
def test_every_plot_has_its_title_and_draws(key: str, make) -> None:  # type: ignore[no-untyped-def]
    fig = make()
    titles = [fig.get_suptitle(), *(ax.get_title() for ax in fig.axes)]
    assert any(t.startswith(plots.TITLES[key]) for t in titles)
    assert _is_drawn(plots.figure_png(fig))


def test_render_html_escapes_and_embeds() -> None:
    png = plots.figure_png(plots.plot_history([1.0, 2.0]))
    page = render_html(
        "r <1>",
        [Section("S & T", paragraphs=["a<b"], tables=[[["k"], ["v"]]], figures=[("F", png)], missing="gone")],
    )
    assert "<title>r &lt;1&gt;</title>" in page and "<h2>S &amp; T</h2>" in page and "a&lt;b" in page
    assert '<p class="missing">gone</p>' in page and "<td>v</td>" in page
    (data,) = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(data) == png


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(d) for d in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_report_of_a_finished_job_without_trials_shows_holdout_and_verdicts(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_job_files(run)
    path = write_report(run)
    assert path == run / HTML_REPORT_FILE
    page = path.read_text(encoding="utf-8")
    for key in ("equity", "drawdown", "positions", "forced", "pbo"):
        assert plots.TITLES[key] in page
    assert "moderate risk of overfitting" in page and "Deflated Sharpe 0.72" in page
    assert "null variance is a zero-skill Sharpe&#x27;s sampling spread" in page
    assert "the trials&#x27; own Sharpe spread it would be 0.03" in page
    assert "<td>winner</td><td>ddqn, hold 7 d, 4h</td>" in page
    assert "No phase-1 results yet." in page
    images = _images(page)
    assert len(images) == 5 and all(_is_drawn(p) for p in images)
    # A comparison written before dsr_variance existed says which null variance it used.
    comparison = run / "phase2" / "phase2_comparison.json"
    doc = json.loads(comparison.read_text())
    doc["deflated_sharpe"] = {"value": 0.72, "n_trials": 13}
    comparison.write_text(json.dumps(doc))
    page = write_report(run).read_text(encoding="utf-8")
    assert "trials&#x27; own Sharpe spread (the run predates dsr_variance)" in page


def test_report_of_a_phase1_only_run_says_what_is_missing(tmp_path: Path) -> None:
    exp = tmp_path / "run" / "phase1"
    exp.mkdir(parents=True)
    rows = [{"holding_days": d, "interval": i, "objective": 0.1 * d} for d in (3, 7) for i in ("1h", "4h")]
    (exp / "phase1_all_results.json").write_text(json.dumps(rows))
    page = write_report(tmp_path / "run", tmp_path / "out.html").read_text(encoding="utf-8")
    assert plots.TITLES["heatmap"] in page
    assert "Missing from this run:" in page and "holdout_series.npz" in page
    assert "Phase 2 has not run" in page and "No PBO or deflated Sharpe yet" in page
    assert not (tmp_path / "run" / HTML_REPORT_FILE).exists()


def test_heatmap_star_marks_the_search_winner_not_the_highest_number() -> None:
    # 3d/1h's best was stopped after 1 split; 7d/1h's was scored on all 3: the search picks 7d/1h.
    fig = plots.plot_heatmap([HeatmapCell(3, "1h", 9.0, 2, 1), HeatmapCell(7, "1h", 1.0, 2, 3)])
    starred = [t.get_text() for t in fig.axes[0].texts if "*" in t.get_text()]
    assert starred == ["1 *\n2 trials"]


def test_report_shows_the_winners_paths_and_says_plainly_when_holding_won(tmp_path: Path) -> None:
    from cappuccino_ray.documents import Pbo
    from cappuccino_ray.search.paths import TrialPaths, paths_bytes

    run = tmp_path / "run"
    write_job_files(run)
    report = json.loads((run / "two_phase_training_report.json").read_text())
    report["holdout"]["bot"]["sharpe"] = 0.1  # below buy-and-hold's 0.4
    (run / "two_phase_training_report.json").write_text(json.dumps(report))
    comparison = json.loads((run / "phase2" / "phase2_comparison.json").read_text())
    levels = ({"n_paths": 1, "n_trials": 12, "n_bars": 400, "value": 0.31},)
    comparison["pbo"] = Pbo(value=0.31, n_trials=12, n_bars=400, n_paths=1, by_paths=levels).to_json()
    (run / "phase2" / "phase2_comparison.json").write_text(json.dumps(comparison))
    times = np.arange(60) * 3_600 * 10**9
    (run / "phase2" / "winner_paths.npz").write_bytes(
        paths_bytes(TrialPaths("w", "1h", times, np.full((2, 60), 0.001)))
    )
    page = write_report(run).read_text(encoding="utf-8")
    assert "No agent beat buy-and-hold" in page
    assert html.escape(plots.TITLES["paths"]) in page
    assert "<td>1</td><td>12</td><td>400</td><td>0.31</td>" in page
