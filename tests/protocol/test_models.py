"""The catalog of service models: metadata, lookup, and per-service caches."""

from __future__ import annotations

import pytest

from iamd.protocol import Catalog, Service, load_service_model, warm


def test_iam_and_sts_metadata(catalog: Catalog) -> None:
    assert (catalog.iam.api_version, catalog.iam.namespace) == (
        "2010-05-08",
        "https://iam.amazonaws.com/doc/2010-05-08/",
    )
    assert (catalog.sts.api_version, catalog.sts.namespace) == (
        "2011-06-15",
        "https://sts.amazonaws.com/doc/2011-06-15/",
    )
    assert catalog.iam.protocol == catalog.sts.protocol == "query"


def test_organizations_is_a_json_service(catalog: Catalog) -> None:
    organizations = catalog.organizations
    assert organizations.protocol == "json" and organizations.namespace is None
    assert organizations.operation("CreateOrganization") is not None


def test_operation_lookup_is_exact_and_cached(catalog: Catalog) -> None:
    iam = catalog.iam
    assert iam.operation("GetUser") is iam.operation("GetUser")
    assert iam.operation("GetUser").name == "GetUser"
    assert iam.operation("getUser") is None and iam.operation("") is None and iam.operation("Nope") is None
    assert "ListUsers" in iam.operation_names and len(iam.operation_names) > 150


def test_services_are_per_catalog_and_models_shared() -> None:
    first, second = Catalog(), Catalog()
    assert first.iam is first.iam and first.iam is not second.iam
    assert first.iam.model is second.iam.model is load_service_model("iam")


def test_unknown_service() -> None:
    with pytest.raises(KeyError):
        Catalog().service("no-such-service")


def test_plans_are_built_once() -> None:
    service = Service(load_service_model("sts"))
    built: list[int] = []
    for _ in range(3):
        service.plan("kind", "Op", lambda: built.append(1) or len(built))
    assert built == [1]


def test_warm_compiles_every_operation() -> None:
    catalog = Catalog()
    warm(catalog.sts)
    compiled = {key for key in catalog.sts._plans}
    assert compiled == {(kind, name) for name in catalog.sts.operation_names for kind in ("query-input", "xml-output")}
