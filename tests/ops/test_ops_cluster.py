"""A real two-node Ray cluster on this machine: trials spread over both nodes and survive a node's death.

The nodes are two ``ray start --block`` processes in their own sessions, on free ports, with a private
temp dir and auth token (token authentication stays on: ``RAY_AUTH_MODE=token``), each capped at one
CPU and 1 GB. Only these processes are stopped at the end, never other Ray instances on the machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

DRIVER = str(Path(__file__).parent / "ops_cluster_driver.py")
RAY = str(Path(sys.executable).parent / "ray")
pytestmark = [pytest.mark.slow, pytest.mark.cluster]


def free_ports(n: int) -> list[int]:
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def wait_log(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.is_file() and text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"ray start exited: {path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {text!r} in {path}")


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        token = root / "auth_token"
        token.write_text(secrets.token_hex(32))
        self.env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
        self.env.pop("RAY_ADDRESS", None)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.port = 0
        self.dashboard_port = 0

    def start_node(self, name: str, head: bool, dashboard: bool = False) -> subprocess.Popen[bytes]:
        p = free_ports(8)
        args = [RAY, "start", "--block", "--num-cpus", "1", "--memory", str(10**9)]
        args += ["--object-store-memory", str(2 * 10**8), "--disable-usage-stats"]
        args += ["--dashboard-agent-listen-port", str(p[0]), "--dashboard-agent-grpc-port", str(p[1])]
        args += ["--metrics-export-port", str(p[2]), "--runtime-env-agent-port", str(p[3])]
        if head:
            self.port = p[4]
            args += ["--head", "--port", str(p[4]), "--ray-client-server-port", str(p[5])]
            self.dashboard_port = p[6]
            args += [f"--include-dashboard={str(dashboard).lower()}", "--dashboard-port", str(p[6])]
            args += ["--temp-dir", str(self.root / "ray"), "--node-ip-address", "127.0.0.1"]
        else:
            args += ["--address", f"127.0.0.1:{self.port}", "--node-ip-address", "127.0.0.1"]
        log = self.root / f"{name}.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                args, stdout=fh, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        self.procs.append(proc)
        wait_log(log, "block forever", proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            stop_group(proc)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if shutil.which(RAY) is None:
        pytest.skip("the ray CLI is not installed next to this Python")
    root = Path(tempfile.mkdtemp(prefix="crops-", dir="/tmp"))  # short: Ray's socket paths are length-limited
    c = Cluster(root)
    try:
        yield c
    finally:
        c.close()
        shutil.rmtree(root, ignore_errors=True)


def trace_lines(path: Path) -> list[tuple[str, str, int]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((parts[0], parts[1], int(parts[2])))
    return out


def test_trials_run_on_both_nodes_and_survive_a_killed_node(cluster: Cluster) -> None:
    cluster.start_node("head", head=True)
    worker = cluster.start_node("worker", head=False)
    trace, out = cluster.root / "trace", cluster.root / "out.json"
    n_trials, iters = 4, 14
    args = [f"127.0.0.1:{cluster.port}", str(cluster.root / "storage"), str(trace), str(out)]
    driver = subprocess.Popen(
        [sys.executable, DRIVER, *args, str(n_trials), str(iters), "0.5"],
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cluster.procs.append(driver)
    # Wait until both nodes have made progress, then kill the second node outright.
    end = time.monotonic() + 180
    while time.monotonic() < end:
        nodes = {n for _, n, _ in trace_lines(trace)}
        if len(nodes) == 2 and sum(1 for _, _, it in trace_lines(trace) if it >= 2) >= 2:
            break
        assert driver.poll() is None, driver.stdout.read().decode() if driver.stdout else ""
        time.sleep(0.3)
    else:
        raise AssertionError(f"trials did not reach both nodes: {trace_lines(trace)[-5:]}")
    before = trace_lines(trace)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    try:
        stdout, _ = driver.communicate(timeout=400)
    except subprocess.TimeoutExpired:
        stop_group(driver)
        raise
    assert driver.returncode == 0, stdout.decode()[-3000:]
    summary = json.loads(out.read_text())
    assert summary["n_trials"] == n_trials and summary["errors"] == 0
    assert summary["final_its"] == [iters - 1] * n_trials  # every trial completed
    assert max(summary["resumed"]) > 0  # a trial of the dead node resumed from its checkpoint
    lines = trace_lines(trace)
    per_trial: dict[str, set[int]] = {}
    for t, _, it in lines:
        per_trial.setdefault(t, set()).add(it)
    assert len(per_trial) == n_trials and all(
        v == set(range(iters)) for v in per_trial.values()
    )  # nothing lost
    assert len({n for _, n, _ in lines}) == 2
    (dead,) = {n for _, n, _ in before} - set(summary["nodes"])  # the killed node is gone from the cluster
    moved = {t for t, n, _ in before if n == dead}
    assert moved
    for t in moved:  # each of its trials finished on the surviving node
        assert any(tt == t and n != dead for tt, n, _ in lines)


def test_ray_job_submit_ships_the_project_as_working_dir(cluster: Cluster) -> None:
    cluster.start_node("head", head=True, dashboard=True)
    repo = Path(__file__).resolve().parents[2]
    # The job runs in Ray's unpacked copy of the repo (not the checkout) and imports the package from
    # that copy, which holds the project's files.
    code = (
        "import ray, cappuccino_ray, pathlib; ray.init(); cwd = pathlib.Path.cwd().resolve(); "
        f"print('PROJECT', cwd != pathlib.Path({str(repo)!r}).resolve(), "
        "pathlib.Path(cappuccino_ray.__file__).resolve().parent.parent == cwd, "
        "pathlib.Path('run_two_phase.py').is_file(), ray.cluster_resources().get('CPU'))"
    )
    env = dict(cluster.env)
    env.pop("PYTHONPATH", None)
    end = time.monotonic() + 120
    while True:  # the job server comes up a little after the node
        proc = subprocess.run(
            [RAY, "job", "submit", "--address", f"http://127.0.0.1:{cluster.dashboard_port}",
             "--working-dir", str(repo), "--", sys.executable, "-c", code],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if proc.returncode == 0 or time.monotonic() > end:
            break
        time.sleep(2)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "PROJECT True True True 1.0" in proc.stdout


def _kill_groups_mentioning(marker: str) -> None:
    """SIGTERM then SIGKILL the process groups of processes whose command line contains ``marker``."""
    groups = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if marker in cmd:
                groups.add(os.getpgid(int(proc.name)))
        except (OSError, ProcessLookupError):
            continue
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for g in groups:
            try:
                os.killpg(g, sig)
            except ProcessLookupError:
                pass
        time.sleep(3 if sig == signal.SIGTERM else 0)


def test_ray_up_and_submit_with_the_local_provider(cluster: Cluster) -> None:
    """``ray up`` / ``ray submit`` of cluster/local.yaml against 127.0.0.1 over real SSH.

    Overrides, each for a shared machine: sshd runs per connection in inetd mode through
    ``ssh_proxy_command`` with a private config and key (no port opened, nothing in ~/.ssh);
    SetEnv gives the login shell the token, the cluster address and a PYTHONPATH to this
    environment (instead of ``pip install -e`` into a venv and ~/.bashrc edits); mounts go to a
    temp dir; the head gets private ports and temp dir. ``ray down`` is not run: it runs
    ``ray stop`` on the head, which stops every Ray process of the user on the machine.
    """
    import ray
    import yaml

    sshd, keygen = "/usr/sbin/sshd", shutil.which("ssh-keygen")
    if not (Path(sshd).is_file() and keygen and shutil.which("rsync") and shutil.which("ssh")):
        pytest.skip("needs openssh-server, openssh-client and rsync (apt-get install openssh-server rsync)")
    try:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation dir
    except OSError:
        pytest.skip("cannot create /run/sshd for sshd")
    d = cluster.root
    for key in ("host_key", "id_key"):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True)
    shutil.copy(d / "id_key.pub", d / "authorized_keys")
    p = free_ports(8)
    site = Path(ray.__file__).resolve().parents[1]
    remote = d / "remote" / "cappuccino_ray"
    token = cluster.env["RAY_AUTH_TOKEN_PATH"]
    (d / "sshd_config").write_text(
        f"HostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
        "UsePAM no\nStrictModes no\nPidFile none\n"
        f"SetEnv RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH={token} PYTHONPATH={remote}:{site} "
        f"RAY_ADDRESS=127.0.0.1:{p[0]}\n"
    )
    repo = Path(__file__).resolve().parents[2]
    cfg = yaml.safe_load((repo / "cluster" / "local.yaml").read_text())
    name = f"crops-{d.name[-8:]}"
    env = f"RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH={token}"
    cfg["cluster_name"] = name
    cfg["auth"] = {
        "ssh_user": os.environ.get("USER") or __import__("getpass").getuser(),
        "ssh_private_key": str(d / "id_key"),
        "ssh_proxy_command": f"{sshd} -i -f {d}/sshd_config",
    }
    cfg["file_mounts"] = {str(remote): str(repo), f"{remote}/configs": str(repo / "configs")}
    cfg["setup_commands"] = [f"test -f {remote}/run_two_phase.py"]
    cfg["head_start_ray_commands"] = [
        f"{env} {RAY} start --head --port {p[0]} --node-ip-address 127.0.0.1 --num-cpus 1 "
        f"--memory {10**9} --object-store-memory {2 * 10**8} --include-dashboard=false "
        f"--dashboard-port {p[1]} --ray-client-server-port {p[2]} --dashboard-agent-listen-port {p[3]} "
        f"--dashboard-agent-grpc-port {p[4]} --metrics-export-port {p[5]} --runtime-env-agent-port {p[6]} "
        f"--temp-dir {d}/ray --disable-usage-stats --autoscaling-config=~/ray_bootstrap_config.yaml"
    ]
    cfg["worker_start_ray_commands"] = []
    (d / "cluster.yaml").write_text(yaml.safe_dump(cfg))
    job = d / f"{name}_job.py"
    job.write_text(
        "import pathlib, ray, cappuccino_ray\nray.init()\n"
        "where = pathlib.Path(cappuccino_ray.__file__).parent\n"
        "print('SUBMITTED', ray.cluster_resources().get('CPU'), where)\n"
    )
    # The project's own script, copied alone under a name of its own (ray submit puts it in ~).
    script = d / f"{name}_run_phase1.py"
    shutil.copy(repo / "run_phase1.py", script)
    elsewhere = d / "elsewhere"  # the user's shell is not in the repo: no configs/ around
    elsewhere.mkdir()
    home = Path.home()
    try:
        up = subprocess.run(
            [RAY, "up", "-y", "--no-config-cache", str(d / "cluster.yaml")],
            env=cluster.env, cwd=elsewhere, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-2000:]
        assert (remote / "run_two_phase.py").is_file() and not (remote / ".venv").exists()
        sub = subprocess.run(
            [RAY, "submit", str(d / "cluster.yaml"), str(job)],
            env=cluster.env, cwd=elsewhere, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert sub.returncode == 0, sub.stdout[-3000:] + sub.stderr[-2000:]
        assert f"SUBMITTED 1.0 {remote}/cappuccino_ray" in sub.stdout
        # The headline: `ray submit cluster.yaml run_phase1.py`, a mini phase 1 on the head's one CPU.
        results = d / "submitted"
        sub = subprocess.run(
            [RAY, "submit", str(d / "cluster.yaml"), str(script), "--", "--mini", "--quiet", "--results",
             str(results)],
            env=cluster.env, cwd=elsewhere, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert sub.returncode == 0, sub.stdout[-3000:] + sub.stderr[-2000:]
        (winner,) = results.rglob("phase1_winner.json")
        assert json.loads(winner.read_text())["interval"] in {"1h", "4h"}
        assert not any(elsewhere.iterdir())  # nothing written where the command was typed
    finally:
        _kill_groups_mentioning(f"{d}/ray")
        (home / job.name).unlink(missing_ok=True)
        (home / script.name).unlink(missing_ok=True)
        boot = home / "ray_bootstrap_config.yaml"
        if boot.is_file() and yaml.safe_load(boot.read_text()).get("cluster_name") == name:
            boot.unlink()
            (home / "ray_bootstrap_key.pem").unlink(missing_ok=True)
        for state in Path("/tmp/ray").glob(f"cluster-{name}.*"):  # the local provider's node state
            state.unlink(missing_ok=True)


ACTOR_NODES = """
import json, sys, ray
from ray._private.state import actors
ray.init(address=sys.argv[1], log_to_driver=False)
print("ACTORS", json.dumps([[a["ActorClassName"], a["Address"]["NodeID"]] for a in actors().values()]))
"""


def test_mini_phase1_runs_across_both_nodes(cluster: Cluster, tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    cluster.start_node("head", head=True)
    cluster.start_node("worker", head=False)
    results = cluster.root / "results"
    cmd = [sys.executable, "-m", "cappuccino_ray", "phase1", "--mini", "--quiet"]
    cmd += [
        "--address",
        f"127.0.0.1:{cluster.port}",
        "--config",
        str(repo / "configs"),
        "--results",
        str(results),
    ]
    proc = subprocess.run(
        cmd, env=cluster.env, capture_output=True, text=True, timeout=900, cwd=tmp_path, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert list(results.rglob("phase1_winner.json")), proc.stdout[-2000:]
    probe = subprocess.run(
        [sys.executable, "-c", ACTOR_NODES, f"127.0.0.1:{cluster.port}"],
        env=cluster.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    line = next(x for x in probe.stdout.splitlines() if x.startswith("ACTORS"))
    table = json.loads(line.split(" ", 1)[1])
    trial_nodes = {node for cls, node in table if "ImplicitFunc" in cls or "rainable" in cls}  # Tune trials
    assert len(trial_nodes) == 2, table
