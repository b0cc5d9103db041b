"""CreateServiceLinkedRole, DeleteServiceLinkedRole, GetServiceLinkedRoleDeletionStatus (IAM
API reference pages of those names).

The role is made as AWS makes it: path ``/aws-service-role/<service>/``, AWS's name, a trust
policy for the service principal alone. Ordinary role operations that would change it are
refused (UnmodifiableEntity; ``roles.check_modifiable_role``). AWS deletes a service-linked
role asynchronously after the service confirms nothing uses it; iamd has no such resources,
so the deletion is done at once and its task reports SUCCEEDED.
"""

from __future__ import annotations

import json
from typing import Any

from iamd import errors as aws
from iamd.ids import new_uuid4
from iamd.service.call import Call
from iamd.service.service_linked import (
    PATH_PREFIX,
    deletion_task_role,
    is_service_principal,
    role_name,
    role_path,
)
from iamd.service.trust import shown_role
from iamd.store import NotFound, ReadTx, Tx

from .checks import check_entity_quota
from .shapes import role_shape

__all__ = [
    "create_service_linked_role",
    "delete_service_linked_role",
    "get_service_linked_role_deletion_status",
]

MAX_ROLE_NAME = 64


def _trust(service: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": [service]}, "Action": ["sts:AssumeRole"]}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def create_service_linked_role(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    service = str(p["AWSServiceName"])
    if not is_service_principal(service):
        raise aws.InvalidInput(f"Invalid service name {service}: it must be a service principal such as "
                               "elasticbeanstalk.amazonaws.com.")  # fmt: skip
    suffix = p.get("CustomSuffix")
    name = role_name(service, suffix)
    if len(name) > MAX_ROLE_NAME:
        raise aws.InvalidInput(f"The role name {name} is longer than {MAX_ROLE_NAME} characters; use a shorter suffix.")
    try:
        tx.get_role(call.account, name)
    except NotFound:
        check_entity_quota(tx, call.account, "Roles", lambda limit: tx.count_roles(call.account, at_most=limit))
    else:
        raise aws.InvalidInput(
            f"Service role name {name} has been taken in this account, please try a different suffix."
        )
    role = tx.create_role(
        call.account, name, assume_role_policy=_trust(service), path=role_path(service),
        description=p.get("Description"),
    )  # fmt: skip
    return {"Role": role_shape(shown_role(tx, role), full=False)}


def delete_service_linked_role(call: Call, tx: Tx) -> dict[str, Any]:
    role = tx.get_role(call.account, str(call.params["RoleName"]))
    if not role.path.startswith(PATH_PREFIX):
        raise aws.InvalidInput(f"Role {role.name} is not a service-linked role; delete it with DeleteRole.")
    task_id = f"task{role.path}{role.name}/{new_uuid4()}"
    for profile in tx.list_instance_profiles_for_role(call.account, role.name, max_items=1000).items:
        tx.remove_role_from_instance_profile(call.account, profile.name, role.name)
    tx.delete_role(call.account, role.name)
    tx.add_deletion_task(call.account, task_id, "SUCCEEDED")
    return {"DeletionTaskId": task_id}


def get_service_linked_role_deletion_status(call: Call, tx: ReadTx) -> dict[str, Any]:
    task_id = str(call.params["DeletionTaskId"])
    if deletion_task_role(task_id) is None:
        raise aws.InvalidInput(f"Invalid deletion task id: {task_id}")
    try:
        task = tx.get_deletion_task(call.account, task_id)
    except NotFound:
        raise aws.NoSuchEntity(f"The deletion task with id {task_id} cannot be found.") from None
    out: dict[str, Any] = {"Status": task.status}
    if task.reason:
        out["Reason"] = {"Reason": task.reason}
    return out
