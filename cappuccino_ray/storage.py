"""Results on shared storage: plain paths and ``file://``, ``s3://``, ``gs://`` URIs, through ``pyarrow.fs``.

A *location* is a string: an absolute local path, or a URI. ``pyarrow.fs`` is what
Ray Tune itself uses for ``storage_path``, so the Tune experiments, the trials'
checkpoints and this project's own documents (the phase files, the report, the
hold-out series) all live under the same root, and a run on a cluster writes
nothing on the head's disk. S3 credentials come the usual AWS ways (an instance
profile, ``AWS_*`` variables); ``AWS_ENDPOINT_URL`` points at an S3-compatible
server (MinIO, moto), as pyarrow reads it itself. GCS uses Google's default
credentials.

Code that needs a local folder (torch loading a checkpoint, the HTML report)
asks for :func:`local_copy`, which downloads a remote folder into a temporary one.
Local paths are never copied, and local writes stay atomic (:mod:`cappuccino_ray.atomic`).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cappuccino_ray.atomic import json_default, write_bytes_atomic, write_json_atomic
from cappuccino_ray.errors import ConfigError, DataError

__all__ = [
    "Location",
    "absolute",
    "basename",
    "child",
    "download_dir",
    "is_dir",
    "is_file",
    "is_remote",
    "is_uri",
    "join",
    "list_dirs",
    "list_files",
    "local_copy",
    "local_dir",
    "location",
    "read_bytes",
    "resolve",
    "to_uri",
    "write_bytes",
    "write_json",
]

_SCHEMES = ("file", "s3", "gs", "gcs")

#: A local folder or file (``Path``), or a remote one (a URI string).
Location = str | Path


def is_uri(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a URI (``scheme://...``) rather than a plain path."""
    return "://" in str(location)


def is_remote(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is on remote storage (a URI other than ``file://``)."""
    return is_uri(location) and not str(location).startswith("file://")


def location(value: str | os.PathLike[str]) -> Location:
    """``value`` as a :data:`Location`: an absolute ``Path`` when local (``file://`` too), else the URI."""
    loc = absolute(value)
    return loc if is_remote(loc) else Path(loc)


def child(parent: Location, *parts: str) -> Location:
    """``parent`` joined with ``parts``, of the same kind (a ``Path`` stays a ``Path``)."""
    if isinstance(parent, Path):
        return parent.joinpath(*parts)
    if is_remote(parent):
        return join(parent, *parts)
    return Path(absolute(parent)).joinpath(*parts)


def basename(location: str | os.PathLike[str]) -> str:
    """The last part of ``location`` (a run folder's name)."""
    return str(location).rstrip("/").rsplit("/", 1)[-1]


def absolute(location: str | os.PathLike[str]) -> str:
    """``location`` with a plain or ``file://`` path made absolute (against the working directory).

    Raises:
        ConfigError: On a scheme other than ``file``, ``s3``, ``gs``/``gcs``.
    """
    text = str(location)
    if not is_uri(text):
        return str(Path(text).expanduser().absolute())
    scheme = text.split("://", 1)[0].lower()
    if scheme not in _SCHEMES:
        raise ConfigError(
            f"{text}: unsupported storage scheme {scheme!r}; use a path, file://, s3:// or gs://"
        )
    if scheme == "file":
        return str(Path(text[len("file://") :]).absolute())
    return text.rstrip("/")


def resolve(location: str | os.PathLike[str]) -> tuple[Any, str]:
    """The ``pyarrow.fs`` filesystem of ``location`` and the path on it.

    Raises:
        ConfigError: If the URI cannot be opened (unknown scheme, bad bucket name).
    """
    import pyarrow.fs as pafs

    loc = absolute(location)
    if not is_uri(loc):
        return pafs.LocalFileSystem(), loc
    try:
        fs, path = pafs.FileSystem.from_uri(loc)
    except (OSError, ValueError) as exc:  # ArrowInvalid is a ValueError
        raise ConfigError(f"{loc}: cannot open this storage URI ({exc})") from exc
    return fs, path


def to_uri(filesystem: Any, path: str) -> str:
    """A location string for ``path`` on ``filesystem`` (e.g. a Tune checkpoint's ``filesystem``/``path``)."""
    kind = getattr(filesystem, "type_name", "local")
    if kind == "local" or filesystem is None:
        return path
    scheme = {"s3": "s3", "gcs": "gs"}.get(kind, kind)
    return f"{scheme}://{path.lstrip('/')}"


def join(location: str | os.PathLike[str], *parts: str) -> str:
    """``location`` with ``parts`` appended (``/`` for URIs, ``os.path.join`` for paths)."""
    text = str(location)
    if is_uri(text):
        return "/".join([text.rstrip("/"), *(p.strip("/") for p in parts)])
    return os.path.join(text, *parts)


def _info(location: str | os.PathLike[str]) -> Any:
    fs, path = resolve(location)
    return fs.get_file_info(path)


def is_file(location: str | os.PathLike[str]) -> bool:
    """Whether a file is at ``location``."""
    import pyarrow.fs as pafs

    return bool(_info(location).type == pafs.FileType.File)


def is_dir(location: str | os.PathLike[str]) -> bool:
    """Whether a folder (an object prefix, on object stores) is at ``location``."""
    import pyarrow.fs as pafs

    return bool(_info(location).type == pafs.FileType.Directory)


def list_dirs(location: str | os.PathLike[str], pattern: str = "*") -> list[str]:
    """Names of the folders directly in ``location`` that match ``pattern`` (sorted; none if absent)."""
    import pyarrow.fs as pafs

    fs, path = resolve(location)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    names = (i.base_name for i in infos if i.type == pafs.FileType.Directory)
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def list_files(location: str | os.PathLike[str], pattern: str = "*") -> list[str]:
    """Names of the files directly in ``location`` that match ``pattern`` (sorted; none if absent)."""
    import pyarrow.fs as pafs

    fs, path = resolve(location)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    names = (i.base_name for i in infos if i.type == pafs.FileType.File)
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def read_bytes(location: str | os.PathLike[str]) -> bytes | None:
    """The bytes of the file at ``location``, or ``None`` when there is none."""
    if not is_file(location):
        return None
    fs, path = resolve(location)
    with fs.open_input_stream(path) as fh:
        return bytes(fh.read())


def write_bytes(location: str | os.PathLike[str], data: bytes) -> str:
    """Write ``data`` to ``location`` (atomically on local disks; an object store's PUT is atomic)."""
    if not is_remote(location):
        return str(write_bytes_atomic(absolute(location), data))
    fs, path = resolve(location)
    with fs.open_output_stream(path) as fh:
        fh.write(data)
    return str(location)


def write_json(location: str | os.PathLike[str], data: Any) -> str:
    """Write ``data`` as indented JSON to ``location`` (numpy values converted; NaN refused)."""
    if not is_remote(location):
        return str(write_json_atomic(absolute(location), data))
    text = json.dumps(data, indent=2, default=json_default, allow_nan=False) + "\n"
    return write_bytes(location, text.encode("utf-8"))


def download_dir(location: str | os.PathLike[str], dest: str | Path, *, exclude: Sequence[str] = ()) -> Path:
    """Copy the folder at ``location`` into the local folder ``dest``, skipping names matching ``exclude``.

    Raises:
        DataError: If nothing is at ``location``.
    """
    import pyarrow.fs as pafs

    fs, path = resolve(location)
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        raise DataError(f"{location}: no such folder; check the storage URI")
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    prefix = path.rstrip("/") + "/"
    for info in fs.get_file_info(pafs.FileSelector(path, recursive=True)):
        rel = info.path[len(prefix) :]
        if any(fnmatch.fnmatch(part, pat) for part in rel.split("/") for pat in exclude):
            continue
        target = out / rel
        if info.type == pafs.FileType.Directory:
            target.mkdir(parents=True, exist_ok=True)
        elif info.type == pafs.FileType.File:
            target.parent.mkdir(parents=True, exist_ok=True)
            with fs.open_input_stream(info.path) as src:
                target.write_bytes(src.read())
    return out


@contextlib.contextmanager
def local_copy(location: str | os.PathLike[str], *, exclude: Sequence[str] = ()) -> Iterator[Path]:
    """A local folder with the content of ``location``: the folder itself when local, else a temp copy.

    The temporary copy is removed on exit.
    """
    if not is_remote(location):
        yield Path(absolute(location))
        return
    with tempfile.TemporaryDirectory(prefix="cappuccino_storage_") as tmp:
        name = str(location).rstrip("/").rsplit("/", 1)[-1]
        yield download_dir(location, Path(tmp) / name, exclude=exclude)


def local_dir(location: str | os.PathLike[str]) -> str:
    """A local path for the folder at ``location``: itself when local, else a cached download.

    For readers that must keep a path beyond a ``with`` block (a trial's warm start,
    loaded by a library from a path): the copy lives in the temp dir, one per URI and
    process, and is reused by the trials a reused actor runs.
    """
    if not is_remote(location):
        return absolute(location)
    key = hashlib.sha256(str(location).encode()).hexdigest()[:16]
    dest = Path(tempfile.gettempdir()) / f"cappuccino_ckpt_{os.getpid()}_{key}"
    if not dest.is_dir():
        tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
        download_dir(location, tmp)
        try:
            tmp.rename(dest)
        except OSError:  # another thread of this process got there first
            pass
    return str(dest)
