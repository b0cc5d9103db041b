"""The audit trail's budget: how long it is kept, how large it may grow, which reads it keeps.

``iamd serve --audit-retention 90d --audit-max-size 1GiB --audit-archive DIR --audit-reads
sample:10`` (docs/audit.md). Nothing here runs on the request path but
:meth:`ReadSampling.keep`; retention runs in the audit writer (thread or child process), in
small transactions between batches (:class:`Retention`).

Defaults: keep everything, keep every read. A trail that deletes or drops events does so only
because the operator said so.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from iamd.store import Store

__all__ = ["AuditBudget", "ReadSampling", "Retention", "parse_age", "parse_reads", "parse_size"]

log = logging.getLogger("iamd.audit")

_AGE = re.compile(r"([0-9]{1,6})([dhm])")
_SIZE = re.compile(r"([0-9]{1,12})(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?")
_UNITS = {None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}  # fmt: skip
_OFF = ("", "off", "forever", "none")


def parse_age(text: str) -> timedelta | None:
    """``90d``, ``12h``, ``30m``; ``off`` (keep for ever) is None."""
    if text.strip().lower() in _OFF:
        return None
    m = _AGE.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"not an age: {text!r} (e.g. 90d, 12h, off)")
    n, unit = int(m.group(1)), m.group(2)
    age = timedelta(days=n) if unit == "d" else timedelta(hours=n) if unit == "h" else timedelta(minutes=n)
    if age <= timedelta(0):
        raise ValueError("the retention age must be more than 0")
    return age


def parse_size(text: str) -> int | None:
    """``1GiB``, ``500MB``, ``1048576``; ``off`` (no limit) is None."""
    if text.strip().lower() in _OFF:
        return None
    m = _SIZE.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"not a size: {text!r} (e.g. 1GiB, 500MB, off)")
    size = int(m.group(1)) * _UNITS[m.group(2)]
    if size < 2**20:
        raise ValueError("the trail's size limit must be at least 1 MiB")
    return size


def parse_reads(text: str) -> int:
    """``all`` → 1 (every read kept), ``sample:N`` → N (one read in N), ``none`` → 0."""
    value = text.strip().lower()
    if value == "all":
        return 1
    if value == "none":
        return 0
    if value.startswith("sample:") and value[7:].isdigit() and 1 <= int(value[7:]) <= 1_000_000:
        return int(value[7:])
    raise ValueError(f"not a read policy: {text!r} (all, sample:N, none)")


@dataclass(frozen=True, slots=True)
class AuditBudget:
    """What ``iamd serve`` was told about the trail (docs/audit.md)."""

    max_age: timedelta | None = None  # --audit-retention
    max_bytes: int | None = None  # --audit-max-size
    archive: Path | None = None  # --audit-archive: expired events go there before they are deleted
    reads: int = 1  # --audit-reads: 1 all, N one in N, 0 none

    @property
    def retains(self) -> bool:
        return self.max_age is not None or self.max_bytes is not None


class ReadSampling:
    """Which successful read events the trail keeps: all, one in N, or none.

    Only successful reads (read-only events without an error) are ever left out: denials,
    failures, refused credentials and every write are stored whatever the setting — the
    writer is only handed those through :meth:`keep` (docs/audit.md, "Reads").
    """

    def __init__(self, every: int) -> None:
        self.every = every
        self._count = itertools.count()

    def keep(self) -> bool:
        """Whether to keep the next successful read event (a counter: exactly one in N)."""
        if self.every == 1:
            return True
        if self.every == 0:
            return False
        return next(self._count) % self.every == 0


class Retention:
    """Deletes what is past the budget, oldest first, a few hundred events at a time.

    Called by the audit writer between batches (:meth:`run`); each step is one read of the
    oldest events and one small delete transaction, so it never holds the database for long.
    With ``archive``, the events of a step are written to a gzip JSON-lines file there
    (:func:`iamd.audit_export.write_records`) before they are deleted: an event deleted is
    always archived first; one archived may be archived again if the process stops between
    the two (each line carries its eventID).
    """

    BATCH = 500
    IDLE_RECHECK = 10.0  # seconds between checks while nothing is due
    SIZE_RECHECK = 60.0  # seconds between measures of the trail's size
    STEP_TIME = 0.05  # seconds of work per run at most

    def __init__(
        self, store: Store, budget: AuditBudget, *, clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self._store = store
        self._budget = budget
        self._clock = clock or (lambda: datetime.now(UTC))
        self._monotonic = monotonic
        self._next_check = 0.0
        self._next_size = 0.0
        self._over = 0  # events still to delete for the size limit
        self.deleted = 0
        self.archived = 0

    def run(self) -> int:
        """Steps until nothing is due or :data:`STEP_TIME` is spent; the events deleted."""
        now = self._monotonic()
        if now < self._next_check:
            return 0
        done = 0
        deadline = now + self.STEP_TIME
        while True:
            try:
                n = self.step()
            except Exception:
                log.exception("audit retention failed; trying again later")
                n = 0
            done += n
            if n == 0:
                self._next_check = self._monotonic() + self.IDLE_RECHECK
                return done
            if self._monotonic() >= deadline:
                return done

    def _measure(self) -> None:
        max_bytes = self._budget.max_bytes
        if max_bytes is None or self._monotonic() < self._next_size:
            return
        self._next_size = self._monotonic() + self.SIZE_RECHECK
        events, size = self._store.audit_size()
        if size > max_bytes and events:
            per_event = size / events
            self._over = math.ceil((size - 0.9 * max_bytes) / per_event)  # down to 90 %: not at every event
            log.info("audit trail %d bytes over its %d byte limit: deleting its %d oldest events",
                     size - max_bytes, max_bytes, self._over)  # fmt: skip

    def step(self) -> int:
        """One step: the oldest events past the age or size limit archived (if so configured)
        and deleted; how many (0: nothing is due)."""
        self._measure()
        oldest = self._store.oldest_audit_events(self.BATCH)
        if not oldest:
            self._over = 0
            return 0
        due = []
        cutoff = self._clock() - self._budget.max_age if self._budget.max_age is not None else None
        for i, event in enumerate(oldest):
            if i < self._over or (cutoff is not None and event.event_time < cutoff):
                due.append(event)
        if not due:
            return 0
        if self._budget.archive is not None:
            from iamd.audit_export import archive_events

            archive_events(self._budget.archive, due)
            self.archived += len(due)
        deleted = self._store.delete_audit_events([e.sequence for e in due if e.sequence is not None])
        self._over = max(0, self._over - len(due))
        self.deleted += deleted
        return len(due)
