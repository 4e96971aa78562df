"""Every bad input and fault of the corpus is refused at load in one line, leaving nothing behind.

Each case of :mod:`tests.reliability.corpus` runs the real CLI entry point
(``cappuccino_ray.cli.main``) in a fresh copy of a small workspace, as a user
would from a project folder (relative paths, the default ``configs/`` and
``results/``). Asserted for every case: the exit code; exactly one line on
stderr (``error: ...`` or, for a listing that skips a bad entry,
``warning: ...``) holding the words that name the thing and the fix; no
traceback; Ray never started; the time it took; and the workspace (results,
store, deployments, logs, configs) byte-for-byte as before.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from cappuccino_ray.cli import main
from tests.python_run import REPO, run_python

from .corpus import CASES, Case

CONFIG_FILES = (
    "phase1.yaml",
    "phase2.yaml",
    "mini.yaml",
    "data.yaml",
    "schedule.yaml",
    "deploy.yaml",
    "env.yaml",
)

DEPLOYMENTS = ("20240101-a", "20240102-b")
FIX = re.compile(r";|\b(must|use|pass|expected|set)\b")


def _set(path: Path, key: str, value: str) -> None:
    lines = path.read_text().splitlines()
    i = next(n for n, ln in enumerate(lines) if ln.lstrip().startswith(f"{key}:"))
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines[i] = f"{indent}{key}: {value}"
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace every case starts from: configs (small generated candles), two deployments, results/."""
    from cappuccino_ray.ops.deploy import hash_tree

    ws = tmp_path_factory.mktemp("workspace")
    (ws / "configs").mkdir()
    for name in CONFIG_FILES:
        shutil.copy(REPO / "configs" / name, ws / "configs" / name)
    _set(ws / "configs" / "data.yaml", "n_bars", "5000")
    _set(ws / "configs" / "data.yaml", "symbols", "[BTC/USD, ETH/USD]")
    (ws / "results").mkdir()
    dep_root = ws / "deployments"
    for n, dep_id in enumerate(DEPLOYMENTS):
        ckpt = dep_root / dep_id / "checkpoint"
        ckpt.mkdir(parents=True)
        (ckpt / "agent.json").write_text('{"algo": "ppo"}')
        (ckpt / "weights.pt").write_bytes(bytes([n]) * 64)
        manifest = {
            "id": dep_id,
            "deployed_at": f"2024-01-0{n + 1}T00:00:00+00:00",
            "algorithm": "ppo",
            "interval": "1h",
            "holding_days": 3,
            "files": hash_tree(ckpt),
        }
        (dep_root / dep_id / "manifest.json").write_text(__import__("json").dumps(manifest))
    (dep_root / "current").symlink_to(DEPLOYMENTS[-1])
    return ws


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root``: a file's SHA-256, a link's target, or ``dir``."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def prepare(case: Case, template: Path, ws: Path) -> None:
    shutil.copytree(template, ws, symlinks=True)
    for rel, content in case.files.items():
        p = ws / rel
        if content is None:
            p.unlink()
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content.replace("{ws}", str(ws)))
    if case.setup is not None:
        case.setup(ws)


def run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return int(exc.code or 0)


def _no_ray(*args: object, **kwargs: object) -> None:
    raise RuntimeError("test: the input was not refused before Ray would start")


def ray_started() -> bool:
    ray = sys.modules.get("ray")
    return bool(ray is not None and ray.is_initialized())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_in_one_line_leaving_nothing_behind(
    case: Case,
    template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ws = tmp_path / "ws"
    prepare(case, template, ws)
    monkeypatch.chdir(ws)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr("ray.init", _no_ray)
    before = snapshot(ws)
    capsys.readouterr()

    t0 = time.monotonic()
    code = run_cli([a.replace("{ws}", str(ws)) for a in case.argv])
    took = time.monotonic() - t0
    err = capsys.readouterr().err

    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == case.code, f"exit {code}, stderr:\n{err}"
    assert "Traceback" not in err
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    line = lines[0]
    assert line.startswith("warning: " if case.warning else "error: "), line
    missing = [w for w in case.expect if w.lower() not in line.lower()]
    assert not missing, f"{missing} not in: {line}"
    if not case.warning:
        # The fix: a clause after ';', or a rule saying what the value must be or what to use.
        assert FIX.search(line), f"no fix in: {line}"
    assert not ray_started(), "Ray started before the input was refused"
    assert took < case.max_s, f"took {took:.1f} s (limit {case.max_s} s)"
    assert snapshot(ws) == before, "the command left files behind or changed them"


def test_the_corpus_has_at_least_150_cases() -> None:
    assert len(CASES) >= 150
    assert len(CASES) == 244  # a case dropped by accident shows here; update the count when adding
    areas = {c.id.split("-")[0] for c in CASES}
    assert {"data", "config", "cli", "phase1", "state", "deploy", "results", "run"} <= areas


def test_import_registers_the_env_without_ray_or_torch() -> None:

    code = (
        "import sys, time; t=time.perf_counter(); import cappuccino_ray; took=time.perf_counter()-t\n"
        "import gymnasium as gym; spec = gym.spec('CryptoTrading-v1')\n"
        "assert spec.entry_point == 'cappuccino_ray.env.trading_env:CryptoTradingEnv'\n"
        "heavy = [m for m in ('ray', 'torch', 'cappuccino_ray.env') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print(took)"
    )
    out = run_python("-c", code)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip()) < 2.0
