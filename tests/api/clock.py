"""Server clocks for tests: one moved by an offset (boto3 signing at the moved time too),
and one set to whole 30-second TOTP steps (MFA tests), both close to real time so that
SigV4's 15-minute skew check still passes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from unittest import mock

if TYPE_CHECKING:
    from iamd.api import Backend


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


STEP = 30  # seconds: RFC 6238 time-steps, as authenticator apps and AWS use them


class StepClock:
    """A settable clock: ``at(k)`` puts it ``seconds`` into the k-th 30 s step from its origin."""

    def __init__(self) -> None:
        now = int(datetime.now(UTC).timestamp())
        self.origin = now // STEP  # the real current step: requests stay within SigV4's skew
        self._steps = 0
        self._now = datetime.fromtimestamp(self.origin * STEP + 10, UTC)

    def at(self, steps: int, seconds: int = 10) -> None:
        self._steps = steps
        self._now = datetime.fromtimestamp((self.origin + steps) * STEP + seconds, UTC)

    @property
    def step(self) -> int:
        """The current time-step (absolute, as pyotp's ``generate_otp`` takes it)."""
        return self.origin + self._steps

    def advance(self, steps: int = 1) -> None:
        """On to a later step (10 s into it): the next code of an authenticator."""
        self.at(self._steps + steps)

    def __call__(self) -> datetime:
        return self._now


@contextmanager
def installed(backend: Backend, clock: Callable[[], datetime]) -> Iterator[None]:
    """``clock`` as the running server's clock for a while, then the one it had."""
    original = backend.clock
    backend.clock = clock
    try:
        yield
    finally:
        backend.clock = original
