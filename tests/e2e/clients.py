"""Real AWS clients run as subprocesses in an isolated environment, for the e2e tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
AWS = BIN / "aws"
TIMEOUT = 60


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment that reads nothing from the user's ~/.aws or AWS_* variables.

    Starts from PATH alone, so a developer's AWS_PROFILE, AWS_ACCESS_KEY_ID or
    AWS_ENDPOINT_URL cannot leak in; AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE point
    into the test's directory (and HOME too, for anything else that looks under ~).
    """
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_PAGER": "",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.update(extra)
    return env


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, self.describe()
        return json.loads(self.stdout) if self.stdout.strip() else None

    def describe(self) -> str:
        return f"$ {' '.join(self.args)}\nexit {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"


@dataclass
class AwsCli:
    """The `aws` executable of this venv, pointed at one server with one identity at a time."""

    home: Path
    endpoint: str | None
    keys: tuple[str, str] | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def as_(self, access_key_id: str, secret_access_key: str) -> AwsCli:
        return AwsCli(self.home, self.endpoint, (access_key_id, secret_access_key), self.extra)

    def env(self) -> dict[str, str]:
        extra = dict(self.extra)
        if self.endpoint is not None:
            extra["AWS_ENDPOINT_URL"] = self.endpoint
            extra["AWS_DEFAULT_REGION"] = "us-east-1"
        if self.keys is not None:
            extra["AWS_ACCESS_KEY_ID"], extra["AWS_SECRET_ACCESS_KEY"] = self.keys
        return isolated_env(self.home, **extra)

    def run(self, *args: str) -> Result:
        argv = [str(AWS), *args]
        done = subprocess.run(
            argv, env=self.env(), capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
        )
        return Result(argv, done.returncode, done.stdout, done.stderr)

    def __call__(self, *args: str) -> Any:
        """Run a command that must succeed (`--output json`); its parsed output."""
        return self.run(*args, "--output", "json").json()
