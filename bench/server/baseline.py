"""Another commit's iamd beside the working tree's, for benchmarks that print "new / old".

``checkout(ref)`` exports ``ref`` (default ``main``) with ``git archive`` into a temporary
directory; a server or a script started with that directory as its working directory and
``PYTHONPATH`` imports that commit's ``iamd`` (and ``bench``) instead of the installed one,
with the same virtual environment's dependencies. Both are then measured in the same run,
in turns, so that the machine's load weighs on both alike.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

__all__ = ["ROOT", "checkout", "python_in"]

ROOT = Path(__file__).resolve().parents[2]


def checkout(ref: str = "main") -> Path:
    """The source tree of ``ref`` in a new temporary directory (the caller removes it)."""
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=True).stdout
    target = Path(tempfile.mkdtemp(prefix=f"iamd-{ref.replace('/', '-')}-"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def python_in(source: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` run against ``source``'s iamd (None: the working tree's)."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    return subprocess.run([sys.executable, *args], cwd=source or ROOT, env=env, capture_output=True, text=True)
