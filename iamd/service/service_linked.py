"""Service-linked roles: the name and path AWS gives the role a service creates for itself
(IAM User Guide, "Using service-linked roles").

A service-linked role lives at ``/aws-service-role/<service principal>/`` and is named
``AWSServiceRoleFor<Service>`` (``_<suffix>`` with a custom suffix). Each service picks its
own ``<Service>`` spelling; the table below has AWS's for common services, and any other
service principal gets its first DNS label in CamelCase (docs/iam-api.md,
"Service-linked roles").
"""

from __future__ import annotations

__all__ = ["PATH_PREFIX", "deletion_task_role", "role_name", "role_path"]

PATH_PREFIX = "/aws-service-role/"
SUFFIX = ".amazonaws.com"

_NAMES = {
    "access-analyzer": "AccessAnalyzer",
    "autoscaling": "AutoScaling",
    "backup": "Backup",
    "cloudtrail": "CloudTrail",
    "config": "Config",
    "dynamodb.application-autoscaling": "ApplicationAutoScaling_DynamoDBTable",
    "ecs": "ECS",
    "ecs.application-autoscaling": "ApplicationAutoScaling_ECSService",
    "eks": "AmazonEKS",
    "eks-nodegroup": "AmazonEKSNodegroup",
    "elasticache": "ElastiCache",
    "elasticbeanstalk": "ElasticBeanstalk",
    "elasticloadbalancing": "ElasticLoadBalancing",
    "globalaccelerator": "GlobalAccelerator",
    "guardduty": "AmazonGuardDuty",
    "inspector2": "AmazonInspector2",
    "kafka": "Kafka",
    "opensearchservice": "AmazonOpenSearchService",
    "organizations": "Organizations",
    "rds": "RDS",
    "redshift": "Redshift",
    "replication.dynamodb": "DynamoDBReplication",
    "securityhub": "SecurityHub",
    "spot": "EC2Spot",
    "spotfleet": "EC2SpotFleet",
    "sso": "SSO",
    "ssm": "AmazonSSM",
    "support": "Support",
    "transitgateway": "VPCTransitGateway",
    "trustedadvisor": "TrustedAdvisor",
}


def is_service_principal(service: str) -> bool:
    head = service[: -len(SUFFIX)]
    return service.endswith(SUFFIX) and bool(head) and all(part for part in head.split("."))


def role_name(service: str, suffix: str | None = None) -> str:
    """``AWSServiceRoleFor…`` for the service principal ``service`` (``x.amazonaws.com``)."""
    head = service[: -len(SUFFIX)] if service.endswith(SUFFIX) else service
    known = _NAMES.get(head)
    if known is None:
        words = head.split(".")[0].replace("_", "-").split("-")
        known = "".join(w[:1].upper() + w[1:] for w in words if w)
    return f"AWSServiceRoleFor{known}" + (f"_{suffix}" if suffix else "")


def role_path(service: str) -> str:
    return f"{PATH_PREFIX}{service}/"


def deletion_task_role(task_id: str) -> tuple[str, str] | None:
    """(service, role name) of a DeletionTaskId ``task/aws-service-role/<service>/<role>/<uuid>``."""
    parts = task_id.split("/")
    if len(parts) != 5 or parts[0] != "task" or parts[1] != PATH_PREFIX.strip("/") or not all(parts[2:]):
        return None
    return parts[2], parts[3]
