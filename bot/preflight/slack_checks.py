"""Slack: the bot token (``auth.test``) and, in Socket Mode, the app-level token
(``apps.connections.open``, which only hands out a URL: no connection is made)."""

from __future__ import annotations

from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings
from bot.preflight.check import Check, failed, passed

TIMEOUT_SECONDS = 10

# What to do about the errors auth.test and apps.connections.open answer most.
_BOT_TOKEN_FIXES = {
    "invalid_auth": "copy the Bot User OAuth Token (xoxb-…) from the Slack app's "
    "OAuth & Permissions page into SLACK_BOT_TOKEN",
    "not_authed": "set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…)",
    "account_inactive": "the app was uninstalled or its workspace deleted: reinstall the app "
    "and copy its new Bot User OAuth Token into SLACK_BOT_TOKEN",
    "token_revoked": "the token was revoked: reinstall the app and copy its new Bot User "
    "OAuth Token into SLACK_BOT_TOKEN",
}
_APP_TOKEN_FIX = (
    "create an app-level token with the connections:write scope (Basic Information → "
    "App-Level Tokens) and put it (xapp-…) in SLACK_APP_TOKEN"
)


def checks(settings: Settings) -> list[Check]:
    bot_token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    client = WebClient(token=bot_token, base_url=settings.slack_api_url, timeout=TIMEOUT_SECONDS)
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error") or exc.response.status_code)
        fix = _BOT_TOKEN_FIXES.get(error, "check SLACK_BOT_TOKEN and SLACK_API_URL")
        return [failed(f"Slack: auth.test refused SLACK_BOT_TOKEN ({error})", fix)]
    except (SlackClientError, OSError) as exc:
        return [_unreachable(settings, exc)]
    found = [passed(f"Slack: the bot token works — @{auth.get('user')} in {auth.get('team')}")]
    if settings.socket_mode:
        found.append(_socket_mode(settings))
    return found


def _socket_mode(settings: Settings) -> Check:
    assert settings.slack_app_token is not None
    client = WebClient(base_url=settings.slack_api_url, timeout=TIMEOUT_SECONDS)
    try:
        client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
    except SlackApiError as exc:
        error = str(exc.response.get("error") or exc.response.status_code)
        return failed(
            f"Slack: apps.connections.open refused SLACK_APP_TOKEN ({error})", _APP_TOKEN_FIX
        )
    except (SlackClientError, OSError) as exc:
        return _unreachable(settings, exc)
    return passed("Slack: Socket Mode — SLACK_APP_TOKEN may open a connection")


def _unreachable(settings: Settings, exc: Exception) -> Check:
    host = urlsplit(settings.slack_api_url).netloc
    return failed(
        f"Slack: could not reach {host} ({type(exc).__name__})",
        "check SLACK_API_URL and this machine's network",
    )
