"""The gate refuses bad winners; deployments are verified, atomic and roll back."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cappuccino_ray.config import from_mapping
from cappuccino_ray.config.ops import DeployConfig, GateConfig
from cappuccino_ray.errors import ConfigError, DeployError
from cappuccino_ray.ops.deploy import CURRENT, Deployer, check_report
from cappuccino_ray.ops.gate import evaluate_gate

sys.path.insert(0, str(Path(__file__).parent))
from ops_fake_job import make_report


def fake_run(tmp: Path, name: str = "run1", *, good: bool = True) -> tuple[dict[str, Any], Path]:
    run_dir = tmp / "results" / name
    ckpt = run_dir / "checkpoint"
    (ckpt / "policy").mkdir(parents=True)
    (ckpt / "rllib_checkpoint.json").write_text('{"type": "Algorithm"}')
    (ckpt / "policy" / "weights.bin").write_bytes(name.encode() * 100)
    report = make_report(run_dir, name, good=good, finished=datetime.now(UTC))
    path = run_dir / "two_phase_training_report.json"
    path.write_text(json.dumps(report))
    return report, path


GATE = GateConfig()


def test_gate_passes_a_good_winner_and_lists_each_check(tmp_path: Path) -> None:
    report, _ = fake_run(tmp_path)
    res = evaluate_gate(report, GATE)
    assert res.passed
    assert [c.name for c in res.checks] == [
        "holdout_sharpe",
        "pbo",
        "deflated_sharpe",
        "max_drawdown",
        "n_trades",
    ]
    assert res.reasons == []


def test_gate_refuses_a_bad_winner_with_every_reason(tmp_path: Path) -> None:
    report, _ = fake_run(tmp_path, good=False)
    res = evaluate_gate(report, GATE)
    assert not res.passed
    names = {c.name for c in res.checks if not c.passed}
    assert names == {"holdout_sharpe", "pbo", "deflated_sharpe", "max_drawdown"}
    assert any("pbo = 0.8, needs <= 0.2" in r for r in res.reasons)
    assert any("max_drawdown = 0.7, needs <= 0.5" in r for r in res.reasons)


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"pbo": 0.21}, "pbo"),  # just above the 0.2 threshold fails
        ({"deflated_sharpe": 0.94}, "deflated_sharpe"),  # just below 0.95 fails
        ({"pbo": None}, "pbo"),
        ({"deflated_sharpe": float("nan")}, "deflated_sharpe"),
        (
            {
                "holdout": {
                    "bot": {"sharpe": 0.9, "max_drawdown": -0.1, "n_trades": 3},
                    "buy_and_hold": {"sharpe": 0.9},
                }
            },
            "holdout_sharpe",
        ),
        (
            {
                "holdout": {
                    "bot": {"sharpe": 2.0, "max_drawdown": -0.1, "n_trades": 0},
                    "buy_and_hold": {"sharpe": 0.9},
                }
            },
            "n_trades",
        ),
        ({"holdout": {}}, "holdout_sharpe"),
    ],
)
def test_gate_single_failures(tmp_path: Path, change: dict[str, Any], failing: str) -> None:
    report, _ = fake_run(tmp_path)
    report.update(change)
    res = evaluate_gate(report, GATE)
    assert not res.passed
    assert failing in {c.name for c in res.checks if not c.passed}


def test_gate_reads_dict_forms_and_allow_missing(tmp_path: Path) -> None:
    report, _ = fake_run(tmp_path)
    report["pbo"] = {"pbo": 0.1, "n_combinations": 70}
    report["deflated_sharpe"] = {"probability": 0.95, "n_trials": 40}
    assert evaluate_gate(report, GATE).passed
    report["pbo"] = None
    relaxed = from_mapping(GateConfig, {"allow_missing": True, "sharpe_margin": 0.4}, source="t")
    assert evaluate_gate(report, relaxed).passed  # 1.4 > 0.9 + 0.4
    strict = from_mapping(GateConfig, {"allow_missing": True, "sharpe_margin": 0.6}, source="t")
    assert not evaluate_gate(report, strict).passed
    with pytest.raises(ConfigError, match="max_pbo"):
        from_mapping(GateConfig, {"max_pbo": 1.5}, source="t")


def test_deploy_copies_verifies_and_switches_current(tmp_path: Path) -> None:
    report, path = fake_run(tmp_path)
    dep = Deployer(tmp_path / "deployments", required_files=["rllib_checkpoint.json"])
    m = dep.deploy(report, gate=evaluate_gate(report, GATE), report_path=path)
    root = tmp_path / "deployments"
    assert (root / CURRENT).is_symlink() and os.readlink(root / CURRENT) == m["id"]
    assert dep.current_id() == m["id"]
    assert (root / m["id"] / "checkpoint" / "policy" / "weights.bin").read_bytes() == b"run1" * 100
    for key in (
        "algorithm",
        "holding_days",
        "interval",
        "metrics",
        "gate",
        "source_run",
        "data_window",
        "code_version",
    ):
        assert m[key] is not None, key
    assert m["algorithm"] == "ppo" and m["holding_days"] == 3 and m["interval"] == "1h"
    assert m["source_run"]["run_id"] == "run1"
    assert m["code_version"]["package"]
    assert {f["path"] for f in m["files"]} == {"rllib_checkpoint.json", "policy/weights.bin"}
    assert m["replaces"] is None
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temp leftovers
    assert dep.checkpoint_dir() == root / m["id"] / "checkpoint"


def test_rollback_to_previous_and_by_id(tmp_path: Path) -> None:
    dep = Deployer(tmp_path / "deployments")
    ids = []
    for name in ("run1", "run2", "run3"):
        report, path = fake_run(tmp_path, name)
        ids.append(dep.deploy(report, gate=evaluate_gate(report, GATE), report_path=path)["id"])
    assert dep.ids() == ids and dep.current_id() == ids[2]
    assert dep.show()["replaces"] == ids[1]
    assert dep.rollback()["id"] == ids[1]
    assert dep.current_id() == ids[1]
    assert dep.rollback()["id"] == ids[0]
    with pytest.raises(DeployError, match="oldest"):
        dep.rollback()
    assert dep.rollback(ids[2])["id"] == ids[2]
    with pytest.raises(DeployError, match="no deployment 'nope'"):
        dep.rollback("nope")
    history = [json.loads(x) for x in (tmp_path / "deployments" / "history.jsonl").read_text().splitlines()]
    assert [h["action"] for h in history] == ["deploy"] * 3 + ["rollback"] * 3


def test_failed_gate_keeps_current_deployment(tmp_path: Path) -> None:
    dep = Deployer(tmp_path / "deployments")
    good, gpath = fake_run(tmp_path, "good")
    first = dep.deploy(good, gate=evaluate_gate(good, GATE), report_path=gpath)["id"]
    bad, bpath = fake_run(tmp_path, "bad", good=False)
    with pytest.raises(DeployError, match=r"failed the gate: .*pbo"):
        dep.deploy(bad, gate=evaluate_gate(bad, GATE), report_path=bpath)
    assert dep.current_id() == first and dep.ids() == [first]


def test_refuses_failed_stale_and_foreign_reports(tmp_path: Path) -> None:
    report, _ = fake_run(tmp_path)
    with pytest.raises(DeployError, match="status 'failed'"):
        check_report({**report, "status": "failed"})
    with pytest.raises(DeployError, match="stale"):
        check_report(report, not_before=datetime.now(UTC) + timedelta(minutes=1))
    with pytest.raises(DeployError, match="not the run just made"):
        check_report(report, expected_run_id="another")
    with pytest.raises(DeployError, match="checkpoint_path"):
        check_report({**report, "winner": {"algorithm": "ppo"}})
    check_report(report, expected_run_id="run1", not_before=datetime.now(UTC) - timedelta(minutes=1))


def test_refuses_half_written_checkpoints(tmp_path: Path) -> None:
    report, path = fake_run(tmp_path)
    ckpt = Path(report["winner"]["checkpoint_path"])  # type: ignore[index]
    dep = Deployer(tmp_path / "deployments", required_files=["rllib_checkpoint.json"])
    gate = evaluate_gate(report, GATE)
    (ckpt / "policy" / "weights.bin.tmp").write_bytes(b"half")
    with pytest.raises(DeployError, match="still being written"):
        dep.deploy(report, gate=gate, report_path=path)
    (ckpt / "policy" / "weights.bin.tmp").unlink()
    (ckpt / "rllib_checkpoint.json").unlink()
    with pytest.raises(DeployError, match="lacks"):
        dep.deploy(report, gate=gate, report_path=path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DeployError, match="empty"):
        dep.deploy({**report, "winner": {**report["winner"], "checkpoint_path": str(empty)}}, gate=gate)  # type: ignore[dict-item]
    with pytest.raises(DeployError, match="not a directory"):
        dep.deploy(
            {**report, "winner": {**report["winner"], "checkpoint_path": str(tmp_path / "x")}}, gate=gate
        )  # type: ignore[dict-item]
    assert dep.current_id() is None
    root = tmp_path / "deployments"
    assert not root.exists() or not any(p.name.startswith(".tmp") for p in root.iterdir())


def test_damaged_deployment_is_detected_and_not_rolled_back_to(tmp_path: Path) -> None:
    dep = Deployer(tmp_path / "deployments")
    ids = []
    for name in ("run1", "run2"):
        report, path = fake_run(tmp_path, name)
        ids.append(dep.deploy(report, gate=evaluate_gate(report, GATE), report_path=path)["id"])
    (tmp_path / "deployments" / ids[0] / "checkpoint" / "policy" / "weights.bin").write_bytes(b"edited")
    with pytest.raises(DeployError, match="differ from the manifest"):
        dep.rollback()
    assert dep.current_id() == ids[1]


def test_deploy_config_rejects_paths_outside_checkpoint() -> None:
    with pytest.raises(ConfigError, match="inside the checkpoint"):
        from_mapping(DeployConfig, {"required_files": ["../etc/passwd"]}, source="t")


def test_deploy_cli_list_show_rollback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cappuccino_ray.cli import main

    dep = Deployer(tmp_path / "deployments")
    ids = []
    for name in ("run1", "run2"):
        report, path = fake_run(tmp_path, name)
        ids.append(dep.deploy(report, gate=evaluate_gate(report, GATE), report_path=path)["id"])
    (tmp_path / "deploy.yaml").write_text(
        f"deployments_dir: {tmp_path / 'deployments'}\nnotify: {{webhook: false}}\n"
    )
    (tmp_path / "schedule.yaml").write_text(f"logs_dir: {tmp_path / 'logs'}\n")
    common = [
        "--deploy-config",
        str(tmp_path / "deploy.yaml"),
        "--schedule-config",
        str(tmp_path / "schedule.yaml"),
    ]
    common += ["--env-file", str(tmp_path / "none.env")]
    assert main(["deploy", "list", *common]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"  {ids[0]}") and out[1].startswith(f"* {ids[1]}")
    assert main(["deploy", "show", ids[0], "--json", *common]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == ids[0]
    assert main(["deploy", "rollback", *common]) == 0
    assert f"now {ids[0]} (was {ids[1]})" in capsys.readouterr().out
    assert dep.current_id() == ids[0]
    assert main(["deploy", "rollback", *common]) == 2
    assert "oldest deployment" in capsys.readouterr().err
    events = [json.loads(x) for x in (tmp_path / "logs" / "notifications.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["rolled_back"] and events[0]["previous"] == ids[1]


def test_gate_defaults_are_a_quants_and_thresholds_are_inclusive(tmp_path: Path) -> None:
    assert (GATE.max_pbo, GATE.min_deflated_sharpe, GATE.min_trades, GATE.beat_buy_and_hold) == (
        0.2,
        0.95,
        10,
        True,
    )
    report, _ = fake_run(tmp_path)
    report.update({"pbo": 0.2, "deflated_sharpe": 0.95})
    assert evaluate_gate(report, GATE).passed


def test_deploy_check_prints_each_check_and_exits_1_when_refused(tmp_path: Path, capsys) -> None:
    from cappuccino_ray.cli import main

    _, good = fake_run(tmp_path, "good")
    _, bad = fake_run(tmp_path, "bad", good=False)
    cfg = ["--deploy-config", str(Path(__file__).resolve().parents[2] / "configs" / "deploy.yaml")]
    assert main(["deploy", "check", str(good.parent), *cfg]) == 0
    out = capsys.readouterr().out
    assert "pass  deflated_sharpe" in out and "needs >= 0.95" in out and "passes the gate" in out
    assert main(["deploy", "check", str(bad), *cfg]) == 1
    out = capsys.readouterr().out
    assert "FAIL  pbo" in out and "needs <= 0.2" in out and "refused" in out
