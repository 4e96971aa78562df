"""Deployments: verified checkpoint copies with a manifest, switched atomically, with rollback.

Layout::

    deployments/
      <id>/checkpoint/...      a verified copy of the winner's checkpoint
      <id>/report.json         the run's two-phase report
      <id>/manifest.json       algorithm, holding days, interval, metrics, gate,
                               source run, data window, code version, time, and
                               every checkpoint file's size and SHA-256
      current -> <id>          the live deployment (a relative symlink)
      history.jsonl            deploy and rollback events

A deployment is built in a hidden temp folder and renamed into place, and
``current`` is switched by creating a temp symlink and ``os.replace``-ing it,
so a reader never sees a half-made deployment or a missing ``current``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cappuccino_ray import __version__
from cappuccino_ray.atomic import append_jsonl, write_json_atomic
from cappuccino_ray.errors import CappuccinoError, DeployError
from cappuccino_ray.ops.gate import GateResult
from cappuccino_ray.ops.state import now_utc, read_json

__all__ = ["CURRENT", "Deployer", "check_report", "checkpoint_digest", "code_version", "hash_tree"]

CURRENT = "current"
MANIFEST = "manifest.json"
_PARTIAL = re.compile(r"(\.tmp|\.partial|\.incomplete|\.lock)$|^\.tmp")


def tree_digest(files: list[dict[str, Any]]) -> str:
    """One SHA-256 of a :func:`hash_tree` listing: the manifest's ``checkpoint_sha256``."""
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def checkpoint_digest(root: Path) -> str:
    """The digest of a checkpoint folder, as a deployment manifest records it."""
    return tree_digest(hash_tree(root))


def hash_tree(root: Path) -> list[dict[str, Any]]:
    """Every regular file under ``root``: relative path, size and SHA-256, sorted by path."""
    out: list[dict[str, Any]] = []
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            raise DeployError(f"checkpoint {root} contains a symlink {p.name}; copy real files only")
        if not p.is_file():
            continue
        h = hashlib.sha256()
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        out.append(
            {"path": p.relative_to(root).as_posix(), "size": p.stat().st_size, "sha256": h.hexdigest()}
        )
    return out


def code_version() -> dict[str, str]:
    """The package version and, inside a git checkout, ``git describe --always --dirty``."""
    out = {"package": __version__}
    root = Path(__file__).resolve().parents[2]
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--tags"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if proc.returncode == 0 and proc.stdout.strip():
            out["git"] = proc.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def check_report(
    report: Mapping[str, Any],
    *,
    expected_run_id: str | None = None,
    not_before: datetime | None = None,
) -> None:
    """Refuse a report from a failed run, or one that is not the run just made.

    Args:
        report: The parsed two-phase report.
        expected_run_id: The run id the job was told to use, if any.
        not_before: The job's start time: a report that finished earlier is stale.

    Raises:
        DeployError: Saying what is wrong.
    """
    if report.get("status") != "completed":
        raise DeployError(f"the run's report has status {report.get('status')!r}, not 'completed'")
    if expected_run_id is not None and report.get("run_id") != expected_run_id:
        raise DeployError(
            f"the report is from run {report.get('run_id')!r}, not the run just made ({expected_run_id}); "
            "refusing stale results"
        )
    if not_before is not None:
        try:
            finished = datetime.fromisoformat(str(report.get("finished_at")))
        except ValueError as exc:
            raise DeployError(
                f"the report's finished_at {report.get('finished_at')!r} is unreadable"
            ) from exc
        if finished.tzinfo is None:
            finished = finished.replace(tzinfo=not_before.tzinfo)
        if finished < not_before:
            raise DeployError(
                f"the report finished at {finished.isoformat()}, before this run started "
                f"({not_before.isoformat()}): stale results from an earlier run"
            )
    winner = report.get("winner")
    if not isinstance(winner, Mapping) or not winner.get("checkpoint_path"):
        raise DeployError("the report has no winner.checkpoint_path; nothing to deploy")


class Deployer:
    """Creates, lists, verifies and rolls back deployments under one folder."""

    def __init__(self, root: str | Path, *, required_files: Sequence[str] = ()) -> None:
        """Manage deployments in ``root``; a checkpoint must contain ``required_files``."""
        self.root = Path(root)
        self.required_files = tuple(required_files)

    # -- queries ---------------------------------------------------------------------------------
    def ids(self) -> list[str]:
        """Deployment ids, oldest first (by manifest time)."""
        return [m["id"] for m in self.manifests()]

    def manifests(self) -> list[dict[str, Any]]:
        """All manifests, oldest first."""
        if not self.root.is_dir():
            return []
        out = []
        for d in self.root.iterdir():
            if d.name == CURRENT or d.name.startswith(".") or not (d / MANIFEST).is_file():
                continue
            try:
                manifest = read_json(d / MANIFEST)
            except CappuccinoError as exc:
                print(f"warning: skipping deployment {d.name}: {exc}", file=sys.stderr)
                continue
            if not isinstance(manifest, dict) or not isinstance(manifest.get("id"), str):
                print(
                    f"warning: skipping deployment {d.name}: {d / MANIFEST} is not a manifest "
                    "(no 'id'); move it aside",
                    file=sys.stderr,
                )
                continue
            out.append(manifest)
        return sorted(out, key=lambda m: (str(m.get("deployed_at", "")), m["id"]))

    def current_id(self) -> str | None:
        """The live deployment's id, or None."""
        link = self.root / CURRENT
        if not link.is_symlink():
            return None
        return Path(os.readlink(link)).name

    def show(self, dep_id: str | None = None) -> dict[str, Any]:
        """The manifest of ``dep_id`` (default: the current one)."""
        dep_id = dep_id or self.current_id()
        if dep_id is None:
            raise DeployError("nothing is deployed yet; run the job or pass a deployment id")
        path = self.root / dep_id / MANIFEST
        if not path.is_file():
            known = ", ".join(self.ids()) or "none"
            raise DeployError(f"no deployment {dep_id!r} in {self.root}; known: {known}")
        manifest: dict[str, Any] = read_json(path)
        return manifest

    def checkpoint_dir(self, dep_id: str | None = None) -> Path:
        """The verified checkpoint folder of ``dep_id`` (default: the current one)."""
        manifest = self.show(dep_id)
        self.verify(manifest["id"])
        return self.root / manifest["id"] / "checkpoint"

    def verify(self, dep_id: str) -> None:
        """Re-hash ``dep_id``'s checkpoint and compare with its manifest; raise if they differ."""
        manifest = self.show(dep_id)
        files = hash_tree(self.root / dep_id / "checkpoint")
        if files != manifest.get("files"):
            raise DeployError(
                f"deployment {dep_id}: checkpoint files differ from the manifest (damaged or edited); "
                "roll back to another deployment"
            )

    # -- changes ---------------------------------------------------------------------------------
    def _check_checkpoint(self, src: Path) -> None:
        if not src.is_dir():
            raise DeployError(f"checkpoint {src} is not a directory (missing or a half-written file)")
        names = [p for p in src.rglob("*") if p.is_file()]
        if not names:
            raise DeployError(f"checkpoint {src} is empty; the run did not finish saving it")
        partial = [p.name for p in names if _PARTIAL.search(p.name)]
        if partial:
            raise DeployError(
                f"checkpoint {src} holds unfinished files {partial[:3]}; it is still being written"
            )
        missing = [f for f in self.required_files if not (src / f).exists()]
        if missing:
            raise DeployError(f"checkpoint {src} lacks {missing}; it is incomplete")

    def deploy(
        self,
        report: Mapping[str, Any],
        *,
        gate: GateResult,
        report_path: str | Path | None = None,
        expected_run_id: str | None = None,
        not_before: datetime | None = None,
    ) -> dict[str, Any]:
        """Copy and verify the winner's checkpoint, write its manifest and make it current.

        Args:
            report: The run's two-phase report.
            gate: The gate decision; a failed gate is refused.
            report_path: Where the report was read (relative checkpoint paths resolve from its folder).
            expected_run_id: The run just made (stale reports are refused).
            not_before: The run's start time (stale reports are refused).

        Returns:
            The new manifest.

        Raises:
            DeployError: For a failed gate, a failed or stale run, or an incomplete checkpoint.
        """
        if not gate.passed:
            raise DeployError("the winner failed the gate: " + "; ".join(gate.reasons))
        check_report(report, expected_run_id=expected_run_id, not_before=not_before)
        winner = report["winner"]
        src = Path(str(winner["checkpoint_path"]))
        if not src.is_absolute() and report_path is not None:
            src = Path(report_path).parent / src
        self._check_checkpoint(src)
        before = hash_tree(src)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-deploy-", dir=self.root))
        try:
            shutil.copytree(src, tmp / "checkpoint", symlinks=False)
            copied = hash_tree(tmp / "checkpoint")
            if copied != before or hash_tree(src) != before:
                raise DeployError(
                    f"checkpoint {src} changed while it was copied; it is still being written, retry later"
                )
            when = datetime.now(UTC)  # microseconds: orders deployments made within one second
            digest = hashlib.sha256(
                json.dumps(copied, sort_keys=True).encode()
            ).hexdigest()  # = checkpoint_digest
            dep_id = self._new_id(
                when, str(winner.get("algorithm", "agent")), str(winner.get("interval", "")), digest
            )
            manifest = self._manifest(dep_id, when, report, gate, copied, digest, report_path)
            write_json_atomic(tmp / "report.json", dict(report))
            write_json_atomic(tmp / MANIFEST, manifest)
            os.rename(tmp, self.root / dep_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._switch(dep_id)
        self.log("deploy", dep_id, previous=manifest.get("replaces"))
        return manifest

    def _new_id(self, when: datetime, algo: str, interval: str, digest: str) -> str:
        safe = re.sub(r"[^A-Za-z0-9]+", "-", f"{algo}-{interval}").strip("-").lower() or "agent"
        base = f"{when:%Y%m%dT%H%M%SZ}-{safe}-{digest[:8]}"
        dep_id, n = base, 1
        while (self.root / dep_id).exists():
            n += 1
            dep_id = f"{base}-{n}"
        return dep_id

    def _manifest(
        self,
        dep_id: str,
        when: datetime,
        report: Mapping[str, Any],
        gate: GateResult,
        files: list[dict[str, Any]],
        digest: str,
        report_path: str | Path | None,
    ) -> dict[str, Any]:
        winner = report["winner"]
        return {
            "id": dep_id,
            "deployed_at": when.isoformat(),
            "algorithm": winner.get("algorithm"),
            "holding_days": winner.get("holding_days"),
            "interval": winner.get("interval"),
            "objective": winner.get("objective"),
            "metrics": {
                "holdout": report.get("holdout"),
                "pbo": report.get("pbo"),
                "deflated_sharpe": report.get("deflated_sharpe"),
            },
            "gate": gate.to_dict(),
            "source_run": {
                "run_id": report.get("run_id"),
                "run_dir": report.get("run_dir"),
                "mode": report.get("mode"),
                "finished_at": report.get("finished_at"),
                "report_path": str(report_path) if report_path else None,
                "checkpoint_path": str(winner.get("checkpoint_path")),
            },
            "data_window": report.get("data_window"),
            "config": report.get("config"),
            "code_version": code_version(),
            "replaces": self.current_id(),
            "checkpoint_sha256": digest,
            "files": files,
        }

    def _switch(self, dep_id: str) -> None:
        link = self.root / CURRENT
        tmp = self.root / f".{CURRENT}.tmp-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(dep_id, tmp)
        os.replace(tmp, link)

    def log(self, action: str, dep_id: str | None, **fields: Any) -> None:
        """Append an event (deploy, rollback, promote, demote...) to the deployment history."""
        append_jsonl(
            self.root / "history.jsonl",
            {"time": now_utc().isoformat(), "action": action, "id": dep_id, **fields},
        )

    def clear_current(self) -> None:
        """Leave nothing current (a paused champion); the history keeps what was."""
        with contextlib.suppress(FileNotFoundError):
            (self.root / CURRENT).unlink()

    def rollback(self, dep_id: str | None = None) -> dict[str, Any]:
        """Make ``dep_id`` (default: the deployment before the current one) current again.

        Returns:
            The manifest now current.

        Raises:
            DeployError: If there is nothing to roll back to or the target is damaged.
        """
        current = self.current_id()
        if dep_id is not None and (self.root / dep_id / MANIFEST).is_file():
            self.show(dep_id)  # a damaged manifest of the one asked for is an error naming it
        ids = self.ids()
        if dep_id is None:
            if current is None or current not in ids:
                raise DeployError(
                    "nothing is deployed, so there is nothing to roll back from; pass a deployment id "
                    "(see `cappuccino-ray deploy list`)"
                )
            pos = ids.index(current)
            if pos == 0:
                raise DeployError(
                    f"{current} is the oldest deployment; there is nothing earlier to roll back to"
                )
            dep_id = ids[pos - 1]
        elif dep_id not in ids:
            raise DeployError(
                f"no deployment {dep_id!r}; known: {', '.join(ids) or 'none'} "
                "(see `cappuccino-ray deploy list`)"
            )
        self.verify(dep_id)
        self._switch(dep_id)
        self.log("rollback", dep_id, previous=current)
        return self.show(dep_id)
