"""What ``EcsPort`` promises — the DRAINING rule above all — held to by the fake and by the
engine on moto made to behave like ECS. Time is a fake clock both sides wait on."""

from __future__ import annotations

from typing import Any

import ecs_support
from sides import EcsSide
from support import DRAIN_SECONDS, STABLE_SECONDS

from bot.domain.events import Event, Waiting, Warning
from bot.domain.naming import service_name
from bot.domain.requester import Requester
from bot.orchestrator.ports import Service, ServiceState

PR, OTHER_PR = 36121, 36122
SHA = "abc1234def5678"
NAME = service_name(PR, SHA)
MAINTAINER = Requester.slack("U0MAINTAINER")


def create(ecs: EcsSide, pr: int = PR, sha: str = SHA, **kwargs: Any) -> Service:
    return ecs_support.create(ecs.port, pr, sha, requested_by=MAINTAINER, **kwargs)


def names(services: list[Service] | tuple[Service, ...]) -> list[str]:
    return sorted(s.name for s in services)


def test_a_created_service_is_found_by_its_pr(ecs: EcsSide) -> None:
    created = create(ecs)
    other = create(ecs, OTHER_PR, "def5678abc1234")
    assert created.name == NAME and created.pr == PR and created.sha == SHA[:7]
    assert created.status is ServiceState.ACTIVE
    assert names(list(ecs.port.find_services())) == sorted([NAME, other.name])
    [found] = ecs.port.find_services(PR)
    assert (found.name, found.pr, found.sha, found.status) == (NAME, PR, SHA[:7], "ACTIVE")
    assert found.requested_by == MAINTAINER
    assert ecs.port.environment_names() == {NAME, other.name}


def test_a_created_service_becomes_stable_in_time(ecs: EcsSide) -> None:
    create(ecs)
    began = ecs.clock.monotonic()
    ecs.port.wait_stable(NAME)
    assert ecs.clock.monotonic() - began >= STABLE_SECONDS
    assert ecs.port.address(NAME)


def test_a_deleted_service_is_draining_and_no_longer_listed(ecs: EcsSide) -> None:
    create(ecs)
    assert ecs.port.delete_service(NAME) is True
    assert ecs.statuses() == {NAME: "DRAINING"}  # what DescribeServices says
    assert list(ecs.port.find_services()) == []  # what ListServices says
    assert ecs.port.environment_names() == set()
    assert ecs.port.delete_service(NAME) is True  # still DRAINING
    ecs.port.clear_name(NAME)
    assert ecs.port.delete_service(NAME) is False  # gone: nothing to delete


def test_clearing_a_draining_name_waits_it_out(ecs: EcsSide) -> None:
    create(ecs)
    ecs.port.delete_service(NAME)
    events: list[Event] = []
    began = ecs.clock.monotonic()
    ecs.port.clear_name(NAME, events.append)
    assert ecs.clock.monotonic() - began >= DRAIN_SECONDS
    assert ecs.statuses() == {}
    assert any(isinstance(e, Waiting) and e.state == "DRAINING" for e in events)


def test_clearing_an_active_name_deletes_it_and_waits_it_out(ecs: EcsSide) -> None:
    create(ecs)
    began = ecs.clock.monotonic()
    ecs.port.clear_name(NAME)
    assert ecs.clock.monotonic() - began >= DRAIN_SECONDS
    assert ecs.statuses() == {}


def test_clearing_a_free_name_returns_at_once(ecs: EcsSide) -> None:
    began = ecs.clock.monotonic()
    ecs.port.clear_name(NAME)
    assert ecs.clock.monotonic() == began


def test_creating_a_draining_name_is_not_idempotent_until_it_is_gone(ecs: EcsSide) -> None:
    """ECS refuses the name while it drains ("Creation of service was not idempotent."); the
    port clears it once more — waiting the drain out — and creates then: never a second
    service beside a DRAINING one."""
    create(ecs, token="job-1")
    ecs.port.delete_service(NAME)
    events: list[Event] = []
    began = ecs.clock.monotonic()
    create(ecs, token="job-2", progress=events.append)
    warnings = [e.text for e in events if isinstance(e, Warning)]
    assert len(warnings) == 1 and "not idempotent" in warnings[0], warnings
    assert ecs.clock.monotonic() - began >= DRAIN_SECONDS
    assert ecs.statuses() == {NAME: "ACTIVE"}


def test_deleting_a_prs_environments_deletes_only_that_prs(ecs: EcsSide) -> None:
    create(ecs)
    other = create(ecs, OTHER_PR, "def5678abc1234")
    assert ecs.port.delete_pr_environments(PR) == [NAME]
    assert ecs.statuses() == {NAME: "DRAINING", other.name: "ACTIVE"}
    assert ecs.port.delete_pr_environments(PR) == []


def test_a_redeploy_is_stable_again_once_it_has_rolled_out(ecs: EcsSide) -> None:
    create(ecs)
    ecs.port.wait_stable(NAME)
    arn = ecs.port.register_task_definition(PR, SHA, "FEATURE_ALERT_REPORTS=true")
    ecs.port.redeploy(NAME, arn)
    began = ecs.clock.monotonic()
    ecs.port.wait_stable(NAME)
    assert ecs.clock.monotonic() - began >= STABLE_SECONDS
    [found] = ecs.port.find_services(PR)
    assert found.task_definition == arn


def test_a_registered_revision_has_the_templates_size_and_its_own_admin_login(
    ecs: EcsSide,
) -> None:
    arn = ecs.port.register_task_definition(PR, SHA, "")
    other = ecs.port.register_task_definition(OTHER_PR, "def5678abc1234", "")
    unknown = "arn:aws:ecs:us-west-2:000000000000:task-definition/superset-ci-pr-1:9"
    template = ecs.port.template_size()
    assert template is not None
    assert ecs.port.task_sizes([arn, unknown]) == {arn: template}  # the unknown left out
    login = ecs.port.admin_login(arn)
    assert login.username == "admin" and login.generated and len(login.password) >= 20
    assert ecs.port.admin_login(other).password != login.password
