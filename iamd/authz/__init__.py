"""IAM for your own services: iamd authorizes requests to them (docs/authorization-api.md).

The client side: :mod:`iamd.authz.client` (the :class:`Authorizer` protocol, the HTTP and
in-process clients, the request and answer types), :mod:`iamd.authz.asgi` and
:mod:`iamd.authz.wsgi` (middleware). The server side, the ``Authorize`` operation of the
``iamd`` service, is :mod:`iamd.authz.operation`.
"""

from iamd.authz.client import (
    Answer,
    AuthorizationError,
    Authorizer,
    Check,
    ForwardedRequest,
    HttpAuthorizationClient,
    LocalAuthorizationClient,
    Result,
)

__all__ = [
    "Answer",
    "AuthorizationError",
    "Authorizer",
    "Check",
    "ForwardedRequest",
    "HttpAuthorizationClient",
    "LocalAuthorizationClient",
    "Result",
]
