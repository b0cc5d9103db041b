"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl on a free loopback port.

PostgreSQL refuses to run as root; as root the cluster belongs to the ``postgres`` system
user (Debian's ``postgresql`` package creates it) and its commands run through
``runuser -u postgres --``. Binaries come from PATH or ``/usr/lib/postgresql/*/bin``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresCluster", "PostgresUnavailable", "find_bindir", "start_cluster"]

SERVER_SETTINGS = ("listen_addresses=127.0.0.1", "max_connections=100")
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
"""Throwaway data needs no durability; benchmarks pass ``durable=True`` to keep it."""


class PostgresUnavailable(Exception):
    """PostgreSQL cannot be started here; the message says why and how to fix it."""


def find_bindir() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    bindir: Path
    root: Path
    port: int
    run_as: str | None
    durable: bool = False

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        log = self.root / "commands.log"
        with log.open("a") as out:
            result = subprocess.run(
                command, cwd=self.root, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, text=True
            )
        if result.returncode != 0:
            server_log = self.root / "server.log"
            tail = server_log.read_text(errors="replace")[-2000:] if server_log.exists() else ""
            raise PostgresUnavailable(
                f"{' '.join(command)} failed ({result.returncode}):\n{log.read_text(errors='replace')[-2000:]}\n{tail}"
            )
        return result

    def start(self) -> None:
        self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "--encoding=UTF8")
        settings = SERVER_SETTINGS if self.durable else SERVER_SETTINGS + FAST_SETTINGS
        options = " ".join(f"-c {setting}" for setting in settings)
        options += f" -p {self.port} -k {self.root}"
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        with contextlib.suppress(PostgresUnavailable):
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(*, durable: bool = False) -> PostgresCluster:
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            "no initdb/pg_ctl on PATH or under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        )
    run_as = None
    root = Path(tempfile.mkdtemp(prefix="iamd-pg-"))
    if os.geteuid() == 0:
        try:
            pg_user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            raise PostgresUnavailable(
                "running as root and there is no 'postgres' system user to run the server "
                "(apt-get install postgresql creates it, or: useradd --system postgres)"
            ) from None
        os.chown(root, pg_user.pw_uid, pg_user.pw_gid)
        run_as = "postgres"
    cluster = PostgresCluster(bindir=bindir, root=root, port=_free_port(), run_as=run_as, durable=durable)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster
