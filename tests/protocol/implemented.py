"""The operations iamd implements: what the model-driven tests enumerate.

botocore's models grow with every release (new operations, new error codes). Tests that
walk a model walk it through this list, so a newer botocore than constraints.txt pins
cannot fail them: its extra operations are answered ``NotImplemented`` by the server, and
tested as such in tests/api/test_bad_input.py.
"""

from __future__ import annotations

from iamd.service.iam import OPERATIONS as IAM_OPERATIONS
from iamd.service.sts import STS_OPERATIONS

IMPLEMENTED: dict[str, tuple[str, ...]] = {"iam": tuple(sorted(IAM_OPERATIONS)), "sts": tuple(sorted(STS_OPERATIONS))}
PAIRS: list[tuple[str, str]] = [(service, name) for service, names in IMPLEMENTED.items() for name in names]
