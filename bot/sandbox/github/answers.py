"""A request as route handlers see it, and GitHub's ways of answering: errors and pages."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

DOCS = "https://docs.github.com/rest"

Answer = tuple[int, Any, dict[str, str]]
"""(status, JSON body or None, extra headers)."""


class Caller(enum.Enum):
    """Who a request comes from, as GitHub tells them apart by their credentials."""

    ANONYMOUS = "anonymous"
    CLASSIC_TOKEN = "classic"  # answers carry X-OAuth-Scopes
    FINE_GRAINED_TOKEN = "fine-grained"  # github_pat_…: no scopes to show
    INSTALLATION = "installation"  # a GitHub App installation token the stand-in minted
    APP = "app"  # the GitHub App itself, with its JWT


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str  # as sent, percent-encoded
    query: dict[str, str]
    params: dict[str, str]  # the route's placeholders, decoded
    body: Any
    api: str  # base URL the client used, for the URLs in answers
    caller: Caller = Caller.ANONYMOUS


class HttpError(Exception):
    """An answer other than success, raised by a route handler."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def answer(self) -> Answer:
        return self.status, self.body, self.headers


def github_error(status: int, message: str, doc: str = DOCS, **extra: Any) -> HttpError:
    """GitHub's error body: ``{"message", "documentation_url", "status"}`` (+ ``errors``)."""
    return HttpError(
        status, {"message": message, **extra, "documentation_url": doc, "status": str(status)}
    )


def not_found() -> HttpError:
    return github_error(404, "Not Found")


def validation_failed(doc: str, *errors: dict[str, Any]) -> HttpError:
    return github_error(422, "Validation Failed", doc, errors=list(errors))


def json_body(request: ApiRequest) -> dict[str, Any]:
    """The request's JSON object, or an empty one (GitHub then names the missing field)."""
    return request.body if isinstance(request.body, dict) else {}


def page_numbers(query: Mapping[str, str]) -> tuple[int, int]:
    def number(key: str, default: int) -> int:
        value = query.get(key, "")
        return int(value) if value.isdigit() else default

    return max(number("page", 1), 1), min(max(number("per_page", 30), 1), 100)


def paginated(request: ApiRequest, items: list[Any]) -> tuple[int, list[Any], dict[str, str]]:
    """One page of ``items`` with GitHub's ``Link`` header (next/last, first/prev)."""
    page, per_page = page_numbers(request.query)
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]

    def link(number: int, rel: str) -> str:
        query = {**request.query, "per_page": str(per_page), "page": str(number)}
        return f'<{request.api}{request.path}?{urlencode(query)}>; rel="{rel}"'

    links = []
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(min(page - 1, last), "prev")]
    return 200, chunk, ({"Link": ", ".join(links)} if links else {})
