"""AWS: what must exist before the first deploy, read with the bot's own credentials.

The caller (``sts:GetCallerIdentity``), the ECS cluster (``ecs:DescribeClusters``: it must
exist and be ACTIVE), the log group the task definition template logs to
(``logs:DescribeLogGroups``, in the template's ``awslogs-region``), the subnets and security
groups (``ec2:DescribeSubnets``/``DescribeSecurityGroups``: they must exist, in one VPC) and
the execution role the template or ``ECS_EXECUTION_ROLE_ARN`` names (``iam:GetRole``; a bot
that may not read IAM is told so, not failed: ECS checks the role at the first deploy).
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from bot.adapters.ecs.calls import new_session
from bot.adapters.ecs.logs import EcsLogs
from bot.adapters.ecs.taskdef import load_template
from bot.config import Settings
from bot.errors import ConfigurationError
from bot.preflight.check import Check, failed, passed

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=10
)
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
# The IAM actions of the calls here, as a policy names them.
_ACTIONS = {
    "DescribeClusters": "ecs:DescribeClusters",
    "DescribeLogGroups": "logs:DescribeLogGroups",
    "DescribeSubnets": "ec2:DescribeSubnets",
    "DescribeSecurityGroups": "ec2:DescribeSecurityGroups",
}


class _Aws:
    """Clients for the checks, and the one way a refused call becomes a ✗."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session = new_session()

    def client(self, service: str, region: str | None = None) -> Any:
        return self._session.client(
            service,  # type: ignore[call-overload]
            region_name=region or self.settings.aws_region,
            endpoint_url=self.settings.aws_endpoint_url or None,
            config=_CONFIG,
        )


def checks(settings: Settings) -> list[Check]:
    aws = _Aws(settings)
    try:
        identity = aws.client("sts").get_caller_identity()
    except NoCredentialsError:
        return [
            failed(
                "AWS: no credentials found",
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or give the "
                "machine a role)",
            )
        ]
    except ClientError as exc:
        return [
            failed(
                f"AWS: sts:GetCallerIdentity refused the credentials ({_code(exc)})",
                "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            )
        ]
    except BotoCoreError as exc:
        return [
            failed(
                f"AWS: could not reach STS in {settings.aws_region} ({type(exc).__name__})",
                "check AWS_REGION, AWS_ENDPOINT_URL and this machine's network",
            )
        ]
    account = str(identity.get("Account"))
    found = [passed(f"AWS: credentials work (account {account})")]
    for check in (_cluster, _log_group, _network, _execution_role):
        try:
            result = check(aws, account)
        except ClientError as exc:
            result = _refused(exc)
        except BotoCoreError as exc:
            result = failed(
                f"AWS: a call failed ({type(exc).__name__})",
                "check AWS_REGION, AWS_ENDPOINT_URL and this machine's network",
            )
        if result is not None:
            found.append(result)
    return found


def _cluster(aws: _Aws, account: str) -> Check:
    settings = aws.settings
    name, region = settings.ecs_cluster, settings.aws_region
    answer = aws.client("ecs").describe_clusters(clusters=[name])
    clusters = answer.get("clusters") or []
    if not clusters:
        return failed(
            f"AWS: ECS cluster {name} does not exist in {region}",
            f"create it (aws ecs create-cluster --cluster-name {name} --region {region}) "
            "or set ECS_CLUSTER and AWS_REGION to where it is",
        )
    status = clusters[0].get("status")
    if status != "ACTIVE":
        return failed(
            f"AWS: ECS cluster {name} in {region} is {status}",
            "use an ACTIVE cluster (ECS_CLUSTER): an INACTIVE one was deleted",
        )
    return passed(f"AWS: ECS cluster {name} is ACTIVE in {region}")


def _log_group(aws: _Aws, account: str) -> Check:
    try:
        place = EcsLogs(aws.settings).place()
    except ConfigurationError as exc:
        return failed(f"AWS: {exc.message}", exc.next_action)
    if place is None:
        return passed(
            "AWS: the task definition template does not log through awslogs — environments' "
            "logs will not reach Slack"
        )
    answer = aws.client("logs", place.region).describe_log_groups(logGroupNamePrefix=place.group)
    if any(g.get("logGroupName") == place.group for g in answer.get("logGroups") or []):
        return passed(f"AWS: log group {place.group} exists in {place.region}")
    if _creates_group(aws.settings):
        return passed(
            f"AWS: log group {place.group} does not exist yet; ECS creates it "
            "(awslogs-create-group in the template)"
        )
    return failed(
        f"AWS: log group {place.group} does not exist in {place.region}",
        f"create it (aws logs create-log-group --log-group-name {place.group} --region "
        f"{place.region}): environments log there and the bot reads their logs from it",
    )


def _network(aws: _Aws, account: str) -> Check:
    settings = aws.settings
    ec2 = aws.client("ec2")
    subnets = ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": settings.ecs_subnets}])
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "group-id", "Values": settings.ecs_security_groups}]
    )
    subnet_vpcs = {s["SubnetId"]: s.get("VpcId") for s in subnets.get("Subnets") or []}
    group_vpcs = {g["GroupId"]: g.get("VpcId") for g in groups.get("SecurityGroups") or []}
    region = settings.aws_region
    missing_subnets = [s for s in settings.ecs_subnets if s not in subnet_vpcs]
    if missing_subnets:
        return failed(
            f"AWS: subnet {', '.join(missing_subnets)} does not exist in {region}",
            "set ECS_SUBNETS to subnets of the environments' VPC, in AWS_REGION",
        )
    missing_groups = [g for g in settings.ecs_security_groups if g not in group_vpcs]
    if missing_groups:
        return failed(
            f"AWS: security group {', '.join(missing_groups)} does not exist in {region}",
            "set ECS_SECURITY_GROUPS to security groups of the subnets' VPC, in AWS_REGION",
        )
    vpcs = set(subnet_vpcs.values()) | set(group_vpcs.values())
    if len(vpcs) > 1:
        return failed(
            f"AWS: the subnets and security groups are in different VPCs ({', '.join(sorted(vpcs))})",
            "ECS places a task only where its subnets and security groups share a VPC: "
            "pick ECS_SUBNETS and ECS_SECURITY_GROUPS of one VPC",
        )
    return passed(
        f"AWS: subnets {', '.join(settings.ecs_subnets)} and security groups "
        f"{', '.join(settings.ecs_security_groups)} exist in {vpcs.pop()}"
    )


def _execution_role(aws: _Aws, account: str) -> Check | None:
    role = _execution_role_of(aws.settings)
    if not role:
        return None  # nothing names one: nothing to check
    name = role.rsplit("/", 1)[-1]
    if role.startswith("arn:") and f":{account}:" not in role:
        return passed(f"AWS: execution role {name} is in another account — not checked")
    try:
        aws.client("iam").get_role(RoleName=name)
    except ClientError as exc:
        if _code(exc) in _DENIED:
            return passed(
                f"AWS: execution role {name} — not checked (the bot may not iam:GetRole); "
                "ECS checks it at the first deploy"
            )
        if _code(exc) == "NoSuchEntity":
            return failed(
                f"AWS: execution role {name} does not exist",
                "create it with the AmazonECSTaskExecutionRolePolicy (see the README) or name "
                "an existing one in ECS_EXECUTION_ROLE_ARN",
            )
        raise
    return passed(f"AWS: execution role {name} exists")


def _execution_role_of(settings: Settings) -> str | None:
    # ECS_EXECUTION_ROLE_ARN (SPEC §4) names it where the settings have it; else the template.
    configured = getattr(settings, "ecs_execution_role_arn", None)
    if isinstance(configured, str) and configured:
        return configured
    role = load_template(settings.ecs_task_definition_file).get("executionRoleArn")
    return str(role) if role else None


def _creates_group(settings: Settings) -> bool:
    app = load_template(settings.ecs_task_definition_file)["containerDefinitions"][0]
    options = (app.get("logConfiguration") or {}).get("options") or {}
    return str(options.get("awslogs-create-group", "")).lower() == "true"


def _refused(exc: ClientError) -> Check:
    code = _code(exc)
    operation = _ACTIONS.get(exc.operation_name, exc.operation_name)
    if code in _DENIED:
        return failed(
            f"AWS: the bot may not call {operation} ({code})",
            f"allow {operation} in the bot's IAM policy (see the README)",
        )
    return failed(f"AWS: {operation} failed ({code})", "check the AWS settings (AWS_REGION, ECS_*)")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "unknown")
