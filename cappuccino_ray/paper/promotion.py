"""What becomes the deployment: a run deployed by hand through the gate, and champion vs challenger.

:func:`deploy_run` is ``cappuccino-ray deploy RUN``: the run's report through
the same gate and :class:`~cappuccino_ray.ops.deploy.Deployer` as the
scheduler's, refused with the gate's reasons. The champion/challenger rule is in
:mod:`cappuccino_ray.paper.arena`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cappuccino_ray.errors import DeployError
from cappuccino_ray.run_files import TRAINING_REPORT_FILE

__all__ = ["deploy_run", "gated_report"]


def load_gate(run: str | Path, settings: Any) -> tuple[Path, dict[str, Any], Any]:
    """A run's report and its winner's gate decision (nothing notified, nothing refused).

    Raises:
        DeployError: If there is no report or the run did not complete.
    """
    from cappuccino_ray.ops.deploy import check_report
    from cappuccino_ray.ops.gate import evaluate_gate
    from cappuccino_ray.ops.state import read_json

    path = Path(run)
    report_path = path / TRAINING_REPORT_FILE if path.is_dir() else path
    if not report_path.is_file():
        raise DeployError(f"{run}: no {TRAINING_REPORT_FILE}; pass a run folder or its report")
    report = read_json(report_path)
    check_report(report)
    return report_path, report, evaluate_gate(report, settings.deploy.gate)


def gated_report(run: str | Path, settings: Any) -> tuple[Path, dict[str, Any], Any]:
    """Read a run's report and put its winner through the gate.

    Returns:
        The report's path, the report and the passed gate.

    Raises:
        DeployError: If there is no report, the run failed, or the gate refuses
            the winner (the message lists the gate's reasons; ``gate_failed`` is notified).
    """
    from cappuccino_ray.ops.notify import Notifier

    report_path, report, gate = load_gate(run, settings)
    if not gate.passed:
        run_id = report.get("run_id")
        Notifier(settings.deploy.notify, settings.paths.notifications).notify(
            "gate_failed",
            f"winner of run {run_id} not deployed: " + "; ".join(gate.reasons),
            run_id=run_id,
            reasons=gate.reasons,
            trigger="manual",
        )
        raise DeployError(f"run {run_id}: the winner failed the gate: " + "; ".join(gate.reasons))
    return report_path, report, gate


def deploy_run(run: str | Path, settings: Any) -> dict[str, Any]:
    """Deploy the winner of ``run`` if it passes the gate (``cappuccino-ray deploy RUN``).

    Args:
        run: A run folder (with the two-phase report) or the report file itself.
        settings: The scheduler's :class:`~cappuccino_ray.ops.scheduler.OpsSettings`
            (gate, deployments folder, notifications).

    Returns:
        The new deployment's manifest.

    Raises:
        DeployError: If there is no report, the run failed, or the gate refuses
            the winner (the message lists the gate's reasons).
    """
    from cappuccino_ray.ops.notify import Notifier

    report_path, report, gate = gated_report(run, settings)
    manifest: dict[str, Any] = settings.deployer().deploy(report, gate=gate, report_path=report_path)
    Notifier(settings.deploy.notify, settings.paths.notifications).notify(
        "deployed",
        f"deployed {manifest['id']} ({manifest['algorithm']} {manifest['interval']}) by hand",
        run_id=report.get("run_id"),
        deployment=manifest["id"],
        replaces=manifest.get("replaces"),
        trigger="manual",
    )
    return manifest
