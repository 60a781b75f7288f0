"""The ECS adapter: per-PR services on Fargate, and the DRAINING rule (SPEC §6).

``engine`` holds the rule and the ECS operations (the port), ``services`` what ECS says of
the services (listed, described, their address), ``waits`` the waits for a name to be
released and a deployment to be stable; ``calls`` is how they reach AWS,
``errors`` what it raises, ``taskdef`` what each environment runs, ``revisions``
registers it (with the environment's own admin password, SPEC §15) and remembers what
each revision says; ``console`` links people to the logs and ``logs`` reads them
(CloudWatch Logs, SPEC §14).
Other code imports from here.
"""

from bot.adapters.ecs.calls import make_clients, new_session
from bot.adapters.ecs.console import EcsConsole
from bot.adapters.ecs.engine import EcsEngine
from bot.adapters.ecs.errors import (
    DrainTimeoutError,
    EcsError,
    NotIdempotentError,
    StableTimeoutError,
    TasksStoppedError,
)
from bot.adapters.ecs.logs import EcsLogs
from bot.orchestrator.ports import ServiceState

__all__ = [
    "DrainTimeoutError",
    "EcsConsole",
    "EcsEngine",
    "EcsError",
    "EcsLogs",
    "NotIdempotentError",
    "ServiceState",
    "StableTimeoutError",
    "TasksStoppedError",
    "make_clients",
    "new_session",
]
