"""Operations: the scheduler daemon, the deployment gate, deployments with rollback, notifications."""

from cappuccino_ray.ops.deploy import Deployer, check_report
from cappuccino_ray.ops.gate import GateResult, evaluate_gate
from cappuccino_ray.ops.notify import Notifier, post_webhook
from cappuccino_ray.ops.schedule import CronExpr, apply_env_training, build_schedule, upcoming
from cappuccino_ray.ops.scheduler import OpsSettings, Scheduler, load_settings

__all__ = [
    "CronExpr",
    "Deployer",
    "GateResult",
    "Notifier",
    "OpsSettings",
    "Scheduler",
    "apply_env_training",
    "build_schedule",
    "check_report",
    "evaluate_gate",
    "load_settings",
    "post_webhook",
    "upcoming",
]
