"""Request authentication: SigV4 verification of IAM and STS requests (AWS "AWS Signature Version 4 for API requests").

The verifier is pure: the caller passes the request, the time and a credential lookup,
and gets back who signed it or an AWS error from :mod:`iamd.errors`.
"""

from iamd.auth.locate import carries_signature
from iamd.auth.request import SignedRequest
from iamd.auth.sigv4 import DEFAULT_SERVICES, Credential, Presented, SigningDetails, SigV4Verifier, VerifiedRequest

__all__ = [
    "DEFAULT_SERVICES",
    "Credential",
    "Presented",
    "SigV4Verifier",
    "SignedRequest",
    "SigningDetails",
    "VerifiedRequest",
    "carries_signature",
]
