"""The AWS wire protocol at iamd's edge, driven by botocore's service models.

* :mod:`.models`: :class:`Catalog` / :class:`Service` (IAM, STS, Organizations models;
  per-operation compiled plans live in the ``Service``).
* :mod:`.query`: :func:`decode_form` and :func:`parse_request` (Query parameters to a
  validated input ``dict``), with :mod:`.scalars` (text to ``int``/``bool``/…),
  :mod:`.constraints` (model constraints, AWS's ValidationError text) and
  :mod:`.patterns` (the models' Java regexes for Python).
* :mod:`.xml`: :func:`serialize_result` and :func:`serialize_error` (XML bodies).
* :mod:`.errors`: :func:`error_response`, the single exception-to-response mapping.

A request flows ``decode_form`` -> ``parse_request`` -> (service code) ->
``serialize_result``, and any exception on the way goes to ``error_response``.
"""

from __future__ import annotations

from iamd.protocol.errors import WireResponse, error_response, response_headers
from iamd.protocol.models import Catalog, Service, load_service_model
from iamd.protocol.query import compile_operation as _compile_input
from iamd.protocol.query import decode_form, parse_request
from iamd.protocol.xml import compile_operation as _compile_output
from iamd.protocol.xml import serialize_error, serialize_result

__all__ = [
    "Catalog",
    "Service",
    "WireResponse",
    "decode_form",
    "error_response",
    "load_service_model",
    "parse_request",
    "response_headers",
    "serialize_error",
    "serialize_result",
    "warm",
]


def warm(service: Service) -> None:
    """Compile every operation's parser and serializer now rather than on first use.

    Call at startup: the first request of each operation then pays nothing, and the
    Unicode tables behind ``\\p{L}`` patterns (about 0.2 s) are built before traffic.
    """
    for name in sorted(service.operation_names):
        operation = service.operation(name)
        _compile_input(service, operation)
        if service.namespace is not None:
            _compile_output(service, operation)
