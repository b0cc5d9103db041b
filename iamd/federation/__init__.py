"""Verifying what identity providers issue: OIDC JWTs and SAML responses.

Pure modules: no store, no server; the clock is an argument. ``oidc`` verifies a web
identity token against a provider's keys (``jwks`` finds and caches those keys); ``saml``
parses IdP metadata and verifies a SAML response against it. ``xml`` parses untrusted XML
safely (no DTDs, no entities, no network).
"""
