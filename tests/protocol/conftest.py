"""Shared fixtures: one catalog per test session (models are immutable once loaded)."""

from __future__ import annotations

import pytest

from iamd.protocol import Catalog, Service


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog()


@pytest.fixture(scope="session")
def iam(catalog: Catalog) -> Service:
    return catalog.iam


@pytest.fixture(scope="session")
def sts(catalog: Catalog) -> Service:
    return catalog.sts
