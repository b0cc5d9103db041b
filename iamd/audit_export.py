"""The trail as JSON-lines files: ``iamd trail export`` and the archive of expired events.

One CloudTrail record per line, exactly as ``iamd trail --json`` prints it; a name ending in
``.gz`` is gzip-compressed. ``iamd explain --event FILE`` reads such a file back (gzip or not),
as it reads a CloudTrail ``{"Records": [...]}`` file (docs/audit.md, "Export").
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from iamd.store import AuditEvent, Store

__all__ = ["archive_events", "export_trail", "write_records"]


def _lines(write: Callable[[bytes], object], records: Iterable[str]) -> int:
    count = 0
    for record in records:
        write(record.encode("utf-8", "surrogatepass") + b"\n")
        count += 1
    return count


def write_records(path: Path, records: Iterable[str]) -> int:
    """Write ``records`` (JSON texts) to ``path``, one per line, atomically: into a temporary file
    beside it, flushed to disk, then renamed. Returns how many."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as raw:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as z:
                count = _lines(z.write, records)
        else:
            count = _lines(raw.write, records)
        raw.flush()
        os.fsync(raw.fileno())
    tmp.replace(path)
    return count


def archive_events(directory: Path, events: Sequence[AuditEvent]) -> Path:
    """The archive file of a retention step: ``audit-<first seq>-<last seq>.jsonl.gz`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    seqs = [e.sequence or 0 for e in events]
    path = directory / f"audit-{min(seqs):012d}-{max(seqs):012d}.jsonl.gz"
    write_records(path, (e.record for e in events))
    return path


def export_trail(
    store: Store, path: Path, *, since: datetime | None = None, until: datetime | None = None,
    account: str | None = None,
) -> int:  # fmt: skip
    """Every event from ``since`` (inclusive) to ``until`` (exclusive), in the order they were
    stored, written to ``path``; how many."""

    def records() -> Iterable[str]:
        after = 0
        while True:
            with store.read() as tx:
                batch = tx.scan_audit_events(after=after, start=since, end=until, account=account, limit=1000)
            if not batch:
                return
            for event in batch:
                yield event.record
            after = batch[-1].sequence or after

    return write_records(path, records())
