"""A two-phase run on a two-node local Ray cluster whose results live in an S3 bucket (moto on loopback).

The S3 server is ``moto_server`` on 127.0.0.1, reached through ``AWS_ENDPOINT_URL`` as a
MinIO would be. The head node has no CPU, so every trial runs on the worker node; each node
has its own temp dir. The job is ``run_two_phase.py`` copied alone into a folder and run from
another one, with ``--results s3://...``: the Tune experiments, the checkpoints, the phase
documents, the warm start, the PBO inputs and the report must all be in the bucket and nothing
on the head's disk; ``cappuccino-ray results`` and ``report`` read the run back from the bucket.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cappuccino_ray.search.rows import is_split_row
from tests.ops.test_ops_cluster import RAY, Cluster, free_ports, stop_group, wait_log
from tests.python_run import REPO, run_cli

MOTO = Path(sys.executable).parent / "moto_server"
BUCKET = "cappuccino-test"
pytestmark = [pytest.mark.slow, pytest.mark.cluster]

MINI = """phase1:
  holding_days: [3]
  intervals: [4h]
  trials_per_combo: 2
  budget: {train_steps: 300, n_groups: 2, n_test_groups: 1, max_splits: 2}
  asha: {grace_period: 2}  # one whole path: every trial enters the PBO
  resources: {max_concurrent: 1}
  fixed: {num_envs: 4}
  space: &ppo
    train_batch_size: {type: categorical, choices: [128]}
    minibatch_size: {type: categorical, choices: [64]}
    num_epochs: {type: int, low: 1, high: 2}
    hidden_size: {type: categorical, choices: [16, 32]}
phase2:
  trials_per_algo: 1
  budget: {train_steps: 300, n_groups: 2, n_test_groups: 1, max_splits: 2}
  asha: {grace_period: 2}  # one whole path: every trial enters the PBO
  resources: {max_concurrent: 1}
  pbo_partitions: 2
  fixed:
    ppo: {num_envs: 4}
    ddqn: {num_envs: 4}
  spaces:
    ppo: *ppo
    ddqn:
      train_batch_size: {type: categorical, choices: [32]}
      hidden_size: {type: categorical, choices: [16, 32]}
      buffer_size: {type: categorical, choices: [1000]}
      learning_starts: {type: int, low: 50, high: 60}
      target_update_freq: {type: int, low: 50, high: 60}
"""
DATA = """source: synthetic
base_interval: 1h
symbols: [BTC/USD, ETH/USD]
synthetic: {n_bars: 4000, seed: 5}
"""


class S3Cluster(Cluster):
    """The ops tests' local cluster, with S3 settings in every node's environment and a CPU-less head."""

    def __init__(self, root: Path, endpoint: str) -> None:
        super().__init__(root)
        self.env.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
            PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        )

    def start(self, workers: int = 1) -> None:
        p = free_ports(6 + 4 * workers)
        common = ["--block", "--memory", str(10**9), "--object-store-memory", str(2 * 10**8)]
        common += ["--disable-usage-stats", "--node-ip-address", "127.0.0.1"]
        self.port = p[0]
        head = [RAY, "start", "--head", "--num-cpus", "0", "--port", str(p[0]), *common]
        head += ["--ray-client-server-port", str(p[1]), "--include-dashboard=false"]
        head += ["--temp-dir", str(self.root / "head"), *self._agent_ports(p[2:6])]
        nodes = [("head", head)]
        for w in range(workers):
            name = "worker" if w == 0 else f"worker{w}"
            worker = [RAY, "start", "--address", f"127.0.0.1:{p[0]}", "--num-cpus", "1", *common]
            worker += ["--temp-dir", str(self.root / name), *self._agent_ports(p[6 + 4 * w : 10 + 4 * w])]
            nodes.append((name, worker))
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}
        for name, args in nodes:
            log = self.root / f"{name}.log"
            with log.open("wb") as fh:
                proc = subprocess.Popen(
                    args, stdout=fh, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
                )
            self.procs.append(proc)
            self.nodes[name] = proc
            wait_log(log, "block forever", proc)

    @staticmethod
    def _agent_ports(p: list[int]) -> list[str]:
        return [
            *("--dashboard-agent-listen-port", str(p[0]), "--dashboard-agent-grpc-port", str(p[1])),
            *("--metrics-export-port", str(p[2]), "--runtime-env-agent-port", str(p[3])),
        ]


@pytest.fixture
def s3_cluster(request: pytest.FixtureRequest) -> Iterator[S3Cluster]:
    if shutil.which(RAY) is None or not MOTO.is_file():
        pytest.skip("needs the ray CLI and moto_server (pip install 'moto[server]', in the test extras)")
    import boto3

    root = Path(tempfile.mkdtemp(prefix="crs3-", dir="/tmp"))  # short: Ray's socket paths are length-limited
    (port,) = free_ports(1)
    endpoint = f"http://127.0.0.1:{port}"
    with (root / "moto.log").open("wb") as fh:
        moto = subprocess.Popen(
            [str(MOTO), "-H", "127.0.0.1", "-p", str(port)], stdout=fh, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    c = S3Cluster(root, endpoint)
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        end = time.monotonic() + 60
        while True:
            try:
                s3.create_bucket(Bucket=BUCKET)
                break
            except Exception:
                if time.monotonic() > end or moto.poll() is not None:
                    raise
                time.sleep(0.5)
        c.start(workers=getattr(request, "param", 1))
        yield c
    finally:
        c.close()
        stop_group(moto)
        shutil.rmtree(root, ignore_errors=True)


def _keys(cluster: S3Cluster) -> list[str]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=cluster.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def _cli(cluster: S3Cluster, cwd: Path, *args: str) -> str:
    proc = run_cli(*args, cwd=cwd, env=cluster.env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def _start(cluster: S3Cluster) -> tuple[subprocess.Popen[bytes], Path, Path, str]:
    """``run_two_phase.py`` copied alone into a folder, run from another with ``--results s3://...``."""
    root = cluster.root
    node, head_cwd = root / "home", root / "driver"
    node.mkdir()
    head_cwd.mkdir()
    shutil.copy(REPO / "run_two_phase.py", node / "run_two_phase.py")  # the script alone, as ray submit does
    configs = root / "cfg"
    shutil.copytree(REPO / "cappuccino_ray" / "configs", configs)
    (configs / "mini.yaml").write_text(MINI)
    (head_cwd / "tiny.yaml").write_text(DATA)
    results = f"s3://{BUCKET}/runs"
    argv = [sys.executable, str(node / "run_two_phase.py"), "--mini", "--quiet", "--config", str(configs)]
    argv += ["--data", "tiny.yaml", "--results", results, "--address", f"127.0.0.1:{cluster.port}"]
    driver = subprocess.Popen(
        argv, cwd=head_cwd, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    cluster.procs.append(driver)
    return driver, node, head_cwd, results


def _finish(driver: subprocess.Popen[bytes]) -> None:
    try:
        out, _ = driver.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        os.killpg(driver.pid, signal.SIGKILL)
        raise
    assert driver.returncode == 0, out.decode(errors="replace")[-4000:]


def _run_id(cluster: S3Cluster) -> str:
    (run_id,) = {k.split("/")[1] for k in _keys(cluster)} - {""}  # (pyarrow writes folder markers "runs/")
    return run_id


def test_a_run_on_two_nodes_keeps_everything_in_the_bucket(s3_cluster: S3Cluster) -> None:
    root = s3_cluster.root
    driver, node, head_cwd, results = _start(s3_cluster)
    _finish(driver)

    keys = _keys(s3_cluster)
    run_id = _run_id(s3_cluster)
    run = f"runs/{run_id}"
    for name in (
        "run_config.json",
        "phase1/phase1_winner.json",
        "phase1/phase1_all_results.json",
        "phase2/phase2_comparison.json",
        "holdout_series.npz",
        "two_phase_training_report.json",
        "report.html",
    ):
        assert f"{run}/{name}" in keys, name
    assert any(k.startswith(f"{run}/phase1/experiment_state") for k in keys)
    checkpoints = [k for k in keys if k.endswith("/test_returns.npz")]
    # 2 phase-1 trials + PPO + DDQN, 1-2 splits each (ASHA may stop one after its first): the PBO inputs
    assert 4 <= len(checkpoints) <= 8
    # Nothing on the head's disk: no results folder where the driver ran, none beside the script.
    assert sorted(p.name for p in head_cwd.iterdir()) == ["tiny.yaml"]
    assert sorted(p.name for p in node.iterdir()) == ["run_two_phase.py"]

    report = json.loads(_cli(s3_cluster, head_cwd, "results", f"{results}/{run_id}", "--format", "json"))
    trials = {(r["query"], r.get("algo")) for r in report}
    assert ("combos", "ppo") in trials and ("algos", "ddqn") in trials
    doc_text = _cli(s3_cluster, head_cwd, "results", "--results-dir", results, "--format", "json")
    (listed,) = json.loads(doc_text)
    assert listed["name"] == run_id and listed["status"] == "completed" and listed["trials"] == 4
    printed = _cli(s3_cluster, head_cwd, "report", run_id, "--results-dir", results).strip()
    assert printed == f"{results}/{run_id}/report.html"
    assert sorted(p.name for p in head_cwd.iterdir()) == ["tiny.yaml"]

    # Every trial ran on the worker: its pid has a core-worker log in the worker's temp dir only.
    worker_logs = {p.name for p in (root / "worker").rglob("python-core-worker-*.log")}
    head_logs = {p.name for p in (root / "head").rglob("python-core-worker-*.log")}
    comparison = _read(s3_cluster, f"{run}/phase2/phase2_comparison.json")
    assert comparison["phase1_checkpoint"].startswith(f"s3://{BUCKET}/{run}/phase1/")
    assert comparison["checkpoint_path"].startswith(f"s3://{BUCKET}/{run}/phase2/")
    assert comparison["pbo"]["n_trials"] == 2  # both phase-2 trials' test returns were read from S3
    pids = _trial_pids(s3_cluster, run)
    assert pids and all(any(f"_{pid}.log" in n for n in worker_logs) for pid in pids)
    assert not any(any(f"_{pid}.log" in n for n in head_logs) for pid in pids)
    warm = [r for r in _results_rows(s3_cluster, run) if r.get("config", {}).get("algo") == "ppo"
            and r.get("config", {}).get("phase") == 2 and is_split_row(r)]  # fmt: skip
    assert warm and warm[-1]["warm_started"] == 1  # phase 1's checkpoint, fetched from the bucket


def _read(cluster: S3Cluster, key: str) -> dict[str, object]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=cluster.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def _results_rows(cluster: S3Cluster, run: str) -> list[dict[str, object]]:
    """Every trial's reported rows (``result.json`` files, one JSON object a line)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=cluster.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    rows = []
    for key in _keys(cluster):
        if key.startswith(run) and key.endswith("/result.json"):
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
            rows += [json.loads(line) for line in body.splitlines() if line.strip()]
    return rows


def _trial_pids(cluster: S3Cluster, run: str) -> set[int]:
    return {int(r["pid"]) for r in _results_rows(cluster, run) if "pid" in r}  # type: ignore[call-overload]


def _node_of(cluster: S3Cluster, pid: int) -> str | None:
    for name in cluster.nodes:
        if any(cluster.root.joinpath(name).rglob(f"python-core-worker-*_{pid}.log")):
            return name
    return None


@pytest.mark.parametrize("s3_cluster", [2], indirect=True)
def test_a_run_survives_killing_the_worker_node_it_runs_on(s3_cluster: S3Cluster) -> None:
    driver, _, _, _ = _start(s3_cluster)
    end = time.monotonic() + 400
    while True:  # the first trial's checkpoint and results reached the bucket: the run is under way
        rows = [r for r in _results_rows(s3_cluster, "runs/") if "pid" in r]
        if rows:
            break
        assert driver.poll() is None and time.monotonic() < end, "no trial reported"
        time.sleep(1)
    pid = int(max(rows, key=lambda r: float(r.get("timestamp", 0)))["pid"])  # type: ignore[arg-type, call-overload]
    victim = _node_of(s3_cluster, pid)
    assert victim in ("worker", "worker1")
    # The trial actor is reused for the next trial on that node: kill the node under it.
    os.killpg(s3_cluster.nodes[victim].pid, signal.SIGKILL)
    s3_cluster.nodes[victim].wait()
    _finish(driver)
    run = f"runs/{_run_id(s3_cluster)}"
    report = _read(s3_cluster, f"{run}/two_phase_training_report.json")
    assert report["status"] == "completed"
    assert report["trial_counts"]["total"] == 4  # type: ignore[index]
    survivor = "worker1" if victim == "worker" else "worker"
    after = {int(r["pid"]) for r in _results_rows(s3_cluster, run) if "pid" in r} - {pid}  # type: ignore[call-overload]
    assert after and all(_node_of(s3_cluster, p) == survivor for p in after)
