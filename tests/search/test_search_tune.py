"""Phase 1 and phase 2 as real Tune jobs with a cheap stand-in trainable (same reports as the real one)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/search is on sys.path (rootdir-relative test imports).
from search_standin import standin_trainable

from cappuccino_ray.config.search import Phase1Config, Phase2Config, load_search_configs
from cappuccino_ray.data.synthetic import generate_market
from cappuccino_ray.run_files import PHASE1_ALL_RESULTS_FILE, PHASE1_WINNER_FILE, PHASE2_COMPARISON_FILE
from cappuccino_ray.search.phase1 import load_phase1_winner, run_phase1
from cappuccino_ray.search.phase2 import run_phase2
from cappuccino_ray.search.results import rows_from_experiment

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent


def worker_env() -> dict[str, object]:
    """Ray workers import the stand-in from this folder."""
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    return {"env_vars": {"PYTHONPATH": path}}


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    import ray

    # The workers must import the stand-in trainable: a Ray left up by an earlier module
    # (RLlib starts one on its own) lacks that runtime env, so it is replaced.
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=worker_env())
    yield
    ray.shutdown()


def small_configs() -> tuple[Phase1Config, Phase2Config]:
    p1, p2 = load_search_configs(REPO / "configs", mini=True)
    p1 = dataclasses.replace(p1, holding_days=(3, 7), intervals=("1h", "4h"), trials_per_combo=3)
    p2 = dataclasses.replace(p2, trials_per_algo=3, pbo_partitions=4)
    return p1, p2


def markets() -> dict[str, object]:
    return {iv: generate_market(200, n_assets=2, interval=iv, seed=1) for iv in ("1h", "4h")}


def test_phase1_gives_each_combination_its_share_and_writes_the_winner(
    ray_local: None, tmp_path: Path
) -> None:
    p1, p2 = small_configs()
    winner = run_phase1(
        p1, markets(), storage_path=tmp_path, name="p1", trainable=standin_trainable, verbose=False
    )
    rows = rows_from_experiment(tmp_path / "p1")
    assert Counter(r.combination for r in rows) == {"3d/1h": 3, "3d/4h": 3, "7d/1h": 3, "7d/4h": 3}
    # The stand-in's objective favours 1h and longer holding: the winner must be 7d/1h.
    assert (winner.holding_days, winner.interval) == (7, "1h")
    on_disk = json.loads((tmp_path / "p1" / PHASE1_WINNER_FILE).read_text())
    assert on_disk == winner.to_json()
    assert on_disk["trial_counts"]["7d/1h"]["total"] == 3 and on_disk["n_trials"] == 12
    assert set(on_disk["hyperparameters"]) >= set(p1.space)
    assert "seed" not in on_disk["hyperparameters"] and "interval" not in on_disk["hyperparameters"]
    assert Path(on_disk["checkpoint_path"]).is_dir()
    best = max(r.objective for r in rows if r.splits_done == p1.budget.max_splits)
    assert on_disk["objective"] == pytest.approx(best)
    all_results = json.loads((tmp_path / "p1" / PHASE1_ALL_RESULTS_FILE).read_text())
    assert all_results[0]["combination"] == "7d/1h"
    assert len(all_results) == 4
    assert [r["n_trials"] for r in all_results] == [3, 3, 3, 3]
    objs = [r["objective"] for r in all_results if r["splits_done"] == p1.budget.max_splits]
    assert objs == sorted(objs, reverse=True)
    # Phase 2 can query the experiment folder as well as the JSON.
    assert load_phase1_winner(tmp_path / "p1").interval == "1h"

    run_phase2(
        p2, winner, markets(), storage_path=tmp_path, name="p2", trainable=standin_trainable, verbose=False
    )
    rows2 = rows_from_experiment(tmp_path / "p2")
    assert Counter(r.config["algo"] for r in rows2) == {"ppo": 3, "ddqn": 3}
    assert all(r.config["phase"] == 2 and r.config["interval"] == "1h" for r in rows2)
    assert all(r.config["env"]["max_hold_days"] == 7 for r in rows2)
    # Phase 2 runs on phase 2's own env settings (tiered fees, rolling features), not phase 1's.
    assert all(
        r.config["env"]["fee_model"] == "tiered" and r.config["env"]["rolling_features"] for r in rows2
    )
    ppo = [r for r in rows2 if r.config["algo"] == "ppo"]
    assert all(r.config["warm_start_checkpoint"] == winner.checkpoint_path for r in ppo)
    assert all(r.config["warm_start_checkpoint"] is None for r in rows2 if r.config["algo"] == "ddqn")
    # Every PPO trial takes phase 1's width and depth (keep_phase1_network), so the warm start fits.
    network = (winner.hyperparameters["hidden_size"], winner.hyperparameters["n_layers"])
    assert all((r.config["hidden_size"], r.config["n_layers"]) == network for r in ppo)
    # The first PPO trial evaluates phase 1's best learning rate (seeded via points_to_evaluate).
    first_ppo = min(ppo, key=lambda r: r.config["trial_index"])
    assert first_ppo.config["lr"] == pytest.approx(winner.hyperparameters["lr"])
    doc = json.loads((tmp_path / "p2" / PHASE2_COMPARISON_FILE).read_text())
    assert doc["winner_algorithm"] in ("ppo", "ddqn")
    assert doc["algorithms"]["ppo"]["n_trials"] == 3 and doc["algorithms"]["ddqn"]["n_trials"] == 3
    assert 0.0 <= doc["pbo"]["value"] <= 1.0 and doc["pbo"]["n_trials"] >= 2
    assert 0.0 <= doc["deflated_sharpe"]["value"] <= 1.0
    assert doc["checkpoint_path"] and Path(doc["checkpoint_path"]).is_dir()


RESUME_SCRIPT = textwrap.dedent(
    """
    import dataclasses, sys
    from pathlib import Path
    import ray
    sys.path.insert(0, {here!r})
    import search_standin
    from cappuccino_ray.config.search import load_search_configs
    from cappuccino_ray.search.phase1 import run_phase1
    p1, _ = load_search_configs({configs!r}, mini=True)
    p1 = dataclasses.replace(
        p1, holding_days=(3, 7), intervals=("1h", "4h"), trials_per_combo=2,
        fixed={{**p1.fixed, "sleep_s": {sleep}}},
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={{"env_vars": {{"PYTHONPATH": {here!r}}}}})
    run_phase1(p1, {{"1h": None, "4h": None}}, storage_path=Path({storage!r}), name="p1",
               resume={resume}, trainable=search_standin.standin_trainable, verbose=False)
    """
)


def finished_trials(exp: Path, max_splits: int) -> dict[str, int]:
    out = {}
    for result in exp.glob("trial_*/result.json"):
        lines = [json.loads(x) for x in result.read_text().splitlines() if x.strip()]
        if lines and lines[-1].get("splits_done") == max_splits:
            out[result.parent.name] = len(lines)
    return out


def test_killed_driver_resumes_without_losing_or_rerunning_trials(tmp_path: Path) -> None:
    p1, _ = load_search_configs(REPO / "configs", mini=True)
    max_splits = p1.budget.max_splits
    exp = tmp_path / "p1"

    def script(resume: bool, sleep: float) -> list[str]:
        code = RESUME_SCRIPT.format(
            here=str(HERE),
            configs=str(REPO / "configs"),
            storage=str(tmp_path),
            resume=resume,
            sleep=sleep,
        )
        return [sys.executable, "-c", code]

    proc = subprocess.Popen(script(False, 3.0), start_new_session=True, cwd=tmp_path)
    deadline = time.monotonic() + 150
    try:
        while time.monotonic() < deadline and len(finished_trials(exp, max_splits)) < 3:
            time.sleep(0.5)
            assert proc.poll() is None, "the first run ended before it could be killed"
        time.sleep(6)  # let Tune's 5 s experiment snapshot catch up
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = finished_trials(exp, max_splits)
    assert 3 <= len(before) < 8, "the driver was not killed mid-phase"

    subprocess.run(script(True, 0.0), check=True, cwd=tmp_path, timeout=240)

    rows = rows_from_experiment(exp)
    assert Counter(r.combination for r in rows) == {"3d/1h": 2, "3d/4h": 2, "7d/1h": 2, "7d/4h": 2}
    after = finished_trials(exp, max_splits)
    # Every trial finished before the kill is still there, with exactly its reports (not re-run).
    for name, n_lines in before.items():
        assert after[name] == n_lines
    # The rest ran to the end or were stopped by ASHA: none is left unfinished.
    assert all(r.status == "TERMINATED" for r in rows)
    assert all(r.splits_done >= 1 for r in rows)
    assert (exp / PHASE1_WINNER_FILE).is_file()
