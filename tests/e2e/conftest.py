"""Fixtures for end-to-end tests: a real iamd on a loopback port, driven by real AWS clients
(the AWS CLI and the AWS SDK for JavaScript) run as subprocesses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.server import RunningServer, running_server

from .clients import AWS, AwsCli


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with running_server(data_dir) as running:
        yield running


@pytest.fixture
def aws_cli() -> Path:
    if not AWS.exists():
        pytest.fail(f"{AWS} not found: install the test extra (pip install -e '.[test]'), which brings awscli")
    return AWS


@pytest.fixture
def root_cli(aws_cli: Path, server: RunningServer, tmp_path: Path) -> AwsCli:
    return AwsCli(tmp_path / "home", server.endpoint, (server.root_key, server.root_secret))
