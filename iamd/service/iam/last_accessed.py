"""Last-accessed data from iamd's own audit trail: GenerateServiceLastAccessedDetails,
GetServiceLastAccessedDetails, GetServiceLastAccessedDetailsWithEntities (IAM API reference
pages of those names; IAM User Guide, "Refine permissions in AWS using last accessed
information"; docs/iam-api.md, "Last-accessed data").

A job runs when it is generated: the report is computed from the trail as stored at that
moment (read through the store's query interface, ``list_audit_events``, never its tables)
and kept with the job, so every page of a Get answers from one snapshot. An attempt is any
authenticated call of the tracked principal, allowed or denied, as AWS counts them ("the
request might have been denied"); a refused credential authenticated nobody and is not one.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from iamd import errors as aws
from iamd.ids import new_uuid4
from iamd.policy import Policy, PolicyType
from iamd.service.call import Call
from iamd.store import EntityKind, NotFound, ReadTx, Tx
from iamd.store.surface import AccessReportJob

from .policy_insights import _grants, _readable
from .shapes import page, page_of

__all__ = [
    "TRACKING_PERIOD",
    "Trail",
    "dates",
    "job_members",
    "generate_service_last_accessed_details",
    "get_service_last_accessed_details",
    "get_service_last_accessed_details_with_entities",
    "scan_trail",
    "service_job",
    "service_names",
    "stamp",
]

TRACKING_PERIOD = timedelta(days=400)  # AWS: the trailing 400 days
# Services whose actions are tracked one by one (AWS: IAM, EC2, Lambda, S3 management actions);
# of those, iamd serves IAM.
ACTION_TRACKED = frozenset({"iam", "ec2", "lambda", "s3"})
MAX_EVENTS = 1_000_000  # a job reads at most this many events of the trail, newest first (bounded work)
_PAGE = 1000


@functools.cache
def service_names() -> dict[str, str]:
    """Service namespace → name, from AWS's Service Authorization Reference (shipped snapshot)."""
    data = resources.files("iamd.data").joinpath("service_names.json.gz").read_bytes()
    raw = json.loads(gzip.decompress(data))
    return {str(k): str(v) for k, v in raw["services"].items()}


# -- reading the trail ----------------------------------------------------------------------------
@dataclass(slots=True)
class Access:
    """The newest attempt: when, by whom (an ARN), in which region."""

    when: datetime
    entity: str
    region: str


@dataclass(slots=True)
class Trail:
    """What one scan of the trail found, per tracked principal key."""

    # principal key -> namespace -> newest attempt
    services: dict[str, dict[str, Access]] = field(default_factory=dict)
    # principal key -> "iam:CreateUser" -> newest attempt (action-tracked services only)
    actions: dict[str, dict[str, Access]] = field(default_factory=dict)


def principal_key(identity: dict[str, Any]) -> str | None:
    """Who made an authenticated call, as the trail's ``userIdentity`` says: ``user:<id>``,
    ``role:<id>`` (a session of the role) or ``root:<account>``; None for a refused credential."""
    kind = identity.get("type")
    if kind == "IAMUser":
        return f"user:{identity.get('principalId')}"
    if kind == "AssumedRole":
        issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
        return f"role:{issuer.get('principalId')}"
    if kind == "Root":
        return f"root:{identity.get('accountId')}"
    return None


def _events(tx: ReadTx, account: str, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
    marker = None
    seen = 0
    while seen < MAX_EVENTS:
        batch = tx.list_audit_events(account, start=start, end=end, marker=marker, max_items=_PAGE)
        for event in batch.items:
            seen += 1
            yield json.loads(event.record)
        marker = batch.marker
        if marker is None:
            return


def scan_trail(tx: ReadTx, account: str, keys: set[str] | None, now: datetime, *, actions: bool) -> Trail:
    """The newest attempt per principal (of ``keys``; None: every authenticated principal) and
    service, and per action of the action-tracked services when ``actions``, within the tracking
    period before ``now``."""
    found = Trail()
    for record in _events(tx, account, now - TRACKING_PERIOD, now + timedelta(seconds=1)):
        identity = record.get("userIdentity") or {}
        key = principal_key(identity)
        if key is None or (keys is not None and key not in keys):
            continue
        source = str(record.get("eventSource", ""))
        namespace = source.removesuffix(".amazonaws.com")
        when = datetime.strptime(str(record["eventTime"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        access = Access(when, str(identity.get("arn", "")), str(record.get("awsRegion", "")))
        per_service = found.services.setdefault(key, {})
        if namespace not in per_service or per_service[namespace].when < when:
            per_service[namespace] = access
        if actions and namespace in ACTION_TRACKED:
            action = f"{namespace}:{record.get('eventName')}"
            per_action = found.actions.setdefault(key, {})
            if action not in per_action or per_action[action].when < when:
                per_action[action] = access
    return found


# -- what a job is about ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Tracked:
    """An entity whose attempts count: a user or a role (a group's members, a policy's users and
    roles; a group a policy is attached to counts through its members)."""

    key: str  # principal key (see principal_key)
    info: dict[str, Any]  # EntityInfo
    members: tuple[str, ...] = ()  # a group's: its members' keys


def _info(kind: str, arn: str, name: str, entity_id: str, path: str) -> dict[str, Any]:
    return {"Arn": arn, "Name": name, "Type": kind, "Id": entity_id, "Path": path}


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(account, kind, name) of an IAM ARN of a user, group, role or policy; InvalidInput otherwise."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam":
        raise aws.InvalidInput(f"ARN {arn} is not valid.")
    kind, _, rest = parts[5].partition("/")
    if kind not in ("user", "group", "role", "policy") or not rest:
        raise aws.InvalidInput(f"ARN {arn} is not valid.")
    return parts[4], kind, rest.rsplit("/", 1)[-1]


def _group_tracked(tx: ReadTx, account: str, name: str) -> tuple[Tracked, list[Tracked]]:
    group = tx.get_group(account, name)
    members = [
        Tracked(f"user:{u.id}", _info("USER", u.arn, u.name, u.id, u.path))
        for u in tx.list_group_members(account, group.name, max_items=1000).items
    ]
    info = _info("GROUP", group.arn, group.name, group.id, group.path)
    return Tracked(f"group:{group.id}", info, tuple(m.key for m in members)), members


def _subject(call: Call, tx: ReadTx, arn: str) -> tuple[list[Policy], list[Tracked]]:
    """The policies that decide which services are listed, and the entities whose attempts count."""
    account, kind, name = _arn_parts(arn)
    if account != call.account and not (kind == "policy" and account == "aws"):
        raise aws.NoSuchEntity(f"The entity {arn} cannot be found.")  # iamd's wording: not this account's
    loader = call.env.policies.loader
    try:
        if kind == "user":
            user = tx.get_user(account, name)
            tracked = [Tracked(f"user:{user.id}", _info("USER", user.arn, user.name, user.id, user.path))]
            return _readable(loader.user_identity(tx, user)), tracked
        if kind == "role":
            role = tx.get_role(account, name)
            tracked = [Tracked(f"role:{role.id}", _info("ROLE", role.arn, role.name, role.id, role.path))]
            return _readable(loader.identity(tx, EntityKind.ROLE, role.name, account)), tracked
        if kind == "group":
            group, members = _group_tracked(tx, account, name)
            return _readable(loader.identity(tx, EntityKind.GROUP, name, account)), [*members]
        stored = loader.managed(tx, arn, PolicyType.IDENTITY)
        if stored is None:
            raise NotFound("policy", arn)
    except NotFound:
        raise aws.NoSuchEntity(f"The entity {arn} cannot be found.") from None
    policy_arn = stored.arn or arn
    tracked = []
    for entity in _all_entities(tx, policy_arn, call.account):
        if entity.kind is EntityKind.USER:
            u = tx.get_user(call.account, entity.name)
            tracked.append(Tracked(f"user:{u.id}", _info("USER", u.arn, u.name, u.id, u.path)))
        elif entity.kind is EntityKind.ROLE:
            r = tx.get_role(call.account, entity.name)
            tracked.append(Tracked(f"role:{r.id}", _info("ROLE", r.arn, r.name, r.id, r.path)))
        else:
            group, members = _group_tracked(tx, call.account, entity.name)
            tracked.append(group)
    return _readable([stored]), tracked


def _all_entities(tx: ReadTx, arn: str, account: str) -> Iterator[Any]:
    marker = None
    while True:
        batch = tx.list_entities_for_policy(arn, account=account, marker=marker, max_items=1000)
        yield from batch.items
        marker = batch.marker
        if marker is None:
            return


def _keys(tracked: Sequence[Tracked]) -> set[str]:
    keys: set[str] = set()
    for t in tracked:
        keys.update(t.members or (t.key,))
    return keys


def _newest(trail: Trail, keys: Sequence[str], namespace: str) -> tuple[Access | None, int]:
    """The newest attempt on ``namespace`` of any of ``keys``, and how many of them made one."""
    newest: Access | None = None
    count = 0
    for key in keys:
        access = trail.services.get(key, {}).get(namespace)
        if access is None:
            continue
        count += 1
        if newest is None or access.when > newest.when:
            newest = access
    return newest, count


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _report(call: Call, tx: ReadTx, arn: str, granularity: str) -> dict[str, Any]:
    policies, tracked = _subject(call, tx, arn)
    action_level = granularity == "ACTION_LEVEL"
    trail = scan_trail(tx, call.account, _keys(tracked), call.now, actions=action_level)
    names = service_names()
    services: list[dict[str, Any]] = []
    entities: dict[str, list[dict[str, Any]]] = {}
    for namespace in sorted(names):
        if not any(_grants(p, namespace) for p in policies):
            continue
        principals = sorted(_keys(tracked))
        newest, count = _newest(trail, principals, namespace)
        entry: dict[str, Any] = {"ServiceName": names[namespace], "ServiceNamespace": namespace,
                                 "TotalAuthenticatedEntities": count}  # fmt: skip
        if newest is not None:
            entry.update(LastAuthenticated=stamp(newest.when), LastAuthenticatedEntity=newest.entity,
                         LastAuthenticatedRegion=newest.region)  # fmt: skip
        if action_level and namespace in ACTION_TRACKED:
            tracked_actions = _actions(trail, principals, namespace)
            if tracked_actions:
                entry["TrackedActionsLastAccessed"] = tracked_actions
        services.append(entry)
        details = []
        for t in tracked:
            newest_of, _ = _newest(trail, list(t.members or (t.key,)), namespace)
            detail: dict[str, Any] = {"EntityInfo": t.info}
            if newest_of is not None:
                detail["LastAuthenticated"] = stamp(newest_of.when)
            details.append(detail)
        entities[namespace] = details
    return {"services": services, "entities": entities}


def _actions(trail: Trail, keys: Sequence[str], namespace: str) -> list[dict[str, Any]]:
    newest: dict[str, Access] = {}
    for key in keys:
        for action, access in trail.actions.get(key, {}).items():
            if action.startswith(f"{namespace}:") and (action not in newest or newest[action].when < access.when):
                newest[action] = access
    return [
        {"ActionName": action.partition(":")[2], "LastAccessedEntity": a.entity, "LastAccessedTime": stamp(a.when),
         "LastAccessedRegion": a.region}
        for action, a in sorted(newest.items())
    ]  # fmt: skip


# -- the operations -----------------------------------------------------------------------------
def generate_service_last_accessed_details(call: Call, tx: Tx) -> dict[str, Any]:
    arn = str(call.params["Arn"])
    granularity = str(call.params.get("Granularity") or "SERVICE_LEVEL")
    report = _report(call, tx, arn, granularity)
    job_id = new_uuid4()
    tx.put_access_report_job(AccessReportJob(
        job_id, call.account, "service", call.caller.principal.arn, arn, granularity, "COMPLETED", call.now,
        call.now, json.dumps(report, separators=(",", ":")),
    ))  # fmt: skip
    return {"JobId": job_id}


def service_job(tx: ReadTx, account: str, job_id: str, kind: str = "service") -> AccessReportJob:
    try:
        job = tx.get_access_report_job(account, job_id)
    except NotFound:
        job = None
    if job is None or job.kind != kind:
        raise aws.NoSuchEntity(f"No such job: {job_id}.")  # iamd's wording
    return job


def dates(value: Any) -> Any:
    """The report's timestamps back as datetimes (the serializer writes them as AWS does)."""
    if isinstance(value, dict):
        return {k: (_parse(v) if k in _DATE_MEMBERS else dates(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [dates(v) for v in value]
    return value


_DATE_MEMBERS = frozenset({"LastAuthenticated", "LastAccessedTime", "LastAuthenticatedTime"})


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def job_members(job: AccessReportJob) -> dict[str, Any]:
    out: dict[str, Any] = {"JobStatus": job.status, "JobCreationDate": job.create_date}
    if job.completion_date is not None:
        out["JobCompletionDate"] = job.completion_date
    return out


def get_service_last_accessed_details(call: Call, tx: ReadTx) -> dict[str, Any]:
    job = service_job(tx, call.account, str(call.params["JobId"]))
    report = json.loads(job.report)
    result = page_of(report["services"], call.params, "service-last-accessed")
    out = {**job_members(job), "JobType": job.granularity, "ServicesLastAccessed": dates(list(result.items))}
    return page(out, result)


def get_service_last_accessed_details_with_entities(call: Call, tx: ReadTx) -> dict[str, Any]:
    job = service_job(tx, call.account, str(call.params["JobId"]))
    namespace = str(call.params["ServiceNamespace"]).lower()
    report = json.loads(job.report)
    if namespace not in report["entities"]:
        raise aws.InvalidInput(f"The service namespace {namespace} is not in the report of job {job.id}.")
    result = page_of(report["entities"][namespace], call.params, "service-last-accessed-entities")
    return page({**job_members(job), "EntityDetailsList": dates(list(result.items))}, result)
