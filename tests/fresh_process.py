"""Run a script in a new Python process with this tree first on its path: for what a module
imports (only a process of its own starts with an empty ``sys.modules``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_fresh(script: str) -> str:
    """The script's standard output; its failure (with its standard error) fails the test."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout
