"""The cluster launcher configs pass Ray's own schema and keep the security defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

CLUSTER = Path(__file__).resolve().parents[2] / "cluster"


@pytest.mark.parametrize("name", ["cluster.yaml", "local.yaml"])
def test_cluster_configs_pass_rays_schema(name: str) -> None:
    from ray.autoscaler._private.util import fillout_defaults, validate_config

    cfg = yaml.safe_load((CLUSTER / name).read_text())
    validate_config(fillout_defaults(cfg))
    assert cfg["file_mounts"]["~/cappuccino_ray"] == "."
    assert cfg["file_mounts"]["~/cappuccino_ray/configs"] == "./configs"
    # A script submitted to ~ uses the packaged defaults: on the cluster they are your configs/.
    assert cfg["file_mounts"]["~/cappuccino_ray/cappuccino_ray/configs"] == "./configs"
    assert any("pip install" in c and "cappuccino_ray" in c for c in cfg["setup_commands"])
    starts = cfg["head_start_ray_commands"] + cfg["worker_start_ray_commands"]
    assert all("RAY_AUTH_MODE=token" in c for c in starts if "ray start" in c)
    assert not any("dashboard-host" in c for c in starts)  # the dashboard stays on localhost


def test_aws_config_has_a_cpu_head_and_autoscaled_cpu_and_gpu_workers() -> None:
    import ray

    cfg = yaml.safe_load((CLUSTER / "cluster.yaml").read_text())
    assert cfg["provider"]["type"] == "aws"
    types = cfg["available_node_types"]
    assert types[cfg["head_node_type"]]["node_config"]["InstanceType"].startswith("m")
    cpu, gpu = types["cpu_worker"], types["gpu_worker"]
    assert cpu["node_config"]["InstanceType"].startswith("c")
    assert gpu["node_config"]["InstanceType"].startswith("g")
    assert 0 <= gpu["min_workers"] <= gpu["max_workers"]
    # The image of the pinned Ray on Python 3.11, its GPU variant on the GPU workers.
    assert cfg["docker"]["image"] == f"rayproject/ray:{ray.__version__}-py311-cpu"
    assert gpu["docker"]["worker_image"] == f"rayproject/ray:{ray.__version__}-py311-gpu"
    assert "--gpus all" in gpu["docker"]["worker_run_options"]
    # Every node type can write to the bucket.
    for node_type in types.values():
        assert "instance-profile/" in node_type["node_config"]["IamInstanceProfile"]["Arn"]
    setup = " ".join(cfg["setup_commands"])
    assert "download.pytorch.org/whl/" in setup and "echo cu128 || echo cpu" in setup
    assert any("--dashboard-port=8265" in c for c in cfg["head_start_ray_commands"])


def test_local_config_uses_the_local_provider_on_loopback() -> None:
    cfg = yaml.safe_load((CLUSTER / "local.yaml").read_text())
    assert cfg["provider"] == {"type": "local", "head_ip": "127.0.0.1", "worker_ips": []}
