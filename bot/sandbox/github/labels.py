"""Repository label definitions: list, read, create, edit, delete."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from bot.sandbox.github.answers import (
    DOCS,
    Answer,
    ApiRequest,
    json_body,
    not_found,
    paginated,
    validation_failed,
)
from bot.sandbox.github.model import AUTO_LABEL_COLOUR, MAX_LABEL_LENGTH, Label
from bot.sandbox.github.routes import ROUTE_LABEL, ROUTE_LABELS, Route
from bot.sandbox.github.shapes import label_json

if TYPE_CHECKING:
    from bot.sandbox.github.state import GitHubState


def get_labels(state: GitHubState, request: ApiRequest) -> Answer:
    state.check_repo(request)
    return paginated(
        request, [label_json(request.api, state.repo, label) for label in state.all_labels()]
    )


def get_label(state: GitHubState, request: ApiRequest) -> Answer:
    return 200, label_json(request.api, state.repo, _defined(state, request)), {}


def create_label(state: GitHubState, request: ApiRequest) -> Answer:
    state.check_repo(request)
    doc = f"{DOCS}/issues/labels#create-a-label"
    body = json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise validation_failed(
            doc, {"resource": "Label", "code": "missing_field", "field": "name"}
        )
    _check_definition_name(name, doc)
    color = _colour(body.get("color", AUTO_LABEL_COLOUR), doc)
    if name.casefold() in state.definitions:
        raise _already_exists(doc)
    label = Label(state.new_id(), name, color, str(body.get("description") or ""))
    state.definitions[name.casefold()] = label
    return 201, label_json(request.api, state.repo, label), {}


def edit_label(state: GitHubState, request: ApiRequest) -> Answer:
    label = _defined(state, request)
    doc = f"{DOCS}/issues/labels#update-a-label"
    body = json_body(request)
    new_name = body.get("new_name") or body.get("name")
    if isinstance(new_name, str) and new_name != label.name:
        _check_definition_name(new_name, doc)
        clash = state.definitions.get(new_name.casefold())
        if clash is not None and clash is not label:
            raise _already_exists(doc)
        del state.definitions[label.name.casefold()]
        label.name = new_name
        state.definitions[new_name.casefold()] = label
    if "color" in body:
        label.color = _colour(body["color"], doc)
    if "description" in body:
        label.description = str(body["description"] or "")
    return 200, label_json(request.api, state.repo, label), {}


def delete_label(state: GitHubState, request: ApiRequest) -> Answer:
    label = _defined(state, request)
    del state.definitions[label.name.casefold()]
    for pull in state.pulls.values():  # GitHub removes a deleted label from every issue
        pull.labels = [x for x in pull.labels if x is not label]
    return 204, None, {}


def _defined(state: GitHubState, request: ApiRequest) -> Label:
    state.check_repo(request)
    label = state.definitions.get(request.params["name"].casefold())
    if label is None:
        raise not_found()
    return label


def _already_exists(doc: str) -> Exception:
    return validation_failed(doc, {"resource": "Label", "code": "already_exists", "field": "name"})


def _check_definition_name(name: str, doc: str) -> None:
    if len(name) > MAX_LABEL_LENGTH:
        raise validation_failed(
            doc,
            {
                "resource": "Label",
                "code": "custom",
                "field": "name",
                "message": "name is too long (maximum is 50 characters)",
            },
        )


def _colour(value: Any, doc: str) -> str:
    colour = str(value).removeprefix("#")
    if not re.fullmatch(r"[0-9a-fA-F]{6}", colour):
        raise validation_failed(doc, {"resource": "Label", "code": "invalid", "field": "color"})
    return colour.lower()


ROUTES = (
    Route("GET", ROUTE_LABELS, get_labels),
    Route("POST", ROUTE_LABELS, create_label),
    Route("GET", ROUTE_LABEL, get_label),
    Route("PATCH", ROUTE_LABEL, edit_label),
    Route("DELETE", ROUTE_LABEL, delete_label),
)
