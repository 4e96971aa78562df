"""Where the config folder is, and what a relative path in a config file is relative to.

The default configs ship inside the package (``cappuccino_ray/configs/``, the same
files as the repository's top-level ``configs/``: a test keeps them byte-identical),
so a script copied alone to a node, or a command run from any folder, finds them.
The config folder of a command is, in this order:

1. ``--config DIR`` (relative to the working directory), when given;
2. ``./configs`` in the working directory, when it holds ``phase1.yaml`` (the repository
   root, or a copy of the defaults a user edits);
3. the packaged defaults.

A relative path *inside* a config file (``store_dir: ../data/store``) is relative to
that file's folder, so a config folder means the same wherever the command runs.
The packaged defaults stand in for ``./configs``: their relative paths resolve
against ``<working directory>/configs``, never into the installed package.
A leading ``~`` is expanded. Paths given on the command line are relative to the
working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PACKAGED_CONFIG_DIR", "find_config_dir", "path_base", "resolve_config_path"]

#: The default configs shipped as package data.
PACKAGED_CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
_MARKER = "phase1.yaml"


def find_config_dir(arg: str | Path | None = None) -> Path:
    """The config folder a command uses (see the module docstring for the order).

    Args:
        arg: The ``--config`` value, or ``None`` when not given.

    Returns:
        An absolute folder (it may not exist when ``arg`` names a missing one; loading then
        fails with a message naming the file).
    """
    if arg is not None:
        return Path(arg).expanduser().absolute()
    local = Path.cwd() / "configs"
    if (local / _MARKER).exists():  # a broken phase1.yaml is reported, not silently replaced
        return local
    return PACKAGED_CONFIG_DIR


def path_base(config_file: str | Path) -> Path:
    """The folder a relative path written in ``config_file`` is relative to."""
    folder = Path(config_file).expanduser().absolute().parent
    try:
        inside = folder.resolve().relative_to(PACKAGED_CONFIG_DIR)
    except ValueError:
        return folder
    return Path.cwd() / "configs" / inside


def resolve_config_path(value: str, config_file: str | Path) -> str:
    """``value`` (a path written in ``config_file``) made absolute; URIs (``s3://...``) are kept."""
    if "://" in value:
        return value
    p = Path(os.path.expanduser(value))
    return os.path.normpath(p if p.is_absolute() else path_base(config_file) / p)
