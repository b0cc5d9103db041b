"""The partition a server serves, and the regions requests may be signed for.

An AWS partition (``aws``, ``aws-cn``, ``aws-us-gov``) is a separate copy of AWS: its own
regions, its own IAM, and its name in every ARN (``arn:aws-cn:iam::…``). One iamd server
serves one partition (docs/iam-api.md, "Regions and partitions"), chosen when its database
is first created and recorded there, since every stored ARN carries it.

The regions of a partition come from botocore's partition data (the same data the SDKs
resolve endpoints with), so a newer botocore brings new regions without a change here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_PARTITION", "SUPPORTED_PARTITIONS", "Partition", "UnknownPartition", "partition", "partition_of"]

DEFAULT_PARTITION = "aws"
SUPPORTED_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")


class UnknownPartition(ValueError):
    """A partition name iamd does not serve, or a region that is not in the partition."""


@dataclass(frozen=True, slots=True)
class Partition:
    """One partition: its name, regions, and IAM's home region.

    ``iam_region`` is the region of IAM's global endpoint in the partition: the region the
    SDKs sign IAM requests with there, ``aws:RequestedRegion`` of every IAM call, and the
    ``awsRegion`` of IAM's CloudTrail events (AWS "Logging IAM and AWS STS API calls with
    AWS CloudTrail"). ``accepted`` is the set of regions a request may be signed for (every
    region of the partition unless the server was told a narrower set).
    """

    name: str
    regions: frozenset[str]
    iam_region: str
    accepted: frozenset[str]

    def restricted_to(self, regions: Iterable[str]) -> Partition:
        """This partition accepting only ``regions`` (each must belong to it) and its home
        region, which is always accepted: IAM's global endpoint signs with it, and STS cannot
        be deactivated there (AWS "Managing AWS STS in an AWS Region")."""
        wanted = frozenset(r.strip() for r in regions if r.strip())
        foreign = sorted(wanted - self.regions)
        if foreign:
            raise UnknownPartition(
                f"region {', '.join(foreign)} is not in partition {self.name} "
                f"(its regions: {', '.join(sorted(self.regions))})"
            )
        return Partition(self.name, self.regions, self.iam_region, wanted | {self.iam_region})

    def verifier_regions(self) -> dict[str, frozenset[str]]:
        """The signing regions SigV4 accepts per service: IAM only the accepted ones; STS every
        region of the partition, so that a deactivated one is answered as AWS answers it
        (RegionDisabledException, after authentication) rather than as a bad signature.
        Organizations: every accepted region (botocore signs with the client's region when
        given an endpoint URL; docs/organizations.md)."""
        return {"iam": self.accepted, "sts": self.regions, "organizations": self.accepted}

    def arn(self, service: str, account: str, resource: str) -> str:
        """An IAM or STS ARN of this partition (no region: IAM and STS ARNs have none)."""
        return f"arn:{self.name}:{service}::{account}:{resource}"


# IAM's global endpoint in each partition signs with (and records) this region (AWS "AWS
# Identity and Access Management endpoints and quotas": iam.amazonaws.com, us-east-1;
# iam.cn-north-1.amazonaws.com.cn; iam.us-gov.amazonaws.com, us-gov-west-1).
_IAM_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}


def _partition_data() -> dict[str, Any]:
    from botocore.loaders import create_loader  # type: ignore[import-untyped]

    data: dict[str, Any] = create_loader().load_data("partitions")  # small; endpoints.json is 1 MB
    return data


@functools.cache
def partition(name: str = DEFAULT_PARTITION) -> Partition:
    """The partition called ``name``, accepting all its regions."""
    if name not in SUPPORTED_PARTITIONS:
        raise UnknownPartition(f"iamd serves the partitions {', '.join(SUPPORTED_PARTITIONS)}, not {name!r}")
    for entry in _partition_data()["partitions"]:
        if entry["id"] != name:
            continue
        # "aws-global" and the like name global endpoints, not regions a client configures
        regions = frozenset(r for r in entry["regions"] if not r.endswith("-global"))
        return Partition(name, regions, _IAM_REGIONS[name], regions)
    raise UnknownPartition(f"the installed botocore does not describe partition {name!r}")


def partition_of(region: str | None) -> str:
    """The name of the partition ``region`` belongs to (``cn-north-1``: ``aws-cn``); ``aws`` for
    a region iamd does not know. Clients of a server use it: they sign for its regions."""
    return next((name for name in SUPPORTED_PARTITIONS if region in partition(name).regions), DEFAULT_PARTITION)
