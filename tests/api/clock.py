"""A server clock tests can move forward, and boto3 signing at the same moved time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from unittest import mock


class MovableClock:
    """Real time plus an offset the test moves: requests stay fresh for SigV4 checks."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    @contextmanager
    def moved(self, by: timedelta) -> Iterator[None]:
        """Move the server's clock by ``by``; boto3 signs as of the moved time meanwhile."""
        self.offset += by
        try:
            with mock.patch("botocore.auth.get_current_datetime", side_effect=lambda: self().replace(tzinfo=None)):
                yield
        finally:
            self.offset -= by
