"""Block Kit as Slack checks it: messages (50 blocks), Home tabs and modals (100).

Public so view code can be checked against Slack's limits without an HTTP round trip;
the problems are worded as Slack words them in ``response_metadata.messages``.
"""

from __future__ import annotations

from typing import Any

# Slack's limits (https://api.slack.com/reference/block-kit and chat.postMessage).
MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100  # a Home tab or modal view
MAX_VIEW_BYTES = 250_000  # views.publish / views.open: view_too_large beyond
MAX_PRIVATE_METADATA = 3000
MAX_TEXT_OBJECT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_ID = 255
MAX_MESSAGE_TEXT = 40000
MAX_MODAL_TEXT = 24  # a modal's title, submit and close
MAX_INPUT_LABEL = 2000

_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
_TEXT_OBJECT_TYPES = frozenset({"plain_text", "mrkdwn"})


def block_kit_problems(
    blocks: object, *, max_blocks: int = MAX_BLOCKS, pointer: str = "/blocks"
) -> list[str]:
    """What Slack would reject in ``blocks``, in Slack's own wording; empty when valid.

    Public so view code can be checked against Slack's limits without an HTTP round trip.
    A message takes 50 blocks; a Home tab view 100 (``max_blocks=MAX_VIEW_BLOCKS``).
    """
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:{pointer}]"]
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"[ERROR] no more than {max_blocks} items allowed [json-pointer:{pointer}]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        problems.extend(_block_problems(block, f"{pointer}/{index}", block_ids))
    return problems


def home_view_problems(view: object) -> list[str]:
    """What ``views.publish`` would reject in a Home tab ``view``; empty when valid."""
    return _view_problems(view, "home")


def modal_view_problems(view: object) -> list[str]:
    """What ``views.open``/``views.update`` would reject in a modal ``view``; empty when valid.

    Slack's rules: a ``plain_text`` title (and submit/close) of at most 24 characters, at
    most 100 blocks, and a ``submit`` button whenever a block is an ``input``.
    """
    problems = _view_problems(view, "modal")
    if not isinstance(view, dict):
        return problems
    for key in ("title", "submit", "close"):
        if key in view or key == "title":
            problems += _plain_text_problems(view.get(key), MAX_MODAL_TEXT, f"/view/{key}")
    blocks = view.get("blocks")
    has_input = isinstance(blocks, list) and any(
        isinstance(block, dict) and block.get("type") == "input" for block in blocks
    )
    if has_input and "submit" not in view:
        problems.append(_problem("must be provided when a block is an input", "/view/submit"))
    if "external_id" in view:
        problems += _length_problem(view["external_id"], MAX_ID, "/view/external_id")
    return problems


def _view_problems(view: object, kind: str) -> list[str]:
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    problems: list[str] = []
    if view.get("type") != kind:
        problems.append(f"[ERROR] must be one of: {kind} [json-pointer:/view/type]")
    problems += block_kit_problems(
        view.get("blocks"), max_blocks=MAX_VIEW_BLOCKS, pointer="/view/blocks"
    )
    for key, limit in (("private_metadata", MAX_PRIVATE_METADATA), ("callback_id", MAX_ID)):
        if key in view:
            problems += _length_problem(view[key], limit, f"/view/{key}")
    return problems


def _problem(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _length_problem(value: object, limit: int, pointer: str) -> list[str]:
    if not isinstance(value, str):
        return [_problem("must be a string", pointer)]
    if len(value) > limit:
        return [_problem(f"must be less than {limit + 1} characters", pointer)]
    return []


def _plain_text_problems(text: object, limit: int, pointer: str) -> list[str]:
    if not isinstance(text, dict) or text.get("type") != "plain_text":
        return [_problem("must be a plain_text object", pointer)]
    return _length_problem(text.get("text"), limit, f"{pointer}/text")


def _block_problems(block: object, where: str, block_ids: set[str]) -> list[str]:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return [_problem("must be an object with a type", where)]
    kind = block["type"]
    if kind not in _BLOCK_TYPES:
        return [_problem(f"unsupported type: {kind}", f"{where}/type")]
    problems = _text_object_problems(block, where)
    if "block_id" in block:
        problems += _length_problem(block["block_id"], MAX_ID, f"{where}/block_id")
        if block["block_id"] in block_ids:
            problems.append(_problem("duplicate block_id", f"{where}/block_id"))
        block_ids.add(str(block["block_id"]))
    if kind == "section":
        problems += _section_problems(block, where)
    elif kind == "header":
        problems += _plain_text_problems(block.get("text"), MAX_HEADER_TEXT, f"{where}/text")
    elif kind == "input":
        problems += _plain_text_problems(block.get("label"), MAX_INPUT_LABEL, f"{where}/label")
        element = block.get("element")
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            problems.append(_problem("must be an object with a type", f"{where}/element"))
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            problems.append(_problem("must provide at least one element", f"{where}/elements"))
        elif len(elements) > MAX_CONTEXT_ELEMENTS:
            problems.append(
                _problem(f"no more than {MAX_CONTEXT_ELEMENTS} items allowed", f"{where}/elements")
            )
    elif kind == "actions":
        problems += _actions_problems(block, where)
    return problems


def _section_problems(block: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    fields = block.get("fields")
    if "text" not in block and not fields:
        problems.append(_problem("must provide either text or fields", where))
    if fields is not None:
        if not isinstance(fields, list) or len(fields) > MAX_FIELDS:
            problems.append(
                _problem(f"must be an array of at most {MAX_FIELDS} items", f"{where}/fields")
            )
        else:
            for i, item in enumerate(fields):
                text = item.get("text") if isinstance(item, dict) else None
                problems += _length_problem(text, MAX_FIELD_TEXT, f"{where}/fields/{i}/text")
    accessory = block.get("accessory")
    if isinstance(accessory, dict) and accessory.get("type") == "button":
        problems += _button_problems(accessory, f"{where}/accessory")
    return problems


def _actions_problems(block: dict[str, Any], where: str) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [_problem("must provide at least one element", f"{where}/elements")]
    problems: list[str] = []
    if len(elements) > MAX_ACTIONS_ELEMENTS:
        problems.append(
            _problem(f"no more than {MAX_ACTIONS_ELEMENTS} items allowed", f"{where}/elements")
        )
    action_ids: set[str] = set()
    for i, element in enumerate(elements):
        pointer = f"{where}/elements/{i}"
        if not isinstance(element, dict):
            problems.append(_problem("must be an object", pointer))
            continue
        if element.get("type") == "button":
            problems += _button_problems(element, pointer)
        action_id = element.get("action_id")
        if action_id is not None:
            if action_id in action_ids:
                problems.append(_problem("duplicate action_id", f"{pointer}/action_id"))
            action_ids.add(str(action_id))
    return problems


def _button_problems(button: dict[str, Any], where: str) -> list[str]:
    problems = _plain_text_problems(button.get("text"), MAX_BUTTON_TEXT, f"{where}/text")
    for key, limit in (("action_id", MAX_ID), ("value", MAX_BUTTON_VALUE), ("url", MAX_URL)):
        if key in button:
            problems += _length_problem(button[key], limit, f"{where}/{key}")
    if "style" in button and button["style"] not in ("primary", "danger"):
        problems.append(_problem("must be one of: primary, danger", f"{where}/style"))
    return problems


def _text_object_problems(node: object, where: str) -> list[str]:
    """Every text object anywhere in a block: 1 to 3000 characters (Slack's general limit)."""
    problems: list[str] = []
    if isinstance(node, dict):
        if node.get("type") in _TEXT_OBJECT_TYPES:
            text = node.get("text")
            if not isinstance(text, str):
                problems.append(_problem("must be a string", f"{where}/text"))
            elif not text:
                problems.append(_problem("must be more than 0 characters", f"{where}/text"))
            else:
                problems += _length_problem(text, MAX_TEXT_OBJECT, f"{where}/text")
        for key, value in node.items():
            if isinstance(value, dict | list):
                problems += _text_object_problems(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            problems += _text_object_problems(item, f"{where}/{i}")
    return problems
