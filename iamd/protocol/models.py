"""The botocore service models iamd speaks, and a per-service home for compiled plans.

botocore ships the authoritative description of every IAM, STS and Organizations operation
(members, constraints, error codes, wire names). Nothing in :mod:`iamd.protocol` hand-writes
a shape: parsers and serializers are compiled from these models, once per operation, and
kept in the :class:`Service` that owns them.

State lives in objects the application constructs (a :class:`Catalog`, then its
:class:`Service` objects); the only process-wide cache is :func:`load_service_model`, a
pure function of its argument (parsing IAM's JSON model takes tens of milliseconds).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from botocore.loaders import create_loader  # type: ignore[import-untyped]
from botocore.model import OperationModel, ServiceModel  # type: ignore[import-untyped]

__all__ = ["IAM", "ORGANIZATIONS", "STS", "Catalog", "OperationModel", "Service", "ServiceModel", "load_service_model"]

IAM = "iam"
STS = "sts"
ORGANIZATIONS = "organizations"

T = TypeVar("T")


@functools.cache
def load_service_model(name: str) -> ServiceModel:
    """botocore's model for service ``name`` (``"iam"``, ``"sts"``, ``"organizations"``)."""
    data = create_loader().load_service_model(name, "service-2")
    return cast(ServiceModel, ServiceModel(data, service_name=name))


class Service:
    """One AWS service: its model, wire metadata, and the plans compiled from it.

    ``namespace`` is the XML namespace of Query responses (``None`` for JSON services such
    as Organizations). ``api_version`` is the only ``Version`` value requests may carry.
    """

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.name: str = model.service_name
        self.api_version: str = model.api_version
        self.protocol: str = model.protocol
        self.namespace: str | None = model.metadata.get("xmlNamespace")
        self._operations: dict[str, OperationModel] = {}
        self._names = frozenset(model.operation_names)
        self._plans: dict[tuple[str, str], Any] = {}

    def __repr__(self) -> str:
        return f"Service({self.name!r}, {self.api_version!r})"

    @property
    def operation_names(self) -> frozenset[str]:
        """Every operation in the model (case-sensitive, as sent in ``Action``)."""
        return self._names

    def operation(self, name: str) -> OperationModel | None:
        """The operation called ``name`` exactly, or ``None`` if the model has none."""
        operation = self._operations.get(name)
        if operation is None and name in self._names:
            operation = self._operations[name] = cast(OperationModel, self.model.operation_model(name))
        return operation

    def plan(self, kind: str, operation: str, build: Callable[..., T], *args: Any) -> T:
        """The ``kind`` plan of ``operation``, built by ``build(*args)`` on first use.

        Parsers and serializers store their compiled per-operation programs here, so a
        service compiles each operation once and two catalogs never share mutable state.
        (``build`` and its arguments rather than a closure, and no ``typing.cast``: each is a
        call per request; bench/README.md, "Session 17: iamd's CPU per write, fewer calls".)
        """
        key = (kind, operation)
        found = self._plans.get(key)
        if found is None:
            found = self._plans[key] = build(*args)
        return found  # what build made for this kind


class Catalog:
    """The services iamd answers for, loaded lazily.

    Construct one per application (``create_app`` wiring); tests build their own.
    """

    def __init__(self, loader: Callable[[str], ServiceModel] = load_service_model) -> None:
        self._loader = loader
        self._services: dict[str, Service] = {}

    def service(self, name: str) -> Service:
        """The :class:`Service` for ``name``; raises ``KeyError`` for a service botocore lacks."""
        service = self._services.get(name)
        if service is None:
            try:
                model = self._loader(name)
            except Exception as error:  # botocore's UnknownServiceError and friends
                raise KeyError(name) from error
            service = self._services[name] = Service(model)
        return service

    @property
    def iam(self) -> Service:
        return self.service(IAM)

    @property
    def sts(self) -> Service:
        return self.service(STS)

    @property
    def organizations(self) -> Service:
        return self.service(ORGANIZATIONS)
