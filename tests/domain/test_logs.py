"""Logs: one JSON object per line on request, and tokens never written out."""

from __future__ import annotations

import json
import logging

from bot.logs import JsonFormatter, TextFormatter, redact


def record(message: str, **extra: object) -> logging.LogRecord:
    rec = logging.makeLogRecord({"msg": message, "levelname": "INFO", "name": "bot.test"})
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_lines_carry_structured_fields() -> None:
    line = JsonFormatter().format(record("job started", job="ab12cd34", pr=36121))
    payload = json.loads(line)
    assert payload["message"] == "job started"
    assert payload["job"] == "ab12cd34" and payload["pr"] == 36121
    assert payload["level"] == "INFO"


def test_tokens_are_redacted_in_both_formats() -> None:
    secret = "xoxb-1234-abcdef"
    text = TextFormatter("%(message)s").format(record(f"token {secret}", header=f"Bearer {secret}"))
    assert secret not in text and "[redacted]" in text
    assert secret not in JsonFormatter().format(record(f"token {secret}"))
    assert redact("ghp_abcdefghijklmnop and xapp-1-A0-123") == "[redacted] and [redacted]"
