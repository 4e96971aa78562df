"""Storage locations: plain paths, ``file://`` and ``s3://`` (a moto server on loopback) behave alike."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cappuccino_ray import storage
from cappuccino_ray.documents import Phase1Winner
from cappuccino_ray.errors import ConfigError, DataError
from cappuccino_ray.run_files import PHASE1_DIR, PHASE1_WINNER_FILE, read_json
from cappuccino_ray.search.paths import read_trial_paths
from cappuccino_ray.search.phase1 import load_phase1_winner
from cappuccino_ray.search.pipeline import find_run_dir

MOTO = Path(sys.executable).parent / "moto_server"


@pytest.fixture(scope="module")
def bucket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty bucket on a moto S3 server on 127.0.0.1, reached through ``AWS_ENDPOINT_URL``."""
    if not MOTO.is_file():
        pytest.skip("moto_server not installed (pip install 'moto[server]', in the test extras)")
    import socket

    import boto3

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen([str(MOTO), "-H", "127.0.0.1", "-p", str(port)], stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        end = time.monotonic() + 30
        while True:
            try:
                boto3.client("s3").create_bucket(Bucket="unit")
                break
            except Exception:
                if time.monotonic() > end:
                    raise
                time.sleep(0.3)
        yield "s3://unit"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_plain_and_file_uris_are_local_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert storage.location("results") == tmp_path / "results"
    assert storage.location(f"file://{tmp_path}/r") == tmp_path / "r"
    assert storage.location("s3://b/runs/") == "s3://b/runs"
    assert storage.child(Path("/x"), "a", "b") == Path("/x/a/b")
    assert storage.child("s3://b/runs", "a", "b.json") == "s3://b/runs/a/b.json"
    assert storage.basename("s3://b/runs/20260101_mini_abc/") == "20260101_mini_abc"
    with pytest.raises(ConfigError, match="unsupported storage scheme 'ftp'"):
        storage.location("ftp://host/x")


def _exercise(root: storage.Location) -> None:
    """The same sequence on any location kind."""
    storage.write_json(storage.child(root, "r1_mini_abc", "a.json"), {"x": 1.5})
    storage.write_json(storage.child(root, "r2_mini_abc", "a.json"), {"x": 2})
    storage.write_json(storage.child(root, "r3_full_abc", "a.json"), {"x": 3})
    storage.write_bytes(storage.child(root, "r2_mini_abc", "sub", "checkpoint_0", "w.pt"), b"\0" * 10)
    assert read_json(storage.child(root, "r1_mini_abc", "a.json")) == {"x": 1.5}
    assert read_json(str(storage.child(root, "r1_mini_abc", "a.json"))) == {"x": 1.5}  # run_files' reader
    assert read_json(storage.child(root, "nope.json")) is None
    assert storage.list_dirs(root, "*_mini_abc") == ["r1_mini_abc", "r2_mini_abc"]
    assert storage.list_dirs(storage.child(root, "absent")) == []
    assert find_run_dir(root, "mini", "abc") == storage.child(root, "r2_mini_abc")
    assert storage.is_dir(storage.child(root, "r2_mini_abc")) and not storage.is_file(root)
    with storage.local_copy(storage.child(root, "r2_mini_abc"), exclude=("checkpoint_*",)) as local:
        files = sorted(str(p.relative_to(local)) for p in local.rglob("*") if p.is_file())
        if isinstance(root, Path):  # a local folder is used in place, never copied
            assert local == root / "r2_mini_abc" and files == ["a.json", "sub/checkpoint_0/w.pt"]
        else:  # a remote one is downloaded without the excluded folders
            assert files == ["a.json"]
        assert json.loads((local / "a.json").read_text()) == {"x": 2}
    storage.write_bytes(storage.child(root, "bad.json"), b"{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        read_json(storage.child(root, "bad.json"))


def test_local_folder(tmp_path: Path) -> None:
    _exercise(tmp_path)


def test_s3_bucket(bucket: str, tmp_path: Path) -> None:
    root = f"{bucket}/ex"
    _exercise(root)
    assert not (Path.cwd() / "s3:").exists()  # a URI is never a local folder named "s3:"
    # A remote checkpoint: local_dir downloads it once per process and URI.
    storage.write_bytes(f"{root}/ck/agent.json", b"{}")
    local = storage.local_dir(f"{root}/ck")
    assert Path(local, "agent.json").read_bytes() == b"{}" and storage.local_dir(f"{root}/ck") == local
    shutil.rmtree(local)


def test_s3_documents_and_test_returns(bucket: str) -> None:
    import io

    import numpy as np

    run = f"{bucket}/docs/run1"
    winner = Phase1Winner(holding_days=3.0, interval="4h", hyperparameters={"lr": 0.001})
    storage.write_json(f"{run}/{PHASE1_DIR}/{PHASE1_WINNER_FILE}", winner.to_json())
    for where in (run, f"{run}/{PHASE1_DIR}", f"{run}/{PHASE1_DIR}/{PHASE1_WINNER_FILE}"):
        assert load_phase1_winner(where) == winner
    with pytest.raises(ConfigError, match=r"no phase1_winner\.json"):
        load_phase1_winner(f"{bucket}/docs/none")
    # One whole path of CPCV(2, 1): split 0 tests group 0, split 1 tests group 1.
    buf = io.BytesIO()
    hour = 3_600 * 10**9
    np.savez(
        buf,
        s000_g00=np.array([0.01, -0.02]),
        t_s000_g00=np.array([0, hour]),
        s001_g01=np.array([0.03]),
        t_s001_g01=np.array([2 * hour]),
    )
    storage.write_bytes(f"{run}/ck/test_returns.npz", buf.getvalue())
    paths = read_trial_paths(f"{run}/ck", "t", "1h", 2, 1)
    assert paths is not None and paths.n_paths == 1
    np.testing.assert_allclose(paths.paths[0], [0.01, -0.02, 0.03])
    assert read_trial_paths(f"{run}/none", "t", "1h", 2, 1) is None
