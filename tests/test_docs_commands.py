"""The commands of README.md and docs/*.md work as written.

Every ``console`` code block is read: each ``$ `` line (with its ``\\`` continuation lines) is a
command, the lines under it up to the next ``$ `` are its shown output; a block without any
``$ `` line is a list of bare commands (the quick start). Each command runs as written in one
bash per document, in order (so ``account=$(…)`` and ``eval "$(iamd assume …)"`` carry over),
with a real ``iamd serve`` on a free loopback port whose data directory is ``IAMD_DATA_DIR``,
HOME in a temporary directory (``~/.aws`` of the test's own), no AWS variables, and a working
directory laid out like the clone (``.venv``, ``examples``, ``docs``). Only the environment
differs from a reader's shell; no command is edited. A command must exit with the status the
docs give it (0 unless listed below) and, where the docs show output, print exactly that
(``…`` stands for any text within a line; runs of blanks compare equal).

Commands that cannot run here are in ``SKIPPED``, each with its reason; a command neither run
nor skipped cannot exist.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.api.server import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [p for p in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))) if "```console" in p.read_text()]
VENV_BIN = Path(sys.prefix) / "bin"

SKIPPED: dict[str, str] = {
    # regex searched in the command -> why it is not run here
    r"pip install": "installs packages: CI runs the quick start's install itself, and the test "
    "environment has awscli and boto3 from the test extra",
    r"-m pytest": "the test suite itself (the quick start's second command, which CI runs)",
}
EXIT_STATUS: dict[str, int] = {
    # regex fully matching the command -> its documented exit status, when not 0
    r"(\.venv/bin/)?iamd policy eval examples/s3-denied\.json": 1,  # 1: denied (README, offline-evaluation.md)
    r"(\.venv/bin/)?iamd policy validate --type identity examples/bad-policy\.json": 1,  # 1: invalid
    # 255: the AWS CLI's status for an error answered by the service (organizations.md, an SCP's denial)
    r"aws iam create-user --user-name org-carol": 255,
}


@dataclass
class Command:
    document: str
    line: int
    text: str
    shown: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.document}:{self.line}: $ {self.text}"


def console_commands(path: Path) -> list[Command]:
    """The commands of the ``console`` blocks of ``path``, in order."""
    commands: list[Command] = []
    block: list[tuple[int, str]] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if block is None:
            if line.strip() == "```console":
                block = []
            continue
        if line.strip() == "```":
            commands += _block_commands(path.name, block)
            block = None
            continue
        block.append((number, line))
    assert block is None, f"{path.name}: a console block is not closed"
    return commands


def _block_commands(document: str, block: list[tuple[int, str]]) -> list[Command]:
    prompted = any(line.startswith("$ ") for _, line in block)
    commands: list[Command] = []
    current: Command | None = None
    continued = False
    for number, line in block:
        if continued and current is not None:
            current.text += "\n" + line
        elif prompted and line.startswith("$ "):
            current = Command(document, number, line[2:])
            commands.append(current)
        elif not prompted and line.strip() and not line.lstrip().startswith("#"):
            current = Command(document, number, line)  # a block of bare commands
            commands.append(current)
        elif prompted and current is not None:
            current.shown.append(line)
        continued = current is not None and line.endswith("\\") and not current.shown
    return commands


def skip_reason(command: Command) -> str | None:
    return next((why for pattern, why in SKIPPED.items() if re.search(pattern, command.text)), None)


def expected_status(command: Command) -> int:
    text = re.sub(r"\s+#.*$", "", command.text).strip()
    return next((status for pattern, status in EXIT_STATUS.items() if re.fullmatch(pattern, text)), 0)


def _normalized(lines: list[str]) -> list[str]:
    out = [re.sub(r"\s+", " ", line).strip() for line in lines]
    while out and not out[-1]:
        out.pop()
    return out


def output_matches(shown: list[str], printed: str) -> bool:
    want, got = _normalized(shown), _normalized(printed.splitlines())
    if len(want) != len(got):
        return False
    for pattern, line in zip(want, got, strict=True):
        regex = ".*?".join(re.escape(part) for part in pattern.split("…"))
        if not re.fullmatch(regex, line):
            return False
    return True


def test_the_commands_are_found() -> None:
    """The reader's path through the README is all there: a guard against an extractor finding nothing."""
    readme = [c.text for c in console_commands(ROOT / "README.md")]
    for expected in ("iamd profile", "iamd assume Deployer --profile bob", "iamd key rotate alice", "iamd trail"):
        assert any(expected in text for text in readme), expected
    assert any(skip_reason(c) for c in console_commands(ROOT / "README.md"))  # the quick start, listed and skipped


@dataclass
class Place:
    """A reader's machine in miniature: the clone's layout, a HOME, a running server."""

    cwd: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    if sys.prefix == sys.base_prefix or not (VENV_BIN / "aws").exists():
        pytest.skip("the docs' commands need the tests to run in a venv with the test extra (awscli)")
    base = tmp_path_factory.mktemp("docs")
    cwd, home, data = base / "clone", base / "home", base / "data"
    for d in (cwd, home):
        d.mkdir()
    (cwd / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    for name in ("examples", "docs"):
        (cwd / name).symlink_to(ROOT / name, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMD_", "VIRTUAL_ENV"))}
    env.update({
        "HOME": str(home), "IAMD_DATA_DIR": str(data), "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "AWS_EC2_METADATA_DISABLED": "true", "COLUMNS": "100", "PYTHONWARNINGS": "ignore",
    })  # fmt: skip
    port = free_port()
    log = (base / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(VENV_BIN / "iamd"), "serve", "--port", str(port)], cwd=cwd, env=env, stdout=log, stderr=log
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/_iamd/health", server, base / "serve.log")
        yield Place(cwd, env)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _wait_for(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 300  # liveness only: a server that has not answered by then is stuck
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"iamd serve exited {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"iamd serve did not answer in 60 s:\n{log.read_text()}")


def _run_in_one_shell(commands: list[Command], place: Place) -> list[tuple[int, str]]:
    """Run the commands in one bash, in order; each one's exit status and output (stdout and stderr)."""
    script = ["exec 2>&1"]
    for i, command in enumerate(commands):
        script += [f"printf '\\n@@begin {i}@@\\n'", command.text, f"printf '\\n@@end {i} %s@@\\n' \"$?\""]
    done = subprocess.run(
        ["bash", "--noprofile", "--norc"], input="\n".join(script) + "\n", cwd=place.cwd, env=place.env,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    results = []
    for i, command in enumerate(commands):
        found = re.search(rf"\n@@begin {i}@@\n(.*?)\n@@end {i} (\d+)@@\n", done.stdout, re.DOTALL)
        assert found is not None, f"{command} did not finish; the shell printed:\n{done.stdout[-3000:]}"
        results.append((int(found.group(2)), found.group(1).rstrip("\n")))
    return results


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_console_commands_work_as_written(document: Path, place: Place) -> None:
    commands = [c for c in console_commands(document) if skip_reason(c) is None]
    if not commands:
        pytest.skip(f"{document.name} shows no command that runs here")
    problems = []
    for command, (status, printed) in zip(commands, _run_in_one_shell(commands, place), strict=True):
        if status != expected_status(command):
            problems.append(f"{command}\n  exit status {status}, expected {expected_status(command)}:\n{printed}")
        elif command.shown and not output_matches(command.shown, printed):
            shown = "\n".join(command.shown)
            problems.append(f"{command}\n  printed:\n{printed}\n  the docs show:\n{shown}")
    assert not problems, "\n\n".join(problems)
