"""Use cases: the IAM and STS operations, on top of the store and the policy engine.

Each operation is a function ``(call, tx) -> result``; :mod:`iamd.service.iam` holds the
dispatch table. Authorization, auditing and the wire format happen around them, in
:mod:`iamd.api`.
"""
