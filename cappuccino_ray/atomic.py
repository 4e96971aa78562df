"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every state, result and checkpoint file of the project is written through
:func:`atomic_write`: the content goes to a temp file in the target's folder,
is flushed to disk, and then replaces the target with ``os.replace``. If the
writer fails, the temp file is removed and the target is left as it was.
Append-only logs (JSON lines) grow through :func:`append_jsonl`: each record is
one ``write()`` on an ``O_APPEND`` descriptor, so lines from several processes
never interleave.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["append_jsonl", "atomic_write", "json_default", "write_bytes_atomic", "write_json_atomic"]


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write ``path`` atomically: ``write`` fills a temp file beside it, which then replaces ``path``.

    Args:
        path: The target file; its folder is created if needed.
        write: Called with the temp file's path; it writes the whole content there.

    Returns:
        The target path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return target


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def json_default(value: Any) -> Any:
    """JSON encoding of numpy scalars and arrays; anything else unknown as its ``str``."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def write_json_atomic(path: str | Path, data: Any, *, allow_nan: bool = False) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically.

    Args:
        path: The target file.
        data: JSON-able data; numpy values are converted, other unknown objects become strings.
        allow_nan: Whether NaN/inf may be written (not valid JSON); by default they raise ``ValueError``.

    Returns:
        The target path.
    """
    text = json.dumps(data, indent=2, default=json_default, allow_nan=allow_nan) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"))


def append_jsonl(path: str | Path, record: Mapping[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``path`` (created with its folder if missing).

    The line goes out in a single ``write()`` on an ``O_APPEND`` descriptor, so lines
    appended by several processes at once never interleave.

    Args:
        path: The JSON-lines file.
        record: JSON-able data; numpy values are converted, other unknown objects become strings.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, default=json_default) + "\n").encode("utf-8")
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
