"""The GitHub stand-in's HTTP side: werkzeug routing, request counts, injected faults."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from bot.sandbox.github.answers import (
    DOCS,
    Answer,
    ApiRequest,
    HttpError,
    github_error,
    not_found,
)
from bot.sandbox.github.routes import ANY_ROUTE, Handler, Route

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from bot.sandbox.github.state import GitHubState

log = logging.getLogger(__name__)

SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@dataclass
class _Fault:
    method: str
    route: str
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int


class Traffic:
    """Requests counted per (method, route template), and the faults to answer next."""

    def __init__(self) -> None:
        self._traffic_lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._counts: Counter[tuple[str, str]] = Counter()

    def fail_next(
        self,
        method: str,
        route: str,
        status: int,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests to ``route`` (a template, or ``"*"``) with ``status``.

        Without ``body``: 5xx → "Server Error", 401 → "Bad credentials", 403 → the
        secondary rate limit message (add ``headers={"Retry-After": "0"}`` for the
        header form), 404 → "Not Found".
        """
        fault = _Fault(
            method.upper(),
            route,
            status,
            _default_fault_body(status) if body is None else body,
            dict(headers or {}),
            times,
        )
        with self._traffic_lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """GitHub is well again: the faults not yet answered are dropped."""
        with self._traffic_lock:
            self._faults.clear()

    def counts(self) -> dict[tuple[str, str], int]:
        """Requests so far per (method, route template); unknown routes by raw path."""
        with self._traffic_lock:
            return dict(self._counts)

    def count(self, method: str, route: str) -> int:
        with self._traffic_lock:
            return self._counts[(method.upper(), route)]

    def total(self, method: str | None = None) -> int:
        with self._traffic_lock:
            return sum(n for (m, _), n in self._counts.items() if method in (None, m))

    def reset_counts(self) -> None:
        with self._traffic_lock:
            self._counts.clear()

    def arrived(self, method: str, template: str | None, path: str) -> Answer | None:
        """Count a request; the fault it is to be answered with, if one is due."""
        with self._traffic_lock:
            self._counts[(method, template or path)] += 1
            for fault in self._faults:
                if fault.method == method and fault.route in (template, ANY_ROUTE):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault.status, fault.body, fault.headers
        return None


class GitHubApp:
    """The WSGI application: route, count, fault, authorise, answer in JSON."""

    def __init__(self, state: GitHubState, traffic: Traffic, routes: Iterable[Route]) -> None:
        self._state = state
        self._traffic = traffic
        self._handlers: dict[tuple[str, str], Handler] = {}
        templates: dict[str, None] = {}
        for route in routes:
            self._handlers[(route.method, route.template)] = route.handler
            templates[route.template] = None
        # One rule per template, whatever the method: a known route with another method is
        # still counted under its template (and answered 404, as GitHub does).
        rules = [Rule(_rule(template), endpoint=template) for template in templates]
        self._urls = Map(rules, strict_slashes=False, merge_slashes=False).bind("github-standin")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        request = Request(environ)
        try:
            status, body, headers = self.answer(request)
        except Exception:
            # A stand-in bug must show as a failed call with a logged cause, not a hung client.
            log.exception("GitHub stand-in failed on %s %s", request.method, request.path)
            status, body, headers = 500, _default_fault_body(500), {}
        response = Response(
            b"" if body is None else json.dumps(body).encode(),
            status,
            headers={"X-GitHub-Media-Type": "github.v3; format=json", **headers},
            content_type="application/json; charset=utf-8",
        )
        return response(environ, start_response)

    def answer(self, request: Request) -> Answer:
        # Route on the path as sent: "%2F" inside a label name is not a path separator.
        target = str(request.environ.get("REQUEST_URI") or request.full_path)
        path, _, query_string = target.partition("?")
        method = request.method
        template, params = self._match(path)
        fault = self._traffic.arrived(method, template, path)
        if fault is not None:
            return fault
        try:
            caller = self._state.access.caller(method, request.headers.get("Authorization", ""))
        except HttpError as error:
            return error.answer()
        try:
            handler = self._handlers.get((method, template or ""))
            if handler is None:
                raise not_found()
            api_request = ApiRequest(
                method=method,
                path=path,
                query=dict(parse_qsl(query_string, keep_blank_values=True)),
                params=params,
                body=_json(request.get_data()),
                api=f"http://{request.headers.get('Host') or '127.0.0.1'}",
                caller=caller,
            )
            with self._state.lock:
                status, body, headers = handler(self._state, api_request)
        except HttpError as error:
            status, body, headers = error.answer()
        return status, body, {**self._state.access.headers_for(caller), **headers}

    def _match(self, path: str) -> tuple[str | None, dict[str, str]]:
        try:
            template, values = self._urls.match(path)
        except HTTPException:
            return None, {}
        return str(template), {key: unquote(value) for key, value in values.items()}


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise github_error(400, "Problems parsing JSON") from None


def _rule(template: str) -> str:
    """GitHub's ``{name}`` placeholders as werkzeug's ``<name>`` (one path segment each)."""
    return template.replace("{", "<").replace("}", ">")


def _default_fault_body(status: int) -> dict[str, Any]:
    message = {
        401: "Bad credentials",
        403: SECONDARY_RATE_LIMIT_MESSAGE,
        404: "Not Found",
        422: "Validation Failed",
    }.get(status, "Server Error" if status >= 500 else "Injected failure")
    return {"message": message, "documentation_url": DOCS, "status": str(status)}
