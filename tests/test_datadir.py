"""The data directory is private: 0700, every file in it 0600 (iamd.datadir, docs/security.md)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from iamd.api import Backend

ENV = {"IAMD_ROOT_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "IAMD_ROOT_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bP"}


def _modes(data_dir: Path) -> dict[str, int]:
    modes = {".": stat.S_IMODE(data_dir.stat().st_mode)}
    for path in data_dir.rglob("*"):
        modes[str(path.relative_to(data_dir))] = stat.S_IMODE(path.lstat().st_mode)
    return modes


def _open(data_dir: Path, account: str = "210987654321") -> Backend:
    backend, _ = Backend.open(f"sqlite:///{data_dir / 'iamd.db'}", data_dir, dev=True, env=ENV)
    with backend.store.transaction() as tx:  # a write: the -wal file exists
        tx.create_account(account)
    return backend


def test_a_new_data_directory_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: files 0644, directories 0755 unless told otherwise
    try:
        data_dir = tmp_path / "data"
        backend = _open(data_dir)
        try:
            modes = _modes(data_dir)
        finally:
            backend.close()
    finally:
        os.umask(old)
    assert {"iamd.db", "iamd.db-wal", "iamd.db-shm", "master.key", "root-credentials"} <= modes.keys()
    assert modes["."] == 0o700
    assert {name: mode for name, mode in modes.items() if mode & 0o077} == {}


def test_an_open_data_directory_is_made_private_on_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data_dir = tmp_path / "data"
    _open(data_dir).close()
    data_dir.chmod(0o755)
    for name in ("iamd.db", "root-credentials"):
        (data_dir / name).chmod(0o644)
    (data_dir / "notes.txt").write_text("x")
    (data_dir / "notes.txt").chmod(0o664)
    with caplog.at_level(logging.WARNING, logger="iamd.datadir"):
        backend = _open(data_dir, "210987654322")
    try:
        modes = _modes(data_dir)
    finally:
        backend.close()
    assert modes["."] == 0o700
    assert modes["iamd.db"] == modes["root-credentials"] == modes["notes.txt"] == 0o600
    assert {name: mode for name, mode in modes.items() if mode & 0o077} == {}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"{data_dir} was open to group or others (mode 0755); it is now 0700" in logged
    assert f"{data_dir / 'iamd.db'} was open to group or others (mode 0644); it is now 0600" in logged
