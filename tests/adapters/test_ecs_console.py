"""The Logs button's link: the service's Logs tab in the ECS console (SPEC §7)."""

from __future__ import annotations

from bot.adapters.ecs import EcsConsole
from bot.config import Settings


def test_the_link_opens_the_services_logs_tab_in_its_region_and_cluster() -> None:
    console = EcsConsole(
        Settings(_env_file=None, aws_region="eu-west-1", ecs_cluster="superset-ci")
    )

    assert console.console_url("pr-36121-abc1234-service") == (
        "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/superset-ci"
        "/services/pr-36121-abc1234-service/logs?region=eu-west-1"
    )


def test_every_part_of_the_link_is_quoted() -> None:
    console = EcsConsole(Settings(_env_file=None, ecs_cluster="ci/odd name"))

    assert "/clusters/ci%2Fodd%20name/services/a%3Fb%23c/logs?" in console.console_url("a?b#c")
