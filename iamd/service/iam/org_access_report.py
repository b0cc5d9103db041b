"""GenerateOrganizationsAccessReport and GetOrganizationsAccessReport: when principals of the
accounts under an Organizations entity (the root, an OU, an account) last attempted each service
the SCPs on that entity's path allow, from iamd's own audit trail (IAM API reference pages of
those names; docs/iam-api.md, "Last-accessed data").

Like a service last-accessed job, the report is computed when the job is generated and kept
with it. With ``OrganizationsPolicyId`` the services listed are those that policy allows;
without, those every level of SCPs from the root down to the entity allows (all of them when
SCPs are not enabled in the root).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from iamd import errors as aws
from iamd.ids import new_uuid4
from iamd.policy import Policy, PolicyType
from iamd.service.call import Call
from iamd.service.organizations.model import MANAGED, SCP
from iamd.store import ReadTx, Tx
from iamd.store.organizations import OrgTree
from iamd.store.surface import AccessReportJob

from .last_accessed import Access, dates, job_members, scan_trail, service_job, service_names, stamp
from .policy_insights import _grants
from .shapes import page, page_of

__all__ = ["generate_organizations_access_report", "get_organizations_access_report"]

MAX_ACCOUNTS = 1000  # accounts one report reads the trail of (bounded work)


def _policy(call: Call, tree: OrgTree, policy_id: str) -> Policy | None:
    stored = MANAGED.get(policy_id) or tree.policies.get(policy_id)
    if stored is None or stored.type != SCP:
        return None
    return call.env.policies.loader.stored(stored.content, PolicyType.SCP, stored.name, f"scp {policy_id}")


def _path(tree: OrgTree, target: str) -> str:
    return "/".join((tree.organization.id, *tree.parent_chain(target)))


def _resolve(tree: OrgTree, entity_path: str) -> str:
    """The root, OU or account id an entity path ends with, if the path is that entity's real path."""
    target = entity_path.rstrip("/").rsplit("/", 1)[-1]
    known = target == tree.root.id or target in tree.units or target in tree.accounts
    if not known or _path(tree, target) != entity_path.rstrip("/"):
        raise aws.InvalidInput(f"The entity path {entity_path} is not a path of an entity of the organization.")
    return target


def _under(tree: OrgTree, target: str) -> list[str]:
    """The accounts at or under ``target``."""
    return sorted(a for a in tree.accounts if target in tree.parent_chain(a))


def _allowed(call: Call, tree: OrgTree, target: str, policy_id: str | None) -> list[str]:
    names = service_names()
    if policy_id is not None:
        policy = _policy(call, tree, policy_id)
        if policy is None:
            raise aws.NoSuchEntity(f"The policy {policy_id} cannot be found.")  # iamd's wording
        return [ns for ns in sorted(names) if _grants(policy, ns)]
    if SCP not in tree.root.policy_types:
        return sorted(names)
    levels: list[list[Policy]] = []
    for level in tree.parent_chain(target):
        found = [p for p in (_policy(call, tree, pid) for pid in tree.attached(level)) if p is not None]
        levels.append(found)
    return [ns for ns in sorted(names) if all(any(_grants(p, ns) for p in level) for level in levels)]


def generate_organizations_access_report(call: Call, tx: Tx) -> dict[str, Any]:
    org = tx.organization_of(call.account)
    if org is None or org.management_account_id != call.account:
        raise aws.AccessDenied(
            f"User: {call.caller.principal.arn} is not authorized to perform: iam:GenerateOrganizationsAccessReport "
            "because only the management account of an organization can generate an organizations access report"
        )
    tree = tx.org_tree(org.id)
    entity_path = str(call.params["EntityPath"])
    if not entity_path.startswith(f"{org.id}/"):
        raise aws.InvalidInput(f"The entity path {entity_path} is not a path of an entity of the organization.")
    target = _resolve(tree, entity_path)
    policy_id = call.params.get("OrganizationsPolicyId")
    allowed = _allowed(call, tree, target, None if policy_id is None else str(policy_id))
    newest: dict[str, tuple[Access, str]] = {}
    accounts_by_service: dict[str, set[str]] = {}
    for account in _under(tree, target)[:MAX_ACCOUNTS]:
        trail = scan_trail(tx, account, None, call.now, actions=False)
        for per_service in trail.services.values():
            for namespace, access in per_service.items():
                accounts_by_service.setdefault(namespace, set()).add(account)
                if namespace not in newest or newest[namespace][0].when < access.when:
                    newest[namespace] = (access, _path(tree, account))
    names = service_names()
    details = []
    for namespace in allowed:
        entry: dict[str, Any] = {"ServiceName": names[namespace], "ServiceNamespace": namespace}
        if namespace in newest:
            access, path = newest[namespace]
            entry.update(Region=access.region, EntityPath=path, LastAuthenticatedTime=stamp(access.when),
                         TotalAuthenticatedEntities=len(accounts_by_service[namespace]))  # fmt: skip
        else:
            entry["TotalAuthenticatedEntities"] = 0
        details.append(entry)
    job_id = new_uuid4()
    report = {"details": details}
    tx.put_access_report_job(AccessReportJob(
        job_id, call.account, "organizations", call.caller.principal.arn, entity_path, None, "COMPLETED", call.now,
        call.now, json.dumps(report, separators=(",", ":")),
    ))  # fmt: skip
    return {"JobId": job_id}


def _sorted(details: Iterable[dict[str, Any]], key: str | None) -> list[dict[str, Any]]:
    out = list(details)
    if key in ("LAST_AUTHENTICATED_TIME_ASCENDING", "LAST_AUTHENTICATED_TIME_DESCENDING"):
        out.sort(key=lambda d: (d.get("LastAuthenticatedTime") or "", d["ServiceNamespace"]),
                 reverse=key.endswith("DESCENDING"))  # fmt: skip
    elif key == "SERVICE_NAMESPACE_DESCENDING":
        out.sort(key=lambda d: d["ServiceNamespace"], reverse=True)
    else:
        out.sort(key=lambda d: d["ServiceNamespace"])
    return out


def get_organizations_access_report(call: Call, tx: ReadTx) -> dict[str, Any]:
    job = service_job(tx, call.account, str(call.params["JobId"]), "organizations")
    details = json.loads(job.report)["details"]
    accessed = sum(1 for d in details if "LastAuthenticatedTime" in d)
    result = page_of(_sorted(details, call.params.get("SortKey")), call.params, "organizations-access-report")
    out = {
        **job_members(job), "NumberOfServicesAccessible": len(details),
        "NumberOfServicesNotAccessed": len(details) - accessed, "AccessDetails": dates(list(result.items)),
    }  # fmt: skip
    return page(out, result)
