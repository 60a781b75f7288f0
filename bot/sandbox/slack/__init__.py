"""A local, stateful stand-in for the Slack Web API.

``slack_sdk.WebClient(token=..., base_url=standin.api_url)`` talks to it unchanged, so the bot,
its tests and ``showtime-bot sandbox`` run the real Slack code path with no Slack account.
It keeps what a person would see in Slack (channel messages, threads, edits, ephemerals,
``response_url`` answers, direct messages, the Home tab, modals) and rejects what Slack
rejects, because the point of a stand-in is to fail where production would: a 51st block,
an over-long section, a post to a channel the bot was never invited to, a modal opened with
a trigger that expired.

Faithful details worth knowing when reading test failures:

- A private channel or DM the bot is not in does not exist for the bot: posting there, or
  asking ``conversations.info`` about it, answers ``channel_not_found`` (as Slack does);
  a public channel it is not in answers ``not_in_channel``.
- ``chat.postMessage`` to a user ID posts in the app's DM with them (``D…``, the same one
  ``conversations.open`` answers); an unknown user is ``channel_not_found``.
- ``chat.update`` without ``blocks`` keeps the message's previous blocks (Slack's documented
  behaviour); send ``blocks=[]`` to remove them.
- A ``thread_ts`` that matches no message posts to the channel instead of a thread, as
  Slack does: a misplaced reply shows up where a person would notice it.
- A ``response_url`` takes at most five posts within 30 minutes (by the injected clock).
- Views: see ``views`` (Home tab publishing, modals and their trigger ids).
- ``apps.connections.open`` takes only the app-level token (``xapp-…``), in the
  Authorization header, and answers a one-time websocket URL of the Socket Mode stand-in
  (``bot.sandbox.socket_mode``) once one serves this workspace; every other method takes
  only the bot token (``not_allowed_token_type`` otherwise, as Slack answers).

Modules: ``workspace`` (the state), ``web_api`` and ``views`` (the methods),
``response_urls``, ``blockkit`` (Slack's limits), ``server`` (HTTP), ``standin`` (the
public face: lifecycle, faults, inspection).
"""

from bot.sandbox.slack.blockkit import (
    MAX_ACTIONS_ELEMENTS,
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_BUTTON_VALUE,
    MAX_CONTEXT_ELEMENTS,
    MAX_FIELD_TEXT,
    MAX_FIELDS,
    MAX_HEADER_TEXT,
    MAX_ID,
    MAX_INPUT_LABEL,
    MAX_MESSAGE_TEXT,
    MAX_MODAL_TEXT,
    MAX_PRIVATE_METADATA,
    MAX_TEXT_OBJECT,
    MAX_URL,
    MAX_VIEW_BLOCKS,
    MAX_VIEW_BYTES,
    block_kit_problems,
    home_view_problems,
    modal_view_problems,
)
from bot.sandbox.slack.model import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    BOT_USER_NAME,
    DEFAULT_APP_TOKEN,
    DEFAULT_BOT_TOKEN,
    DEFAULT_CHANNEL,
    DEFAULT_CHANNEL_NAME,
    MAINTAINER_USER_ID,
    MAINTAINER_USER_NAME,
    MAINTAINERS_USERGROUP,
    PRIVATE_CHANNEL,
    PRIVATE_CHANNEL_NAME,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    SlackChange,
    im_channel_id,
)
from bot.sandbox.slack.response_urls import (
    RESPONSE_URL_LIFETIME_SECONDS,
    RESPONSE_URL_USES,
)
from bot.sandbox.slack.standin import SlackStandIn
from bot.sandbox.slack.views import TRIGGER_SECONDS

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "BOT_USER_NAME",
    "DEFAULT_APP_TOKEN",
    "DEFAULT_BOT_TOKEN",
    "DEFAULT_CHANNEL",
    "DEFAULT_CHANNEL_NAME",
    "MAINTAINERS_USERGROUP",
    "MAINTAINER_USER_ID",
    "MAINTAINER_USER_NAME",
    "MAX_ACTIONS_ELEMENTS",
    "MAX_BLOCKS",
    "MAX_BUTTON_TEXT",
    "MAX_BUTTON_VALUE",
    "MAX_CONTEXT_ELEMENTS",
    "MAX_FIELDS",
    "MAX_FIELD_TEXT",
    "MAX_HEADER_TEXT",
    "MAX_ID",
    "MAX_INPUT_LABEL",
    "MAX_MESSAGE_TEXT",
    "MAX_MODAL_TEXT",
    "MAX_PRIVATE_METADATA",
    "MAX_TEXT_OBJECT",
    "MAX_URL",
    "MAX_VIEW_BLOCKS",
    "MAX_VIEW_BYTES",
    "PRIVATE_CHANNEL",
    "PRIVATE_CHANNEL_NAME",
    "RESPONSE_URL_LIFETIME_SECONDS",
    "RESPONSE_URL_USES",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "TEAM_NAME",
    "TRIGGER_SECONDS",
    "SlackChange",
    "SlackStandIn",
    "block_kit_problems",
    "home_view_problems",
    "im_channel_id",
    "modal_view_problems",
]
