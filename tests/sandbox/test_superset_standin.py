"""The sandbox's Superset: one per environment, on its task's own loopback address, logging
in with that task definition's ``ADMIN_PASSWORD``; per-PR faults (SPEC §15).

The ECS engine deploys into moto made to behave like ECS (in process, FakeClock), the
smoke check asks the environment over real loopback HTTP.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from ecs_support import cli_revision, create, ecs_on_moto, settings_on

from bot.adapters.ecs import EcsEngine, make_clients
from bot.adapters.smoke import HttpSmokeCheck
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain.naming import service_name
from bot.domain.requester import Requester
from bot.domain.smoke import Check, SmokeReport
from bot.sandbox.aws import EcsStandIn, TaskChange, loopback_addresses_from
from bot.sandbox.superset import SupersetFleet, SupersetStandIn

SHA = "abc1234def5678"
EVERYTHING = (Check.LOGIN, Check.EXAMPLES, Check.SQLLAB, Check.CHART)


@dataclass
class Cloud:
    engine: EcsEngine
    standin: EcsStandIn
    fleet: SupersetFleet
    clock: FakeClock
    settings: Settings

    def deploy(self, pr: int, sha: str = SHA) -> tuple[str, str]:
        """Register, create, wait until stable: (task definition ARN, the task's address)."""
        arn = create(self.engine, pr, sha).task_definition
        assert arn is not None
        name = service_name(pr, sha)
        self.engine.wait_stable(name)
        return arn, self.engine.address(name)

    def smoke(self, address: str, arn: str, timeout: float = 0.5) -> SmokeReport:
        settings = self.settings.model_copy(update={"showtime_smoke_timeout_seconds": timeout})
        login = self.engine.admin_login(arn)
        return HttpSmokeCheck(settings, self.clock).wait_usable(
            f"http://{address}:{self.fleet.port}", login, EVERYTHING, examples=login.examples
        )


@pytest.fixture
def cloud(aws_env: None) -> Iterator[Cloud]:
    clock = FakeClock()
    fleet = SupersetFleet()
    with ecs_on_moto(
        clock, drain_seconds=60, stable_seconds=10, loopback_addresses=True, seed=5
    ) as (standin, network):
        standin.on_task(fleet.task_changed)
        settings = settings_on(network, showtime_env_port=fleet.port)
        ecs, ec2 = make_clients(settings, max_attempts=0)
        engine = EcsEngine(settings, ecs_client=ecs, ec2_client=ec2, clock=clock)
        try:
            yield Cloud(engine, standin, fleet, clock, settings)
        finally:
            fleet.stop()


def refused(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.URLError:
        return True
    return False


def test_each_environment_is_its_own_superset_with_its_own_password(cloud: Cloud) -> None:
    first_arn, first = cloud.deploy(36121)
    second_arn, second = cloud.deploy(36122)

    assert first.startswith("127.") and second.startswith("127.") and first != second
    assert first != "127.0.0.1"
    serving = cloud.fleet.serving()
    assert (serving[first].pr, serving[first].sha) == (36121, "abc1234")
    assert serving[second].task_definition_arn == second_arn
    assert cloud.smoke(first, first_arn).ready
    assert cloud.smoke(second, second_arn).ready
    # One environment's password does not open another.
    other = cloud.engine.admin_login(first_arn).password
    answer = requests.post(
        f"http://{second}:{cloud.fleet.port}/api/v1/security/login",
        json={"username": "admin", "password": other, "provider": "db"},
        timeout=5,
    )
    assert answer.status_code == 401


def test_its_superset_goes_when_its_task_stops_and_a_redeploy_moves_to_a_new_address(
    cloud: Cloud,
) -> None:
    arn, address = cloud.deploy(36121)
    name = service_name(36121, SHA)

    newer = cloud.engine.register_task_definition(36121, SHA, "")
    cloud.engine.redeploy(name, newer)
    cloud.engine.wait_stable(name)
    moved = cloud.engine.address(name)

    assert moved != address
    assert refused(f"http://{address}:{cloud.fleet.port}/health")  # the old task stopped
    assert cloud.smoke(moved, newer).ready
    assert not cloud.smoke(moved, arn).login_ok  # the old revision's password is not this one's

    cloud.engine.delete_service(name)
    assert refused(f"http://{moved}:{cloud.fleet.port}/health")
    assert cloud.fleet.serving() == {}


def test_broken_parts_are_per_pr_until_fixed(cloud: Cloud) -> None:
    arn, address = cloud.deploy(36121)
    other_arn, other = cloud.deploy(36122)

    cloud.fleet.break_check(36121, Check.SQLLAB)
    broken = cloud.smoke(address, arn)
    assert broken.problem() == "SQL Lab failed: HTTP 500 from /api/v1/sqllab/execute/"
    assert cloud.smoke(other, other_arn).ready

    cloud.fleet.fix(36121)
    assert cloud.smoke(address, arn).ready


@pytest.mark.parametrize(
    ("check", "problem"),
    [
        (Check.LOGIN, "Login failed: HTTP 401 from /api/v1/security/login"),
        (Check.EXAMPLES, "Examples failed: no examples database yet"),
        (Check.CHART, "Chart data failed: HTTP 500 from /api/v1/chart/41/data/"),
    ],
)
def test_each_part_can_be_broken(cloud: Cloud, check: Check, problem: str) -> None:
    arn, address = cloud.deploy(36121)
    cloud.fleet.break_check(36121, check)

    assert cloud.smoke(address, arn).problem() == problem


def test_a_crash_looping_task_answers_503_and_the_fleet_flag_still_works(cloud: Cloud) -> None:
    image = cloud.engine.image(36122, SHA)
    cloud.standin.crash_loop(image)
    _, looping = cloud.deploy(36122)
    _, fine = cloud.deploy(36121)

    assert urllib.request.urlopen(f"http://{fine}:{cloud.fleet.port}/health").status == 200
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://{looping}:{cloud.fleet.port}/health")
    assert caught.value.code == 503

    cloud.fleet.healthy = False  # the console's crash-loop knob: every environment
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://{fine}:{cloud.fleet.port}/health")


def test_a_task_definition_without_admin_password_logs_in_as_admin_admin(cloud: Cloud) -> None:
    arn, address = cloud.deploy(36121)
    change = cloud.fleet.serving()[address]
    cloud.fleet.serve(
        TaskChange(
            running=True,
            task_arn=change.task_arn,
            address=address,
            pr=36121,
            sha="abc1234",
            task_definition_arn=arn,
            environment={"SUPERSET_LOAD_EXAMPLES": "yes"},
        )
    )

    answer = requests.post(
        f"http://{address}:{cloud.fleet.port}/api/v1/security/login",
        json={"username": "admin", "password": "admin", "provider": "db"},
        timeout=5,
    )
    assert answer.status_code == 200 and answer.json()["access_token"]


def test_the_cli_made_environment_gets_a_superset_too(cloud: Cloud) -> None:
    """Tasks of services made outside the bot (the CLI) get an address and a Superset."""
    arn = cli_revision()
    create(cloud.engine, 36123, SHA, arn=arn, requested_by=Requester.github("someone"))
    cloud.engine.wait_stable(service_name(36123, SHA))
    address = cloud.engine.address(service_name(36123, SHA))

    login = cloud.engine.admin_login(arn)
    assert (login.password, login.generated, login.examples) == ("admin", False, False)
    report = cloud.smoke(address, arn)
    assert report.ready and "no examples loaded" in report.summary()


# ----- the stand-in on its own: what Superset asks of a client ----------------------------


@pytest.fixture
def superset() -> Iterator[SupersetStandIn]:
    server = SupersetStandIn(password="pw-for-this-test").start()
    yield server
    server.stop()


def test_sql_lab_wants_the_csrf_token_and_its_session_cookie(superset: SupersetStandIn) -> None:
    token = requests.post(
        f"{superset.url}/api/v1/security/login",
        json={"username": "admin", "password": "pw-for-this-test", "provider": "db"},
        timeout=5,
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    query = {"database_id": 1, "sql": "SELECT 1", "runAsync": False}
    execute = f"{superset.url}/api/v1/sqllab/execute/"

    without = requests.post(execute, json=query, headers=bearer, timeout=5)
    csrf = requests.get(f"{superset.url}/api/v1/security/csrf_token/", headers=bearer, timeout=5)
    no_cookie = requests.post(
        execute, json=query, headers={**bearer, "X-CSRFToken": csrf.json()["result"]}, timeout=5
    )
    with_both = requests.post(
        execute,
        json=query,
        headers={**bearer, "X-CSRFToken": csrf.json()["result"]},
        cookies=csrf.cookies,
        timeout=5,
    )

    assert without.status_code == 400 and no_cookie.status_code == 400
    assert with_both.status_code == 200 and with_both.json()["data"] == [{"1": 1}]


def test_the_api_wants_a_token(superset: SupersetStandIn) -> None:
    answer = requests.get(f"{superset.url}/api/v1/dashboard/", timeout=5)

    assert answer.status_code == 401


def test_lists_say_their_count_and_honour_the_page_size(superset: SupersetStandIn) -> None:
    token = requests.post(
        f"{superset.url}/api/v1/security/login",
        json={"username": "admin", "password": "pw-for-this-test", "provider": "db"},
        timeout=5,
    ).json()["access_token"]

    answer = requests.get(
        f"{superset.url}/api/v1/dashboard/",
        params={"q": "(columns:!(id),page_size:1)"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()

    assert answer["count"] == 5 and len(answer["result"]) == 1
    assert json.dumps(answer)  # plain JSON


def test_loopback_addresses_skip_network_and_broadcast_octets() -> None:
    addresses = loopback_addresses_from(254)

    assert [next(addresses) for _ in range(3)] == ["127.0.0.254", "127.0.1.1", "127.0.1.2"]
