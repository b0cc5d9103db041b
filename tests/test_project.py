"""The project's promises to a newcomer, and its quality gates."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _quick_start() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quick start", 1)[1].split("```console", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_quick_start_has_two_commands_and_ci_runs_the_test_one() -> None:
    commands = _quick_start()
    assert len(commands) == 2
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _closure(name: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """The distributions ``name[extras]`` needs as installed here, by normalized name."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [(name, extras)]
    while todo:
        dist, wanted = todo.pop()
        try:
            needs = requires(dist) or []
        except PackageNotFoundError:  # an optional dependency this platform does not install
            continue
        for text in needs:
            req = Requirement(text)
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in (wanted or {""})):
                continue
            key = canonicalize_name(req.name)
            if key not in seen:
                seen.add(key)
                todo.append((req.name, frozenset(req.extras)))
    return seen


def test_installs_are_pinned_by_constraints() -> None:
    """Both quick-start commands install with constraints.txt, which pins every package the test
    and bench extras pull in."""
    from packaging.utils import canonicalize_name

    assert all(" -c constraints.txt " in command for command in _quick_start())
    pinned = {
        canonicalize_name(line.split("==")[0])
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    }
    unpinned = _closure("iamd", frozenset({"test", "bench"})) - pinned - {"iamd"}
    assert not unpinned, f"not in constraints.txt (run scripts/update-constraints): {sorted(unpinned)}"


def test_readme_examples_work() -> None:
    exe = [sys.executable, "-m", "iamd"]
    allowed = subprocess.run([*exe, "policy", "eval", "examples/s3-read.json"], cwd=ROOT, capture_output=True)
    assert allowed.returncode == 0, allowed.stderr
    denied = subprocess.run(
        [*exe, "policy", "eval", "examples/s3-denied.json"], cwd=ROOT, capture_output=True, text=True
    )
    assert denied.returncode == 1
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    message = re.search(r'"message": "([^"]+)"', denied.stdout)
    assert message is not None and message.group(1) in readme
    invalid = subprocess.run(
        [*exe, "policy", "validate", "examples/bad-policy.json"], cwd=ROOT, capture_output=True, text=True
    )
    assert invalid.returncode == 1
    for line in invalid.stdout.splitlines():
        assert line in readme


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "iamd", "tests", "bench"],
        ["ruff", "format", "--check", "iamd", "tests", "bench"],
        ["mypy", "iamd"],
    ],
    ids=["ruff", "ruff-format", "mypy-strict"],
)
def test_quality_gates(command: list[str]) -> None:
    tool = shutil.which(command[0], path=str(Path(sys.executable).parent)) or shutil.which(command[0])
    assert tool, f"{command[0]} must be installed (it is in the 'test' extra)"
    result = subprocess.run([tool, *command[1:]], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
