"""``cappuccino-ray deploy RUN``: the gate deploys a good winner and refuses a bad one with its reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cappuccino_ray.cli import main
from cappuccino_ray.run_files import TRAINING_REPORT_FILE
from tests.paper.helpers import hand_candles, make_checkpoint

GOOD = {"bot": {"sharpe": 1.5, "max_drawdown": 0.1, "n_trades": 40}, "buy_and_hold": {"sharpe": 0.5}}
BAD = {"bot": {"sharpe": 0.2, "max_drawdown": 0.7, "n_trades": 40}, "buy_and_hold": {"sharpe": 0.5}}


def _run(tmp_path: Path, name: str, holdout: dict[str, object], pbo: float) -> Path:
    run = tmp_path / name
    ckpt = make_checkpoint(run / "checkpoint", ["AAA/USD"], {}, constant=[0.5])
    report = {
        "status": "completed",
        "run_id": name,
        "finished_at": "2026-01-01T00:00:00+00:00",
        "winner": {"checkpoint_path": str(ckpt), "algorithm": "ppo", "interval": "1h", "holding_days": 7},
        "holdout": holdout,
        "pbo": {"pbo": pbo},
        "deflated_sharpe": {"probability": 0.97},
    }
    (run / TRAINING_REPORT_FILE).write_text(json.dumps(report))
    return run


@pytest.fixture
def configs(tmp_path: Path) -> list[str]:
    deploy = tmp_path / "deploy.yaml"
    deploy.write_text(
        yaml.safe_dump({"deployments_dir": str(tmp_path / "deployments"), "notify": {"webhook": False}})
    )
    sched = tmp_path / "schedule.yaml"
    sched.write_text(yaml.safe_dump({"logs_dir": str(tmp_path / "logs")}))
    return [
        "--deploy-config",
        str(deploy),
        "--schedule-config",
        str(sched),
        "--env-file",
        str(tmp_path / "none"),
    ]


def test_a_failing_winner_is_refused_with_the_gates_reasons(
    tmp_path: Path, configs: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(tmp_path, "bad-run", BAD, pbo=0.8)
    assert main(["deploy", str(run), *configs]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "failed the gate" in err
    assert "holdout_sharpe = 0.2, needs > buy-and-hold Sharpe 0.5" in err
    assert "pbo = 0.8, needs <= 0.2" in err
    assert "max_drawdown = 0.7, needs <= 0.5" in err
    assert not (tmp_path / "deployments" / "current").exists()
    events = [json.loads(x) for x in (tmp_path / "logs" / "notifications.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["gate_failed"]


def test_a_passing_winner_is_deployed_and_becomes_current(
    tmp_path: Path, configs: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(tmp_path, "good-run", GOOD, pbo=0.2)
    assert main(["deploy", str(run), *configs, "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["source_run"]["run_id"] == "good-run"
    assert main(["deploy", "show", *configs, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == manifest["id"]
    history = [json.loads(x) for x in (tmp_path / "deployments" / "history.jsonl").read_text().splitlines()]
    assert [(h["action"], h["id"]) for h in history] == [("deploy", manifest["id"])]
    # The explicit form does the same.
    assert main(["deploy", "run", str(run), *configs]) == 0
    assert "current is now" in capsys.readouterr().out


def test_the_deployment_backtests_and_paper_trades_as_current(
    tmp_path: Path, configs: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(tmp_path, "good-run", GOOD, pbo=0.2)
    assert main(["deploy", str(run), *configs]) == 0
    capsys.readouterr()
    data = hand_candles(tmp_path / "candles")
    deploy_cfg = configs[:2]
    assert main(["backtest", "current", "--data", str(data), *deploy_cfg, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert "deployments" in res["checkpoint"] and res["bot"]["n_trades"] >= 1
    state = tmp_path / "state"
    assert (
        main(["paper", "run", "current", "--state", str(state), "--replay", str(data), *deploy_cfg, "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["equity"] == res["bot"]["final_equity"]
