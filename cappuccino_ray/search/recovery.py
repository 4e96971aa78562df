"""Splits a trial finished but Tune never recorded: found again on restore instead of trained again.

Inside ``tune.report`` a trial writes the split's checkpoint into its trial
folder, and only then does the driver record the row; the driver snapshots what
it has recorded every 5 s (``TUNE_GLOBAL_CHECKPOINT_S``). A driver killed in
between leaves complete ``checkpoint_*`` folders that the restored experiment
does not know, and Tune restores the trial from the split before them: those
splits would be trained again and their checkpoints overwritten.

So a trial, when it starts, looks in its trial folder for complete checkpoints
that continue where Tune's own checkpoint ends (each holds the row it reported,
``split_row.json``), reports them again in order, and trains on from the last.
A checkpoint counts only if every file is there and readable and its row and
progress agree on the split count, so a folder cut short by the kill is trained
again. The trial folder is searched on the trial's own disk: with a plain or
shared-file-system ``storage_path`` that is where the checkpoints are; with a
bucket URI such splits are trained again as before.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from cappuccino_ray.agents.checkpoint import AGENT_FILE, WEIGHTS_FILE
from cappuccino_ray.run_files import SPLIT_ROW_FILE, TEST_RETURNS_FILE, TRIAL_PROGRESS_FILE

__all__ = ["trial_storage_dir", "unrecorded_splits"]

_NEEDED = (AGENT_FILE, WEIGHTS_FILE, TEST_RETURNS_FILE, TRIAL_PROGRESS_FILE, SPLIT_ROW_FILE)


def unrecorded_splits(
    splits_done: int, trial_dir: str | Path | None = None
) -> list[tuple[Path, dict[str, Any]]]:
    """The complete split checkpoints in the trial folder that continue after ``splits_done``.

    Args:
        splits_done: Splits of the checkpoint Tune restored (0 for none).
        trial_dir: The trial's folder on this node; ``None``: the running trial's
            (:func:`trial_storage_dir`), and nothing when that is not on this disk.

    Returns:
        ``(checkpoint folder, reported row)`` for splits ``splits_done + 1``, ``+ 2``...,
        in order, up to the first one missing or incomplete.
    """
    trial_dir = trial_dir if trial_dir is not None else trial_storage_dir()
    if trial_dir is None:
        return []
    by_count: dict[int, tuple[Path, dict[str, Any]]] = {}
    for folder in sorted(Path(trial_dir).glob("checkpoint_*")):
        row = _complete_row(folder)
        if row is not None:
            by_count.setdefault(int(row["splits_done"]), (folder, row))
    out = []
    n = splits_done + 1
    while n in by_count:
        out.append(by_count[n])
        n += 1
    return out


def trial_storage_dir() -> Path | None:
    """The running trial's folder in the experiment's storage, when that is on this node's disk.

    Tune's public context names only the trial's working folder under the Ray
    session, so the storage folder comes from the train session (Ray is pinned;
    a test fails if this moves). None outside a trial or when storage is a bucket.
    """
    try:
        from pyarrow.fs import LocalFileSystem
        from ray.train._internal.session import get_session

        session = get_session()
        storage = session.storage if session is not None else None
        if storage is None or not isinstance(storage.storage_filesystem, LocalFileSystem):
            return None
        return Path(storage.trial_fs_path)
    except (ImportError, AttributeError, RuntimeError):
        return None


def _complete_row(folder: Path) -> dict[str, Any] | None:
    """The row saved in ``folder`` if the checkpoint is whole, else None."""
    if not all((folder / name).is_file() for name in _NEEDED):
        return None
    try:
        row = json.loads((folder / SPLIT_ROW_FILE).read_text())
        progress = json.loads((folder / TRIAL_PROGRESS_FILE).read_text())
        with zipfile.ZipFile(folder / TEST_RETURNS_FILE) as returns:  # a cut file has no central directory
            returns.namelist()
    except (OSError, ValueError, zipfile.BadZipFile):
        return None
    if not isinstance(row, dict) or not isinstance(progress, dict):
        return None
    count = row.get("splits_done")
    if not isinstance(count, int) or count < 1 or count != progress.get("splits_done"):
        return None
    return row
