"""Where people with AWS console access read an environment's logs (the Logs button, SPEC §7).

Apart from the engine because it is only a link: no AWS call, no clients, nothing
that can fail — status cards and failure messages build it for every environment.
"""

from __future__ import annotations

import urllib.parse

from bot.config import Settings


class EcsConsole:
    """Links into the ECS console for the configured region and cluster."""

    def __init__(self, settings: Settings) -> None:
        self._region = urllib.parse.quote(settings.aws_region, safe="")
        self._cluster = urllib.parse.quote(settings.ecs_cluster, safe="")

    def console_url(self, service: str) -> str:
        """The service's Logs tab in the ECS console (the awslogs stream of its tasks)."""
        name = urllib.parse.quote(service, safe="")
        return (
            f"https://{self._region}.console.aws.amazon.com/ecs/v2/clusters/{self._cluster}"
            f"/services/{name}/logs?region={self._region}"
        )
