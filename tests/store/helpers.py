"""Shared constants and helpers of the store tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from iamd.store import Page

T = TypeVar("T")

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
START = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)
DOC = '{\n  "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]\n}'


class FakeClock:
    """Starts at :data:`START` and moves on a millisecond per reading."""

    def __init__(self) -> None:
        self._ticks = itertools.count()

    def __call__(self) -> datetime:
        return START + timedelta(milliseconds=next(self._ticks))


def all_pages(fetch: Callable[[str | None], Page[T]]) -> tuple[list[T], int]:
    """Follow markers to the end; returns the items and the number of pages."""
    items: list[T] = []
    marker: str | None = None
    pages = 0
    while True:
        page = fetch(marker)
        pages += 1
        items.extend(page.items)
        if page.marker is None:
            assert not page.is_truncated
            return items, pages
        assert page.is_truncated
        marker = page.marker
