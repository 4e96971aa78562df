"""Champion vs challenger on planted markets: promotion earned, refused, and demotion on losses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from cappuccino_ray.cli import main
from cappuccino_ray.data.market import MarketData
from cappuccino_ray.errors import ConfigError, DeployError
from cappuccino_ray.ops.scheduler import load_settings
from cappuccino_ray.paper.arena import Arena
from cappuccino_ray.paper.promotion import deploy_run
from cappuccino_ray.run_files import TRAINING_REPORT_FILE
from tests.paper.helpers import make_checkpoint, write_candles

SETTINGS = {"fee_model": "flat", "flat_fee": 0.001, "slippage_bps": 1.0, "max_hold_days": 60.0}
GATE_OK = {"bot": {"sharpe": 1.5, "max_drawdown": 0.1, "n_trades": 40}, "buy_and_hold": {"sharpe": 0.5}}
MIN_BARS = 24


def _market(drift: float, n: int = 120) -> MarketData:
    """One asset drifting by ``drift`` per bar with a small deterministic wiggle."""
    k = np.arange(n)
    close = 100.0 * np.exp(drift * k + 0.002 * np.sin(k * 1.7))
    open_ = np.concatenate([[100.0], close[:-1]])
    return MarketData(
        timestamps=np.datetime64("2024-01-01T00:00", "ns") + k * np.timedelta64(1, "h"),
        symbols=("AAA/USD",),
        interval="1h",
        open=open_[:, None],
        high=np.maximum(open_, close)[:, None] * 1.001,
        low=np.minimum(open_, close)[:, None] * 0.999,
        close=close[:, None],
        volume=np.ones((n, 1)),
    )


def _run(root: Path, name: str, action: float) -> Path:
    """A finished run whose winner always targets ``action`` (1 = all in the asset, -1 = all cash)."""
    run = root / name
    make_checkpoint(run / "checkpoint", ["AAA/USD"], SETTINGS, constant=[action])
    report = {
        "status": "completed",
        "run_id": name,
        "winner": {"checkpoint_path": "checkpoint", "algorithm": "ppo", "interval": "1h"},
        "holdout": GATE_OK,
        "pbo": {"pbo": 0.1},
        "deflated_sharpe": {"probability": 0.97},
    }
    (run / TRAINING_REPORT_FILE).write_text(json.dumps(report))
    return run


def _settings(tmp_path: Path, **promotion: object) -> object:
    rule = {"min_bars": MIN_BARS, "demote_lag": 0.5, "demote_drawdown": 0.5, **promotion}
    deploy = tmp_path / "deploy.yaml"
    deploy.write_text(
        yaml.safe_dump(
            {
                "deployments_dir": str(tmp_path / "deployments"),
                "notify": {"webhook": False},
                "promotion": rule,
            }
        )
    )
    sched = tmp_path / "schedule.yaml"
    sched.write_text(yaml.safe_dump({"logs_dir": str(tmp_path / "logs")}))
    return load_settings(sched, deploy, None)


def _replay(arena: Arena, market: MarketData, first: int = 40) -> list[tuple[int, str, str]]:
    """Feed the market one closed bar at a time; the (bar, action, reason) of each non-trivial verdict."""
    out = []
    for i in range(first, market.n_bars):
        v = arena.step(market.slice(0, i + 1))
        if v.action != "none":
            out.append((i, v.action, v.reason))
    arena.close()
    return out


def _history(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "deployments" / "history.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines]


def _events(tmp_path: Path) -> list[str]:
    lines = (tmp_path / "logs" / "notifications.jsonl").read_text().splitlines()
    return [json.loads(x)["event"] for x in lines]


def test_a_skilled_challenger_replaces_a_null_champion(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    arena = Arena(tmp_path / "arena", settings)
    assert arena.propose(_run(tmp_path, "null", -1.0)) == "promoted"  # nothing was deployed
    null_id = arena.deployer.current_id()
    assert arena.propose(_run(tmp_path, "skilled", 1.0)) == "challenger"
    verdicts = _replay(arena, _market(0.002))
    # Both start on bar 40; the challenger's first fill is bar 41, so the window
    # of MIN_BARS common bars closes on bar 40 + MIN_BARS.
    assert [(i, a) for i, a, _ in verdicts] == [(40 + MIN_BARS, "promote")]
    assert "challenger beats the champion over 24 bars" in verdicts[0][2]
    current = arena.deployer.current_id()
    assert current != null_id and arena.deployer.show(current)["source_run"]["run_id"] == "skilled"
    hist = _history(tmp_path)
    assert [h["action"] for h in hist] == ["deploy", "promote", "deploy", "promote"]
    assert hist[-1]["id"] == current and hist[-1]["previous"] == null_id
    assert hist[-1]["reason"] == verdicts[0][2]
    assert _events(tmp_path)[-1] == "promoted"
    # The challenger's paper record carried on as the champion's.
    assert (tmp_path / "arena" / "champion" / "book.sqlite").is_file()
    assert not (tmp_path / "arena" / "challenger").exists()


def test_a_null_challenger_does_not_replace_a_skilled_champion(tmp_path: Path) -> None:
    arena = Arena(tmp_path / "arena", _settings(tmp_path))
    arena.propose(_run(tmp_path, "skilled", 1.0))
    skilled_id = arena.deployer.current_id()
    assert arena.propose(_run(tmp_path, "null", -1.0)) == "challenger"
    assert _replay(arena, _market(0.002)) == []
    assert arena.deployer.current_id() == skilled_id
    assert [h["action"] for h in _history(tmp_path)] == ["deploy", "promote"]
    assert arena.state["challenger"]["run_id"] == "null"  # it keeps paper-trading


def test_a_losing_champion_is_demoted_to_the_previous_deployment(tmp_path: Path) -> None:
    arena = Arena(tmp_path / "arena", _settings(tmp_path, demote_drawdown=0.1))
    arena.propose(_run(tmp_path, "null", -1.0))
    null_id = arena.deployer.current_id()
    deploy_run(_run(tmp_path, "long", 1.0), arena.settings)  # by hand, on top of it
    long_id = arena.deployer.current_id()
    assert long_id != null_id
    verdicts = _replay(arena, _market(-0.004))  # a falling market: holding it loses
    assert [a for _, a, _ in verdicts] == ["demote"]
    assert "paper drawdown 10." in verdicts[0][2] and "reached the limit 10.0%" in verdicts[0][2]
    assert arena.deployer.current_id() == null_id
    hist = _history(tmp_path)
    demote = next(h for h in hist if h["action"] == "demote")
    assert demote["id"] == long_id and demote["outcome"] == "rollback" and demote["current"] == null_id
    assert "demoted" in _events(tmp_path)


def test_a_challenger_that_fails_the_gate_is_refused(tmp_path: Path) -> None:
    arena = Arena(tmp_path / "arena", _settings(tmp_path))
    run = _run(tmp_path, "bad", 1.0)
    report = json.loads((run / TRAINING_REPORT_FILE).read_text())
    report["pbo"] = {"pbo": 0.9}
    (run / TRAINING_REPORT_FILE).write_text(json.dumps(report))
    with pytest.raises(DeployError, match=r"pbo = 0\.9, needs <= 0\.2"):
        arena.propose(run)
    assert arena.deployer.current_id() is None


def test_the_promotion_rule_is_validated_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="on_demote"):
        _settings(tmp_path, on_demote="retire")
    with pytest.raises(ConfigError, match="min_bars"):
        _settings(tmp_path, min_bars=1)


def test_arena_commands_replay_a_candle_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    md = _market(0.002)
    ohlcv = np.column_stack([md.open[:, 0], md.high[:, 0], md.low[:, 0], md.close[:, 0], md.volume[:, 0]])
    write_candles(tmp_path / "candles", "AAA_USD_1h", md.timestamps, ohlcv)
    _settings(tmp_path)  # writes the config files
    cfg = ["--arena", str(tmp_path / "arena"), "--deploy-config", str(tmp_path / "deploy.yaml")]
    cfg += ["--schedule-config", str(tmp_path / "schedule.yaml"), "--env-file", str(tmp_path / "none")]
    assert main(["paper", "arena", "propose", str(_run(tmp_path, "null", -1.0)), *cfg, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "promoted"
    assert main(["paper", "arena", "propose", str(_run(tmp_path, "skilled", 1.0)), *cfg, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "challenger"
    start = str(md.timestamps[40])[:16] + "Z"
    args = ["paper", "arena", "run", *cfg, "--replay", str(tmp_path / "candles"), "--start", start, "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(v["bar"], v["action"]) for v in out["verdicts"]] == [("2024-01-03T16:00:00Z", "promote")]


def test_the_schedulers_undeployed_gated_winners_become_challengers(tmp_path: Path) -> None:
    from cappuccino_ray.ops.state import SchedulerState

    settings = _settings(tmp_path)
    arena = Arena(tmp_path / "arena", settings)
    arena.propose(_run(tmp_path, "champion", -1.0))
    state = SchedulerState(settings.paths.state)  # type: ignore[attr-defined]
    passed = {"passed": True}
    for rec in (
        {"run_id": "s1", "outcome": "failed", "reason": "stale data"},
        {"run_id": "s2", "outcome": "succeeded", "gate": {"passed": False}, "deployed": None},
        {"run_id": "s3", "outcome": "succeeded", "gate": passed, "deployed": "dep-x", "report_path": "x"},
        {"run_id": "s4", "outcome": "succeeded", "gate": passed, "deployed": None,
         "report_path": str(_run(tmp_path, "s4", 1.0) / TRAINING_REPORT_FILE)},
    ):  # fmt: skip
        state.finish_run(rec)
    assert arena.adopt_scheduled() == ["s4"]
    assert arena.state["challenger"]["run_id"] == "s4"
    assert arena.adopt_scheduled() == []  # each scheduled run is looked at once
    assert arena.state["adopted"] == ["s3", "s4"]  # s3 was deployed by the scheduler itself
