"""The servers under test, each its own process: ``iamd serve --dev`` and ``moto_server``.

Both are started with ``sys.executable`` (the same environment as the benchmark) so that the
process we measure (RSS, CPU time, py-spy) is the server itself, not a wrapper.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ROOT_KEY", "ROOT_SECRET", "Server", "free_port", "start_iamd", "start_moto"]

ROOT_KEY = "AKIAIOSFODNN7EXAMPLE"
ROOT_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOST = "127.0.0.1"
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    started_s: float = 0.0  # seconds from spawn to the first answered request
    extra: dict[str, str] = field(default_factory=dict)

    host: str = HOST

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def rss_kb(self) -> int:
        """VmRSS of the server process, from /proc/<pid>/status."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for {self.pid}")

    def cpu_s(self) -> float:
        """User + system CPU seconds used so far by the server process (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.process.returncode}); log:\n{self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _wait_http(server: Server, path: str, timeout: float = 60.0) -> None:
    start = time.monotonic()
    request = f"GET {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nConnection: close\r\n\r\n".encode()
    while True:
        server.check_alive()
        with contextlib.suppress(OSError), socket.create_connection((server.host, server.port), timeout=2) as sock:
            sock.sendall(request)
            if sock.recv(64).startswith(b"HTTP/1."):
                return
        if time.monotonic() - start > timeout:
            server.stop()
            raise RuntimeError(f"{server.name} did not answer within {timeout:.0f} s; log:\n{server.log_tail()}")
        time.sleep(0.05)


def _spawn(
    name: str, command: list[str], env: dict[str, str], log: Path, port: int, ready_path: str, cwd: Path | None = None
) -> Server:
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   cwd=cwd)  # fmt: skip
    server = Server(name, process, port, log)
    try:
        _wait_http(server, ready_path)
    except BaseException:
        server.stop()
        raise
    server.started_s = time.monotonic() - t0
    return server


def start_iamd(
    name: str,
    data_dir: Path,
    *,
    database: str | None = None,
    extra_env: dict[str, str] | None = None,
    source: Path | None = None,
    args: tuple[str, ...] = (),
) -> Server:
    """``python -m iamd serve --dev --port P --data-dir D [--database URL]`` with known root keys.

    ``source``: run the iamd of that source tree instead (another commit's, bench/server/baseline.py)."""
    port = free_port()
    command = [sys.executable, "-m", "iamd", "serve", "--dev", "--port", str(port), "--data-dir", str(data_dir)]
    if database:
        command += ["--database", database]
    command += list(args)
    env = {**os.environ, "IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET,
           **(extra_env or {})}  # fmt: skip
    env.pop("IAMD_DATABASE_URL", None)
    env.pop("IAMD_MASTER_KEY", None)
    if source is not None:  # after a PYTHONPATH given in extra_env (bench.loop_lag's probe)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [(extra_env or {}).get("PYTHONPATH"), str(source)]))
    return _spawn(name, command, env, data_dir.parent / f"{data_dir.name}.log", port, "/_iamd/health", cwd=source)


def start_moto(name: str, log: Path) -> Server:
    """``python -m moto.server -p P`` (moto_server) with ``INITIAL_NO_AUTH_ACTION_COUNT=0``."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    return _spawn(name, command, env, log, port, "/moto-api/")
