"""``iamd serve`` as a command: how it starts and how it refuses to."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def test_a_busy_port_is_one_plain_error_before_anything_is_announced(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "iamd", "serve", "--dev", "--port", str(port), "--data-dir", str(tmp_path / "d")],
            capture_output=True, text=True, timeout=60, env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"iamd: port {port} on 127.0.0.1 is already in use (another iamd serve?); "
        "stop it or choose another port with --port"
    ]
    assert not (tmp_path / "d").exists()  # nothing opened, nothing created
