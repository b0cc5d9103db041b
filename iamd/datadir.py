"""The data directory is private to the user running iamd: 0700, every file in it 0600.

It holds the SQLite database (password hashes, sealed secrets, the audit trail), the
master key and the root user's credentials (docs/security.md, "Files"). A new directory is
created private; an existing one that group or others can read is made private on start,
with a log line for each path changed. Key files (``*.key``) are left alone: the master
key loader refuses one that others can read (an exposed key is to be rotated, not hidden).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["make_private"]

log = logging.getLogger("iamd.datadir")


def make_private(data_dir: Path) -> None:
    """Create ``data_dir`` (0700), or take group and other access off it and everything in it."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _restrict(data_dir)
    for root, dirs, files in os.walk(data_dir):
        for name in dirs:
            _restrict(Path(root, name))
        for name in files:
            if not name.endswith(".key"):
                _restrict(Path(root, name))


def _restrict(path: Path) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:  # removed meanwhile (SQLite's -shm, a temporary file)
        return
    if stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
        return
    old = stat.S_IMODE(info.st_mode)
    new = old & ~0o077
    os.chmod(path, new)
    log.warning("iamd: %s was open to group or others (mode %04o); it is now %04o", path, old, new)
