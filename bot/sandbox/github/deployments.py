"""Deployments and their statuses, as the PR page's "View deployment" reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.sandbox.github.answers import (
    DOCS,
    Answer,
    ApiRequest,
    github_error,
    json_body,
    not_found,
    paginated,
    validation_failed,
)
from bot.sandbox.github.model import DEPLOYMENT_STATES, Deployment
from bot.sandbox.github.routes import (
    ROUTE_DEPLOYMENT,
    ROUTE_DEPLOYMENT_STATUSES,
    ROUTE_DEPLOYMENTS,
    Route,
)
from bot.sandbox.github.shapes import deployment_json, deployment_url

if TYPE_CHECKING:
    from bot.sandbox.github.state import GitHubState


def create_deployment(state: GitHubState, request: ApiRequest) -> Answer:
    state.check_repo(request)
    doc = f"{DOCS}/deployments/deployments#create-a-deployment"
    body = json_body(request)
    ref = str(body.get("ref") or "")
    commit = next(
        (sha for pull in state.pulls.values() for sha in pull.commits if sha.startswith(ref)),
        None,
    )
    if not ref or commit is None:
        raise validation_failed(doc, {"resource": "Deployment", "field": "ref", "code": "invalid"})
    if body.get("required_contexts") != []:
        # Without an empty list GitHub waits for the commit's checks (409 when pending).
        raise github_error(409, "Conflict: Commit status checks failed for " + ref, doc)
    deployment = Deployment(
        id=state.new_id(),
        sha=commit,
        environment=str(body.get("environment") or "production"),
        description=str(body.get("description") or ""),
        payload=dict(body.get("payload") or {}),
        transient=bool(body.get("transient_environment", False)),
        production=bool(
            body.get("production_environment", body.get("environment") in (None, "production"))
        ),
        created_at=state.now(),
    )
    state.deployment_records[deployment.id] = deployment
    return 201, deployment_json(request.api, state.repo, deployment, state.bot_login), {}


def list_deployments(state: GitHubState, request: ApiRequest) -> Answer:
    state.check_repo(request)
    wanted = request.query.get("environment")
    sha = request.query.get("sha")
    found = [
        deployment_json(request.api, state.repo, d, state.bot_login)
        for d in sorted(state.deployment_records.values(), key=lambda d: -d.id)
        if wanted in (None, d.environment) and sha in (None, d.sha)
    ]
    return paginated(request, found)


def get_deployment(state: GitHubState, request: ApiRequest) -> Answer:
    deployment = _deployment_of(state, request)
    return 200, deployment_json(request.api, state.repo, deployment, state.bot_login), {}


def create_deployment_status(state: GitHubState, request: ApiRequest) -> Answer:
    deployment = _deployment_of(state, request)
    doc = f"{DOCS}/deployments/statuses#create-a-deployment-status"
    body = json_body(request)
    state_name = body.get("state")
    if state_name not in DEPLOYMENT_STATES:
        raise validation_failed(
            doc, {"resource": "DeploymentStatus", "field": "state", "code": "invalid"}
        )
    # GitHub reads target_url as log_url (and the other way round).
    log_url = body.get("log_url") or body.get("target_url") or ""
    status = {
        "id": state.new_id(),
        "state": state_name,
        "description": str(body.get("description") or "")[:140],
        "environment": deployment.environment,
        "log_url": log_url,
        "target_url": log_url,
        "environment_url": body.get("environment_url") or "",
        "created_at": state.now(),
    }
    deployment.statuses.append(status)
    url = deployment_url(request.api, state.repo, deployment)
    return 201, {**status, "deployment_url": url}, {}


def list_deployment_statuses(state: GitHubState, request: ApiRequest) -> Answer:
    deployment = _deployment_of(state, request)
    return paginated(request, list(reversed(deployment.statuses)))


def _deployment_of(state: GitHubState, request: ApiRequest) -> Deployment:
    state.check_repo(request)
    try:
        return state.deployment_records[int(request.params["deployment_id"])]
    except (KeyError, ValueError):
        raise not_found() from None


ROUTES = (
    Route("POST", ROUTE_DEPLOYMENTS, create_deployment),
    Route("GET", ROUTE_DEPLOYMENTS, list_deployments),
    Route("GET", ROUTE_DEPLOYMENT, get_deployment),
    Route("POST", ROUTE_DEPLOYMENT_STATUSES, create_deployment_status),
    Route("GET", ROUTE_DEPLOYMENT_STATUSES, list_deployment_statuses),
)
