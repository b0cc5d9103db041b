"""Policy history retention (docs/troubleshooting.md, "History retention").

``iamd serve --history-retention 365d`` (or ``IAMD_HISTORY_RETENTION``) keeps the policy
history of the last 365 days: at start-up and then once a day, the store forgets what only a
replay of an older event would need (:meth:`iamd.store.Tx.prune_policy_history`). The default,
``keep``, keeps everything. ``iamd db prune-history --older-than 365d`` does the same once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from iamd.store import Store

__all__ = ["PERIOD", "parse_retention", "prune", "start"]

PERIOD = timedelta(days=1)
_UNITS = {"d": 86_400, "h": 3_600, "w": 7 * 86_400, "y": 365 * 86_400}
_MAX = timedelta(days=100 * 365)


def parse_retention(text: str) -> timedelta | None:
    """``keep`` (None: keep everything) or an age: ``365d``, ``52w``, ``1y``, ``48h``. ValueError otherwise."""
    value = text.strip().lower()
    if value in ("keep", "forever", ""):
        return None
    unit = value[-1:]
    number = value[:-1]
    if unit not in _UNITS or not number.isdigit() or len(number) > 6 or int(number) < 1:
        raise ValueError(f"{text!r}: write keep, or an age such as 365d, 52w, 1y or 48h")
    age = timedelta(seconds=int(number) * _UNITS[unit])
    if age > _MAX:
        raise ValueError(f"{text!r}: at most 100 years")
    return age


def prune(store: Store, keep: timedelta, now: datetime | None = None) -> int:
    """Forget the history older than ``keep``; returns the number of rows deleted."""
    cut = (now or datetime.now(UTC)) - keep
    with store.transaction() as tx:
        return tx.prune_policy_history(cut)


def start(store: Store, keep: timedelta, on_error: Callable[[Exception], None]) -> threading.Event:
    """Prune now and then every :data:`PERIOD` in a daemon thread; set the returned event to stop."""
    stop = threading.Event()

    def run() -> None:
        while True:
            try:
                prune(store, keep)
            except Exception as e:  # a failed prune is retried at the next period; the server goes on
                on_error(e)
            if stop.wait(PERIOD.total_seconds()):
                return

    threading.Thread(target=run, name="iamd-history-retention", daemon=True).start()
    return stop
