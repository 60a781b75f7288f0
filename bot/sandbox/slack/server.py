"""The Slack stand-in's HTTP side: the Web API under ``/api/``, response URLs under
``/response/``, routed by werkzeug.

Before any method runs: injected rate limits (429 with ``Retry-After``) and failures, then
the token. JSON bodies must carry it in the ``Authorization`` header; form bodies may carry
it as a ``token`` field — except the app-level token (``xapp-…``), which Slack takes from
the header only and for ``apps.connections.open`` only. Every other method takes only the
bot token: the other known token is ``not_allowed_token_type``, anything else
``invalid_auth``, none ``not_authed``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from bot.sandbox.slack import response_urls, views, web_api
from bot.sandbox.slack.model import ApiError, SlackChange
from bot.sandbox.slack.workspace import Workspace

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

METHODS: dict[str, web_api.Method] = {**web_api.METHODS, **views.METHODS}
# Web API methods that take the app-level token (and no other).
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
_JSON = "application/json; charset=utf-8"


class SlackApp:
    """The WSGI application in front of one workspace."""

    def __init__(self, ws: Workspace, base_url: Callable[[], str]) -> None:
        self._ws = ws
        self._base_url = base_url
        rules = [
            Rule("/api/<path:method>", endpoint="api"),
            Rule("/response/<token>", endpoint="response", methods=["POST"]),
        ]
        self._urls = Map(rules, strict_slashes=False).bind("slack-standin")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except Exception:
            # A stand-in bug must show as a failed call with a logged cause, not a hung client.
            logger.exception("Slack stand-in failed on %s %s", request.method, request.path)
            response = _json_response(500, {"ok": False, "error": "internal_error"})
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        try:
            endpoint, values = self._urls.match(request.path, method=request.method)
        except HTTPException:
            return _json_response(404, {"ok": False, "error": "unknown_method"})
        content_type = request.headers.get("Content-Type", "")
        if endpoint == "response":
            return self._response_url(values["token"], content_type, request.get_data())
        params: dict[str, Any] = dict(parse_qsl(request.query_string.decode(), True))
        try:
            params.update(_parse_body(content_type, request.get_data()))
        except ValueError:
            return _json_response(200, {"ok": False, "error": "invalid_json"})
        authorization = request.headers.get("Authorization", "")
        bearer = authorization[7:].strip() if authorization.startswith("Bearer ") else None
        status, answer, headers = self.call(str(values["method"]).strip("/"), params, bearer)
        return _json_response(status, answer, headers)

    def call(
        self, method: str, params: dict[str, Any], bearer: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """One Web API call: (HTTP status, Slack's answer, extra headers)."""
        ws = self._ws
        changes: list[SlackChange] = []
        with ws.lock:
            ws.calls[method] += 1
            answer = self._answer(method, params, bearer, changes)
        ws.publish(changes)
        return answer

    def _answer(
        self, method: str, params: dict[str, Any], bearer: str | None, changes: list[SlackChange]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        ws = self._ws
        limit = ws.rate_limits.get(method)
        if limit is not None and limit[0] > 0:
            limit[0] -= 1
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(limit[1])}
        failures = ws.failures.get(method)
        if failures:
            error, status = failures.pop(0)
            return status, {"ok": False, "error": error}, {}
        app_method = method in _APP_TOKEN_METHODS
        token = bearer if app_method else bearer or params.get("token")
        expected = ws.app_token if app_method else ws.bot_token
        handler = METHODS.get(method)
        try:
            if not token:
                raise ApiError("not_authed")
            if token != expected:
                known = token in (ws.app_token, ws.bot_token)
                raise ApiError("not_allowed_token_type" if known else "invalid_auth")
            if handler is None:
                raise ApiError("unknown_method")
            return 200, handler(ws, params, changes), {}
        except ApiError as failure:
            logger.debug("Slack stand-in %s -> %s", method, failure.code)
            body: dict[str, Any] = {"ok": False, "error": failure.code}
            if failure.messages:
                body["response_metadata"] = {"messages": failure.messages}
            return 200, body, {}

    def _response_url(self, token: str, content_type: str, body: bytes) -> Response:
        try:
            payload: object = _parse_body(content_type, body)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("payload"), str):
            try:
                payload = json.loads(payload["payload"])
            except json.JSONDecodeError:
                payload = None
        url = f"{self._base_url()}/response/{token}"
        status, text = response_urls.serve(self._ws, url, token, payload)
        return Response(text, status, content_type="text/plain; charset=utf-8")


def _json_response(
    status: int, answer: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    return Response(json.dumps(answer), status, headers=dict(headers or {}), content_type=_JSON)


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """Slack accepts JSON, form-encoded and multipart bodies; so does the stand-in."""
    if not body:
        return {}
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json":
        parsed = json.loads(body)
        if not isinstance(parsed, dict):
            raise ValueError("a JSON body must be an object")
        return parsed
    if media_type == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                payload = part.get_payload(decode=True)
                fields[name] = payload.decode() if isinstance(payload, bytes) else ""
        return fields
    return dict(parse_qsl(body.decode(), keep_blank_values=True))
