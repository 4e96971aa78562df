"""``cappuccino-ray scheduler ...`` and ``cappuccino-ray deploy ...`` commands."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any


def register(sub: Any) -> None:
    """Add the ``scheduler`` and ``deploy`` command groups."""
    _register_scheduler(sub)
    _register_deploy(sub)


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--schedule-config", default="configs/schedule.yaml", help="schedule YAML")
    p.add_argument("--deploy-config", default="configs/deploy.yaml", help="deployment/gate/notify YAML")
    p.add_argument("--env-file", default=".env.training", help="dotenv with TWO_PHASE_* overrides")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _register_scheduler(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("scheduler", help="the retraining daemon")
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = s.add_parser("start", help="start the daemon (detached unless --foreground)")
    start.add_argument("--foreground", action="store_true", help="run in this process (systemd, containers)")
    for name, text in (
        ("stop", "stop the daemon (SIGTERM; a running job is stopped and recorded)"),
        ("status", "daemon, next run, last run, success rate, current deployment"),
        ("run-now", "run the job now (via the daemon if it runs, else in this process)"),
        ("show-schedule", "the next runs"),
    ):
        q = s.add_parser(name, help=text)
        if name == "show-schedule":
            q.add_argument("-n", type=int, default=5, help="how many runs to list")
        _config_args(q)
    _config_args(start)
    p.set_defaults(func=_scheduler)


class _AnyName(dict[str, Any]):
    """Action parsers by name that let any name through argparse's choice check."""

    accept_any = True

    def __contains__(self, key: object) -> bool:
        """Any name passes (outside registration); :class:`_RunByDefault` routes unknown ones to ``run``."""
        return self.accept_any or dict.__contains__(self, key)


class _RunByDefault(argparse._SubParsersAction):
    """``deploy RUN`` reads as ``deploy run RUN`` when RUN is not an action name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """A sub-parsers action whose choice check accepts a run folder."""
        super().__init__(*args, **kwargs)
        self._name_parser_map = self.choices = _AnyName()

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        """Register an action (names are checked for clashes as usual)."""
        names = self._name_parser_map
        names.accept_any = False  # type: ignore[attr-defined]
        try:
            return super().add_parser(name, **kwargs)
        finally:
            names.accept_any = True  # type: ignore[attr-defined]

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        """Insert ``run`` before a first value that names no action."""
        if values and values[0] not in self.choices.keys():
            values = ["run", *values]
        super().__call__(parser, namespace, values, option_string)


def _register_deploy(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "deploy", help="deploy a run; list, show, roll back deployments"
    )
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION", action=_RunByDefault)
    run = s.add_parser("run", help="deploy RUN's winner through the gate (also: deploy RUN)")
    run.add_argument("run", metavar="RUN", help="run folder (or its two-phase report)")
    check = s.add_parser("check", help="print each gate check of RUN: exit 0 if it passes, 1 if refused")
    check.add_argument("run", metavar="RUN", help="run folder (or its two-phase report)")
    s.add_parser("list", help="every deployment, the current one marked")
    show = s.add_parser("show", help="a deployment's manifest (default: current)")
    show.add_argument("id", nargs="?", default=None)
    rb = s.add_parser("rollback", help="make ID (default: the one before current) current")
    rb.add_argument("id", nargs="?", default=None)
    for q in s.choices.values():
        _config_args(q)
    p.set_defaults(func=_deploy)


def _settings(args: argparse.Namespace) -> Any:
    from cappuccino_ray.ops.scheduler import load_settings

    return load_settings(args.schedule_config, args.deploy_config, args.env_file)


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text)


def _scheduler(args: argparse.Namespace) -> int:
    from cappuccino_ray.ops import scheduler as sch

    settings = _settings(args)
    if args.action == "start":
        if args.foreground:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
            sch.Scheduler(settings).serve()
            return 0
        pid = sch.spawn_daemon(settings)
        _print(args, {"pid": pid}, f"scheduler started (PID {pid}); log: {settings.paths.daemon_log}")
    elif args.action == "stop":
        stopped = sch.stop_daemon(settings)
        text = f"scheduler (PID {stopped}) stopped" if stopped else "scheduler was not running"
        _print(args, {"stopped": stopped}, text)
    elif args.action == "status":
        st = sch.status(settings)
        _print(args, st, _status_text(st))
    elif args.action == "run-now":
        rec = sch.run_now(settings)
        if "signalled" in rec:
            text = f"asked the running scheduler (PID {rec['signalled']}) to run now"
        else:
            text = _run_text(rec)
        _print(args, rec, text)
        deployed = not isinstance(rec.get("gate"), dict) or bool(rec["gate"].get("passed"))
        return 0 if rec.get("outcome", "succeeded") == "succeeded" and deployed else 1
    elif args.action == "show-schedule":
        times = sch.show_schedule(settings, args.n)
        from cappuccino_ray.ops.schedule import build_schedule

        head = build_schedule(settings.schedule).describe()
        _print(
            args,
            [t.isoformat() for t in times],
            head + "\n" + "\n".join(f"  {t:%a %Y-%m-%d %H:%M %Z}" for t in times),
        )
    return 0


def _run_text(rec: dict[str, Any]) -> str:
    """One line for a finished run; a run whose winner the gate refused is not called a success."""
    gate = rec.get("gate")
    if rec.get("outcome") == "succeeded" and isinstance(gate, dict) and not gate.get("passed"):
        reasons = "; ".join(map(str, gate.get("reasons") or [])) or "see the gate checks"
        return f"run {rec['run_id']}: finished, but the gate refused to deploy its winner ({reasons})"
    return f"run {rec['run_id']}: {rec['outcome']}" + (f" ({rec['reason']})" if rec.get("reason") else "")


def _status_text(st: dict[str, Any]) -> str:
    lines = [
        f"daemon:      {'running (PID ' + str(st['pid']) + ')' if st['running'] else 'not running'}",
        f"schedule:    {st['schedule']}, mode {st['mode']}{'' if st['enabled'] else ' (disabled)'}",
        f"next run:    {st['next_run'] or '-'}",
    ]
    if st.get("current_run"):
        lines.append(
            f"running now: {st['current_run'].get('run_id')} since {st['current_run'].get('started_at')}"
        )
    last = st.get("last_run")
    if last:
        extra = f" ({last['reason']})" if last.get("reason") else ""
        lines.append(f"last run:    {last['run_id']} at {last['started_at']}: {last['outcome']}{extra}")
    else:
        lines.append("last run:    -")
    rate = st.get("success_rate")
    lines.append(f"success:     {'-' if rate is None else f'{rate:.0%}'} of {st['runs']} runs")
    cur = st.get("current_deployment")
    lines.append(
        f"deployed:    {cur['id']} ({cur['algorithm']} {cur['interval']}, since {cur['deployed_at']})"
        if cur
        else "deployed:    nothing yet"
    )
    return "\n".join(lines)


def _check(args: argparse.Namespace) -> int:
    """``deploy check RUN``: every gate check with its value and rule; 0 passes, 1 refused."""
    from cappuccino_ray.paper.promotion import load_gate

    _, _, gate = load_gate(args.run, _settings(args))
    rows = [
        f"{'pass' if c.passed else 'FAIL'}  {c.name:<16} "
        f"{'missing' if c.value is None else format(c.value, '.4g'):>10}  needs {c.rule}"
        for c in gate.checks
    ]
    verdict = "the winner passes the gate" if gate.passed else "the winner is refused"
    _print(args, gate.to_dict(), "\n".join([*rows, verdict]))
    return 0 if gate.passed else 1


def _deploy(args: argparse.Namespace) -> int:
    if args.action == "check":
        return _check(args)
    dep = _settings(args).deployer()
    if args.action == "run":
        from cappuccino_ray.paper.promotion import deploy_run

        m = deploy_run(args.run, _settings(args))
        _print(args, m, f"deployed {m['id']} ({m['algorithm']} {m['interval']}); current is now {m['id']}")
    elif args.action == "list":
        cur = dep.current_id()
        items = dep.manifests()
        rows = [
            f"{'*' if m['id'] == cur else ' '} {m['id']}  {m.get('algorithm')} {m.get('interval')} "
            f"hold {m.get('holding_days')} d  run {(m.get('source_run') or {}).get('run_id')}"
            for m in items
        ]
        _print(
            args,
            {"current": cur, "deployments": [m["id"] for m in items]},
            "\n".join(rows) or "no deployments",
        )
    elif args.action == "show":
        m = dep.show(args.id)
        _print(args, m, json.dumps({k: v for k, v in m.items() if k != "files"}, indent=2, default=str))
    elif args.action == "rollback":
        from cappuccino_ray.ops.notify import Notifier

        settings = _settings(args)
        before = dep.current_id()
        m = dep.rollback(args.id)
        Notifier(settings.deploy.notify, settings.paths.notifications).notify(
            "rolled_back", f"rolled back from {before} to {m['id']}", deployment=m["id"], previous=before
        )
        _print(args, m, f"current deployment is now {m['id']} (was {before})")
    return 0
